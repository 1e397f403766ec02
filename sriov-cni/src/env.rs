//! The `CNI_*` environment, checked as the specification asks: every missing or unusable
//! variable is named (code 4).

use std::collections::BTreeMap;

use crate::error::{CniError, Result, code};

/// A CNI command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Attach.
    Add,
    /// Detach.
    Del,
    /// Verify an attachment.
    Check,
    /// Remove resources of attachments that no longer exist.
    Gc,
    /// Report readiness.
    Status,
    /// Report supported versions.
    Version,
}

impl Command {
    /// As `CNI_COMMAND` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Add => "ADD",
            Self::Del => "DEL",
            Self::Check => "CHECK",
            Self::Gc => "GC",
            Self::Status => "STATUS",
            Self::Version => "VERSION",
        }
    }
}

/// The checked environment of one invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Env {
    /// `CNI_COMMAND`.
    pub command: Command,
    /// `CNI_CONTAINERID` (empty for GC, STATUS, VERSION).
    pub container_id: String,
    /// `CNI_NETNS` (may be empty for DEL).
    pub netns: String,
    /// `CNI_IFNAME`.
    pub ifname: String,
    /// `CNI_ARGS`, parsed.
    pub args: Vec<(String, String)>,
    /// `CNI_PATH`, split.
    pub path: Vec<String>,
    /// Every variable the delegated plugins should see.
    pub vars: BTreeMap<String, String>,
}

/// Whether `id` is a valid container ID or network name (`^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$`).
pub fn valid_id(id: &str) -> bool {
    let mut chars = id.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// Why `name` cannot be an interface name, if it cannot.
pub fn ifname_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("is empty")
    } else if name.len() > 15 {
        Some("is longer than 15 bytes")
    } else if name == "." || name == ".." {
        Some("is . or ..")
    } else if name
        .chars()
        .any(|c| c == '/' || c == ':' || c.is_whitespace())
    {
        Some("contains '/', ':' or whitespace")
    } else {
        None
    }
}

impl Env {
    /// Reads and checks the environment from `vars` (the process environment in `main`).
    pub fn from_vars(vars: BTreeMap<String, String>) -> Result<Self> {
        let get = |k: &str| vars.get(k).cloned().unwrap_or_default();
        let command = match get("CNI_COMMAND").as_str() {
            "ADD" => Command::Add,
            "DEL" => Command::Del,
            "CHECK" => Command::Check,
            "GC" => Command::Gc,
            "STATUS" => Command::Status,
            "VERSION" => Command::Version,
            "" => {
                return Err(CniError::new(
                    code::INVALID_ENVIRONMENT,
                    "required env variables [CNI_COMMAND] missing",
                ));
            }
            other => {
                return Err(CniError::new(
                    code::INVALID_ENVIRONMENT,
                    format!("unknown CNI_COMMAND: {other}"),
                ));
            }
        };
        let required: &[&str] = match command {
            Command::Add | Command::Check => &["CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME"],
            Command::Del => &["CNI_CONTAINERID", "CNI_IFNAME"],
            Command::Gc => &["CNI_PATH"],
            Command::Status | Command::Version => &[],
        };
        let missing: Vec<&str> = required
            .iter()
            .copied()
            .filter(|k| get(k).is_empty())
            .collect();
        if !missing.is_empty() {
            return Err(CniError::new(
                code::INVALID_ENVIRONMENT,
                format!("required env variables [{}] missing", missing.join(",")),
            ));
        }
        let container_id = get("CNI_CONTAINERID");
        if !container_id.is_empty() && !valid_id(&container_id) {
            return Err(CniError::new(
                code::INVALID_ENVIRONMENT,
                format!(
                    "CNI_CONTAINERID {container_id:?} is invalid: it must match ^[a-zA-Z0-9][a-zA-Z0-9_.-]*$"
                ),
            ));
        }
        let ifname = get("CNI_IFNAME");
        if matches!(command, Command::Add | Command::Del | Command::Check)
            && let Some(problem) = ifname_problem(&ifname)
        {
            return Err(CniError::new(
                code::INVALID_ENVIRONMENT,
                format!("CNI_IFNAME {ifname:?} {problem}"),
            ));
        }
        let args = parse_args(&get("CNI_ARGS"))?;
        let path = get("CNI_PATH")
            .split(':')
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect();
        Ok(Self {
            command,
            container_id,
            netns: get("CNI_NETNS"),
            ifname,
            args,
            path,
            vars,
        })
    }
}

/// `CNI_ARGS`: `K=V;K2=V2`.
fn parse_args(text: &str) -> Result<Vec<(String, String)>> {
    text.split(';')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            pair.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .ok_or_else(|| {
                    CniError::new(
                        code::INVALID_ENVIRONMENT,
                        format!("CNI_ARGS: {pair:?} is not KEY=VALUE"),
                    )
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn missing_variables_are_named_together() {
        let err =
            Env::from_vars(vars(&[("CNI_COMMAND", "ADD"), ("CNI_IFNAME", "net1")])).unwrap_err();
        assert_eq!(err.code, 4);
        assert_eq!(
            err.msg,
            "required env variables [CNI_CONTAINERID,CNI_NETNS] missing"
        );
        // DEL does not need a netns.
        let env = Env::from_vars(vars(&[
            ("CNI_COMMAND", "DEL"),
            ("CNI_CONTAINERID", "c1"),
            ("CNI_IFNAME", "net1"),
            ("CNI_ARGS", "IgnoreUnknown=1;MAC=02:00:00:00:00:01"),
            ("CNI_PATH", "/opt/cni/bin:/usr/lib/cni"),
        ]))
        .unwrap();
        assert_eq!(env.path, ["/opt/cni/bin", "/usr/lib/cni"]);
        assert_eq!(
            env.args[1],
            ("MAC".to_owned(), "02:00:00:00:00:01".to_owned())
        );
    }

    #[test]
    fn container_ids_and_interface_names_are_checked() {
        for (id, ifname, expected) in [
            ("-bad", "net1", "CNI_CONTAINERID \"-bad\" is invalid"),
            ("ok", "a/b", "CNI_IFNAME \"a/b\" contains"),
            ("ok", "averyveryverylongname", "is longer than 15 bytes"),
            ("ok", "..", "is . or .."),
        ] {
            let err = Env::from_vars(vars(&[
                ("CNI_COMMAND", "ADD"),
                ("CNI_CONTAINERID", id),
                ("CNI_NETNS", "/run/netns/x"),
                ("CNI_IFNAME", ifname),
            ]))
            .unwrap_err();
            assert_eq!(err.code, 4);
            assert!(err.msg.contains(expected), "{}", err.msg);
        }
        let err = Env::from_vars(vars(&[("CNI_COMMAND", "FOO")])).unwrap_err();
        assert_eq!(
            (err.code, err.msg.as_str()),
            (4, "unknown CNI_COMMAND: FOO")
        );
    }
}
