//! Delegating IP address management to the plugin named by `ipam.type`: found through
//! `CNI_PATH`, run with this invocation's environment (and the command it must carry out)
//! and the **full** configuration on stdin; its stderr passes through.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::env::Env;
use crate::error::{CniError, Result, code};
use crate::result::Success;

/// Finds `plugin` in the `CNI_PATH` directories.
pub fn find(plugin: &str, path: &[String]) -> Result<PathBuf> {
    if plugin.contains('/') || plugin.is_empty() {
        return Err(CniError::config(format!(
            "ipam.type {plugin:?} is not a plugin name"
        )));
    }
    path.iter()
        .map(|dir| Path::new(dir).join(plugin))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            CniError::config(format!(
                "failed to find IPAM plugin {plugin:?} in CNI_PATH {path:?}"
            ))
        })
}

/// IPAM plugins that only hand out addresses and never look at the interface or the pod's
/// namespace, so they can run while the netdev is still on its way into the pod. `dhcp`
/// (which runs DHCP on the interface) and any plugin not listed here run after the move,
/// as upstream runs every IPAM plugin.
pub fn independent_of_interface(plugin: &str) -> bool {
    matches!(plugin, "host-local" | "static" | "whereabouts")
}

/// An IPAM plugin that has been started and not yet waited for.
#[derive(Debug)]
pub struct Running {
    plugin: String,
    command: String,
    child: std::process::Child,
}

/// Starts the IPAM plugin for `command` (`ADD`, `DEL`, `CHECK`, `GC`, `STATUS`) with
/// `stdin` (written before this returns); [`Running::wait`] collects its answer.
pub fn spawn(env: &Env, plugin: &str, command: &str, stdin: &[u8]) -> Result<Running> {
    let binary = find(plugin, &env.path)?;
    let mut child = Command::new(&binary)
        .env_clear()
        .envs(&env.vars)
        .env("CNI_COMMAND", command)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| {
            CniError::new(code::IPAM, format!("failed to run IPAM plugin {plugin:?}"))
                .details(format!("{}: {e}", binary.display()))
        })?;
    if let Some(mut input) = child.stdin.take() {
        // A plugin that exits without reading its input closes the pipe: not our error.
        let _ = input.write_all(stdin);
    }
    Ok(Running {
        plugin: plugin.to_owned(),
        command: command.to_owned(),
        child,
    })
}

impl Running {
    /// Waits for the plugin and returns what it printed as JSON (`None` when it printed
    /// nothing). A failure keeps the plugin's own code and message.
    pub fn wait(self) -> Result<Option<Value>> {
        let Self {
            plugin,
            command,
            child,
        } = self;
        let output = child.wait_with_output().map_err(|e| {
            CniError::new(
                code::IPAM,
                format!("failed to wait for IPAM plugin {plugin:?}"),
            )
            .details(e.to_string())
        })?;
        let text = String::from_utf8_lossy(&output.stdout);
        let parsed: Option<Value> = if text.trim().is_empty() {
            None
        } else {
            Some(serde_json::from_str(&text).map_err(|e| {
                CniError::new(
                    code::IPAM,
                    format!("IPAM plugin {plugin:?} printed something that is not JSON"),
                )
                .details(format!("{e}: {}", text.trim()))
            })?)
        };
        if !output.status.success() {
            let (code, msg, details) = match &parsed {
                Some(err) => (
                    err.get("code")
                        .and_then(Value::as_u64)
                        .and_then(|c| u32::try_from(c).ok())
                        .unwrap_or(code::IPAM),
                    err.get("msg")
                        .and_then(Value::as_str)
                        .unwrap_or("failed")
                        .to_owned(),
                    err.get("details")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned(),
                ),
                None => (
                    code::IPAM,
                    format!("exited with {}", output.status),
                    String::new(),
                ),
            };
            return Err(
                CniError::new(code, format!("IPAM plugin {plugin:?} {command}: {msg}"))
                    .details(details),
            );
        }
        Ok(parsed)
    }

    /// Waits for an IPAM ADD and reads its result (see [`add`]).
    pub fn wait_add(self, version: &str) -> Result<Success> {
        let plugin = self.plugin.clone();
        add_result(&plugin, self.wait()?, version)
    }
}

/// Runs the IPAM plugin for `command` (`ADD`, `DEL`, `CHECK`, `GC`, `STATUS`) with `stdin`,
/// returning what it printed as JSON (`None` when it printed nothing). A failure keeps the
/// plugin's own code and message.
pub fn exec(env: &Env, plugin: &str, command: &str, stdin: &[u8]) -> Result<Option<Value>> {
    spawn(env, plugin, command, stdin)?.wait()
}

/// IPAM ADD: the addresses to give the interface (bound to interface 0), routes and DNS.
pub fn add(env: &Env, plugin: &str, stdin: &[u8], version: &str) -> Result<Success> {
    spawn(env, plugin, "ADD", stdin)?.wait_add(version)
}

fn add_result(plugin: &str, value: Option<Value>, version: &str) -> Result<Success> {
    let value = value.ok_or_else(|| {
        CniError::new(
            code::IPAM,
            format!("IPAM plugin {plugin:?} printed no result"),
        )
    })?;
    let mut result = Success::parse(&value, version)?;
    if result.ips.is_empty() {
        return Err(CniError::new(
            code::IPAM,
            "IPAM plugin returned missing IP config",
        ));
    }
    for ip in &mut result.ips {
        ip.interface = Some(0);
    }
    Ok(result)
}
