//! The commands about a host: `discover`, `doctor`, `plan`.

use super::input::load;

use super::*;

pub(super) fn discover(
    root: &HostRoot,
    dev_mode: bool,
    format: Format,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Status {
    match observe(root, dev_mode, err) {
        Some(snapshot) => write_formatted(&snapshot.status(), format, out, err),
        None => Status::Unreadable,
    }
}

/// Observes the host at `root` with the built-in NIC table; problems are reported on `err`
/// (a root without `sys/bus/pci` by itself, anything else naming the root).
pub(super) fn observe(
    root: &HostRoot,
    dev_mode: bool,
    err: &mut dyn Write,
) -> Option<sriov_hw::observe::HostSnapshot> {
    if let Err(e) = root.check() {
        let _ = writeln!(err, "error: {e}");
        return None;
    }
    sriov_hw::observe::observe(root, &SupportedNics::default(), dev_mode)
        .map_err(|e| {
            let _ = writeln!(err, "error: reading host {}: {e}", root.path().display());
        })
        .ok()
}

pub(super) fn doctor(root: &HostRoot, out: &mut dyn Write, err: &mut dyn Write) -> Status {
    if let Err(e) = root.check() {
        let _ = writeln!(err, "error: {e}");
        return Status::Unreadable;
    }
    let host = SysfsHost::new(root.clone());
    let checks = match sriov_hw::observe::KernelFacts::read(root)
        .and_then(|facts| sriov_hw::doctor::run(root, &facts, &host, &SupportedNics::default()))
    {
        Ok(checks) => checks,
        Err(e) => {
            let _ = writeln!(err, "error: checking {}: {e}", root.path().display());
            return Status::Unreadable;
        }
    };
    for check in &checks {
        let mark = match check.verdict {
            Outcome::Pass => "PASS",
            Outcome::Warn => "WARN",
            Outcome::Fail => "FAIL",
        };
        let _ = writeln!(out, "[{mark}] {}: {}", check.name, check.detail);
        if !check.remedy.is_empty() {
            let _ = writeln!(out, "       fix: {}", check.remedy);
        }
    }
    if sriov_hw::doctor::passes(&checks) {
        Status::Ok
    } else {
        Status::Rejected
    }
}

/// The node state `plan` works on: the one named by `--node`, or the only one in the file.
pub(super) fn pick_state<'a>(
    states: &'a [std::sync::Arc<sriov_core::api::SriovNetworkNodeState>],
    node: Option<&str>,
    file: &Path,
) -> Result<&'a sriov_core::api::SriovNetworkNodeState, String> {
    let names = || {
        states
            .iter()
            .map(|s| s.metadata.name.as_deref().unwrap_or("<unnamed>"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match (node, states) {
        (_, []) => Err(format!("{}: no SriovNetworkNodeState", file.display())),
        (None, [only]) => Ok(only),
        (None, _) => Err(format!(
            "{}: {} node states ({}); choose one with --node NAME",
            file.display(),
            states.len(),
            names()
        )),
        (Some(node), _) => states
            .iter()
            .map(|s| &**s)
            .find(|s| s.metadata.name.as_deref() == Some(node))
            .ok_or_else(|| {
                format!(
                    "{}: no SriovNetworkNodeState for node {node} (found: {})",
                    file.display(),
                    names()
                )
            }),
    }
}

pub(super) fn plan(
    file: &Path,
    node: Option<&str>,
    root: &HostRoot,
    format: PlanFormat,
    stdin: &mut dyn Read,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Status {
    if let Err(e) = root.check() {
        let _ = writeln!(err, "error: {e}");
        return Status::Unreadable;
    }
    let (snapshot, status) = load(&[file.to_owned()], stdin, err);
    if status != Status::Ok {
        return status;
    }
    let state = match pick_state(&snapshot.node_states, node, file) {
        Ok(state) => state,
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            return Status::Rejected;
        }
    };
    let Some(snapshot) = observe(root, false, err) else {
        return Status::Unreadable;
    };
    let nics = SupportedNics::default();
    let observed = match snapshot.observed(&nics) {
        Ok(observed) => observed,
        Err(e) => {
            let _ = writeln!(err, "error: reading host {}: {e}", root.path().display());
            return Status::Unreadable;
        }
    };
    let plan = match sriov_core::plan::plan(observed, &state.spec) {
        Ok(plan) => plan,
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            return Status::Rejected;
        }
    };
    for warning in &plan.warnings {
        let _ = writeln!(err, "warning: {warning}");
    }
    match format {
        PlanFormat::Json => write_formatted(&plan, Format::Json, out, err),
        PlanFormat::Text => {
            let disruption = match plan.disruption {
                sriov_core::plan::Disruption::None => "none",
                sriov_core::plan::Disruption::Drain => "drain",
                sriov_core::plan::Disruption::Reboot => "reboot",
            };
            let _ = writeln!(out, "disruption: {disruption}");
            for reason in &plan.reasons {
                let _ = writeln!(out, "  because {reason}");
            }
            if plan.actions.is_empty() {
                let _ = writeln!(out, "nothing to do");
            }
            for (i, action) in plan.actions.iter().enumerate() {
                let _ = writeln!(out, "{:>3}. {action}", i + 1);
            }
            Status::Ok
        }
    }
}
