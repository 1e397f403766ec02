//! `sriovctl`: the SR-IOV operator's offline command line.
//!
//! - `sriovctl crds [--out-dir DIR]` prints the seven CRDs as one YAML stream (the
//!   concatenation of `deploy/crds/*.yaml`), or writes one file per CRD into `DIR`.
//! - `sriovctl render -f PATH...` prints what the operator would write for the objects.
//! - `sriovctl discover [--host-root DIR]` prints the host's PFs and VFs as node-state status.
//! - `sriovctl doctor [--host-root DIR]` checks the host's SR-IOV prerequisites.
//! - `sriovctl plan -f NODESTATE [--node NAME] [--host-root DIR] [-o text|json]` shows what
//!   the config daemon would do here for that spec.
//! - `sriovctl validate -f PATH... [--namespace NS] [--dev-mode]` reads manifests (files,
//!   directories, or `-` for stdin) and reports, one line each, every object it cannot read,
//!   every value its CRD schema rejects, every field the API types do not know, and every
//!   admission-rule violation, as `<file>:<line>:<column>: <Kind> <namespace>/<name>:
//!   <message>`, and each warning as `warning: ...`; kinds the operator does not read are
//!   skipped with a `note:`. Exit
//!   status: 0 when everything is accepted, 1 when something is rejected, 2 when input
//!   cannot be read.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use sriov_core::crd::{self, CustomResourceDefinition};
use sriov_core::manifest::{self, Location, ManifestError, Position};
use sriov_core::nic::SupportedNics;
use sriov_core::render::{self, cluster::Snapshot};
use sriov_hw::doctor::Outcome;
use sriov_hw::{HostRoot, SysfsHost};

/// Command-line arguments of `sriovctl`.
#[derive(Debug, Parser)]
#[command(
    name = "sriovctl",
    version,
    about = "Offline tools for the SR-IOV network operator"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the operator's CustomResourceDefinitions as YAML.
    Crds {
        /// Write one file per CRD into this directory instead of printing them.
        #[arg(long, value_name = "DIR")]
        out_dir: Option<PathBuf>,
    },
    /// Print what the operator would write for a cluster described by manifests: every
    /// managed node's SriovNetworkNodeState, the device-plugin ConfigMap and every
    /// NetworkAttachmentDefinition, as one v1 List.
    Render {
        /// Files or directories of YAML/JSON manifests (Nodes, node states with status,
        /// policies, networks, pool configs, the operator config); `-` reads standard input.
        #[arg(short = 'f', long = "filename", value_name = "PATH", required = true)]
        files: Vec<PathBuf>,
        /// The operator namespace.
        #[arg(long, short = 'n', default_value = DEFAULT_NAMESPACE)]
        namespace: String,
        /// Prefix of the device-plugin resource names.
        #[arg(long, default_value = DEFAULT_RESOURCE_PREFIX)]
        resource_prefix: String,
        /// Output format.
        #[arg(long, short = 'o', value_enum, default_value_t = Format::Yaml)]
        output: Format,
    },
    /// Discover this host's SR-IOV PFs and VFs, as the config daemon reports them in
    /// SriovNetworkNodeState.status.
    Discover {
        /// Directory holding the host's `/` (`sys/`, `proc/`, `etc/`).
        #[arg(long, env = sriov_hw::root::HOST_ROOT_ENV, default_value = "/")]
        host_root: PathBuf,
        /// Report SR-IOV PFs that are not in the supported-NIC table too.
        #[arg(long)]
        dev_mode: bool,
        /// Output format.
        #[arg(long, short = 'o', value_enum, default_value_t = Format::Yaml)]
        output: Format,
    },
    /// Show what the config daemon would do on this host for a node state's spec: the
    /// ordered actions and whether a drain or reboot is needed, and why.
    Plan {
        /// A file holding the SriovNetworkNodeState (its spec is used); `-` reads standard
        /// input.
        #[arg(short = 'f', long = "filename", value_name = "PATH")]
        file: PathBuf,
        /// The node whose state to use, when the file holds several (a `kubectl get -o
        /// yaml` List).
        #[arg(long, value_name = "NAME")]
        node: Option<String>,
        /// Directory holding the host's `/` (`sys/`, `proc/`, `etc/`).
        #[arg(long, env = sriov_hw::root::HOST_ROOT_ENV, default_value = "/")]
        host_root: PathBuf,
        /// Output format.
        #[arg(long, short = 'o', value_enum, default_value_t = PlanFormat::Text)]
        output: PlanFormat,
    },
    /// Check this host's SR-IOV prerequisites (IOMMU, vfio-pci, NICs, firmware, VF drivers);
    /// exit 1 when something blocks SR-IOV.
    Doctor {
        /// Directory holding the host's `/` (`sys/`, `proc/`, `etc/`).
        #[arg(long, env = sriov_hw::root::HOST_ROOT_ENV, default_value = "/")]
        host_root: PathBuf,
    },
    /// Check manifests as the admission webhook would: every object readable, every field
    /// known, and the validation rules for every policy, network, pool config and operator
    /// config (after the mutating defaults), with the rest of the input as the cluster.
    Validate {
        /// Files or directories of YAML/JSON manifests; `-` reads standard input.
        #[arg(short = 'f', long = "filename", value_name = "PATH", required = true)]
        files: Vec<PathBuf>,
        /// The operator namespace.
        #[arg(long, short = 'n', default_value = DEFAULT_NAMESPACE)]
        namespace: String,
        /// Skip the supported-NIC checks (the webhook's DEV_MODE).
        #[arg(long)]
        dev_mode: bool,
    },
}

/// Operator namespace assumed when none is given.
pub const DEFAULT_NAMESPACE: &str = "sriov-network-operator";
/// Resource prefix assumed when none is given.
pub const DEFAULT_RESOURCE_PREFIX: &str = "openshift.io";

/// Output formats of `render`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    Yaml,
    Json,
}

/// Output formats of `plan`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum PlanFormat {
    Text,
    Json,
}

/// Parses the process arguments, runs the command and returns the exit status.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let stdout = io::stdout();
    let stderr = io::stderr();
    run(
        cli,
        &mut io::stdin().lock(),
        &mut stdout.lock(),
        &mut stderr.lock(),
    )
}

/// Runs a parsed command with explicit streams (so tests can drive it).
pub fn run(cli: Cli, stdin: &mut dyn Read, out: &mut dyn Write, err: &mut dyn Write) -> ExitCode {
    let status = match cli.command {
        Command::Crds { out_dir: None } => print_crds(out, err),
        Command::Crds { out_dir: Some(dir) } => write_crds(&dir, err),
        Command::Discover {
            host_root,
            dev_mode,
            output,
        } => discover(&HostRoot::new(host_root), dev_mode, output, out, err),
        Command::Doctor { host_root } => doctor(&HostRoot::new(host_root), out, err),
        Command::Plan {
            file,
            node,
            host_root,
            output,
        } => plan(
            &file,
            node.as_deref(),
            &HostRoot::new(host_root),
            output,
            stdin,
            out,
            err,
        ),
        Command::Validate {
            files,
            namespace,
            dev_mode,
        } => validate(&files, &namespace, dev_mode, stdin, out, err),
        Command::Render {
            files,
            namespace,
            resource_prefix,
            output,
        } => render(
            &files,
            &namespace,
            &resource_prefix,
            output,
            stdin,
            out,
            err,
        ),
    };
    ExitCode::from(status as u8)
}

/// Exit statuses, ordered by severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Status {
    Ok = 0,
    Rejected = 1,
    Unreadable = 2,
}

fn print_crds(out: &mut dyn Write, err: &mut dyn Write) -> Status {
    let result = crd::operator_crds_yaml()
        .map_err(|e| e.to_string())
        .and_then(|yaml| out.write_all(yaml.as_bytes()).map_err(|e| e.to_string()));
    match result {
        Ok(()) => Status::Ok,
        Err(e) => {
            let _ = writeln!(err, "error: printing CRDs: {e}");
            Status::Unreadable
        }
    }
}

fn write_crds(dir: &Path, err: &mut dyn Write) -> Status {
    let write_one = |c: &CustomResourceDefinition| -> Result<(), String> {
        let path = dir.join(crd::file_name(c));
        let yaml = crd::to_yaml(c).map_err(|e| e.to_string())?;
        std::fs::write(&path, yaml).map_err(|e| format!("{}: {e}", path.display()))
    };
    let result = std::fs::create_dir_all(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))
        .and_then(|()| crd::operator_crds().iter().try_for_each(write_one));
    match result {
        Ok(()) => Status::Ok,
        Err(e) => {
            let _ = writeln!(err, "error: writing CRDs: {e}");
            Status::Unreadable
        }
    }
}

/// One input: its display name and its text.
struct Input {
    name: String,
    text: String,
}

/// Expands the `-f` arguments into inputs: files as given, directories recursively
/// (`*.yaml`, `*.yml`, `*.json`, sorted), `-` as standard input.
fn collect_inputs(
    paths: &[PathBuf],
    stdin: &mut dyn Read,
    err: &mut dyn Write,
) -> (Vec<Input>, Status) {
    let mut inputs = Vec::new();
    let mut status = Status::Ok;
    let mut fail = |what: &Path, e: io::Error, err: &mut dyn Write| {
        let _ = writeln!(err, "error: reading {}: {e}", what.display());
        status = Status::Unreadable;
    };
    for path in paths {
        if path.as_os_str() == "-" {
            let mut text = String::new();
            match stdin.read_to_string(&mut text) {
                Ok(_) => inputs.push(Input {
                    name: "<stdin>".into(),
                    text,
                }),
                Err(e) => fail(path, e, err),
            }
            continue;
        }
        let files = if path.is_dir() {
            match manifest_files(path) {
                Ok(files) if files.is_empty() => {
                    let none = io::Error::other("no manifest files (*.yaml, *.yml, *.json) in it");
                    fail(path, none, err);
                    continue;
                }
                Ok(files) => files,
                Err(e) => {
                    fail(path, e, err);
                    continue;
                }
            }
        } else {
            vec![path.clone()]
        };
        for file in files {
            match std::fs::read_to_string(&file) {
                Ok(text) => inputs.push(Input {
                    name: file.display().to_string(),
                    text,
                }),
                Err(e) => fail(&file, e, err),
            }
        }
    }
    (inputs, status)
}

fn manifest_files(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            files.extend(manifest_files(&path)?);
        } else if path
            .extension()
            .is_some_and(|ext| ext == "yaml" || ext == "yml" || ext == "json")
        {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Where something is in the inputs: `file:line:column` when the text says, else
/// `file (document N)` (JSON input), else the file.
fn at(input: &str, location: Option<Location>, position: Option<&Position>) -> String {
    match (location, position) {
        (Some(location), _) => format!("{input}:{location}"),
        (None, Some(position)) => format!("{input} ({position})"),
        (None, None) => input.to_owned(),
    }
}

/// What reading one object of an input produced, as lines for the user.
#[derive(Default)]
struct Report {
    /// Problems that reject the object (`<where>: <Kind> <name>: <what>`).
    rejections: Vec<String>,
    /// Unknown fields of an object that was read (rejections for `validate`, warnings
    /// for the other commands).
    unknown: Vec<String>,
    /// The object is of a kind the operator does not read.
    skipped: Option<String>,
}

/// Reads one document into a report and, when it could be read, its object and where
/// it starts.
fn read_document(
    input: &str,
    document: Result<manifest::Document, ManifestError>,
) -> (Report, Option<(manifest::Object, String)>) {
    let mut report = Report::default();
    match document {
        Ok(doc) => {
            let origin = at(input, doc.position.location, Some(&doc.position));
            let (kind, name) = (doc.object.kind(), doc.object.display_name());
            if let manifest::Object::Other(other) = &doc.object {
                report.skipped = Some(format!(
                    "{origin}: skipped {kind} {name} ({}): the operator does not read this kind",
                    other.api_version
                ));
                return (report, None);
            }
            report.unknown = doc
                .unknown_fields
                .iter()
                .map(|field| {
                    let place = at(
                        input,
                        field.location.or(doc.position.location),
                        Some(&doc.position),
                    );
                    format!("{place}: {kind} {name}: {field}")
                })
                .collect();
            (report, Some((doc.object, origin)))
        }
        Err(ManifestError::Invalid {
            position,
            kind,
            name,
            fields,
        }) => {
            report.rejections = fields
                .iter()
                .map(|field| {
                    let place = at(input, field.location.or(position.location), Some(&position));
                    format!("{place}: {kind} {name}: {field}")
                })
                .collect();
            (report, None)
        }
        Err(e) => {
            report.rejections = vec![format!("{}: {e}", at(input, e.location(), None))];
            (report, None)
        }
    }
}

/// Parses an input; an unparsable one is reported on `err` as one line.
fn parse_input(
    input: &Input,
    err: &mut dyn Write,
) -> Option<Vec<Result<manifest::Document, ManifestError>>> {
    match manifest::read_str(&input.text) {
        Ok(documents) => Some(documents),
        Err(e) => {
            let _ = writeln!(err, "error: {}: {e}", at(&input.name, e.location(), None));
            None
        }
    }
}

fn validate(
    paths: &[PathBuf],
    namespace: &str,
    dev_mode: bool,
    stdin: &mut dyn Read,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Status {
    let (inputs, mut status) = collect_inputs(paths, stdin, err);
    let mut snapshot = Snapshot::default();
    let (mut objects, mut skipped) = (0usize, 0usize);
    // Rejected objects, by where they start (one object counts once however many problems
    // it has), and where each readable object starts, by kind and name.
    let mut rejected = BTreeSet::new();
    let mut origins: BTreeMap<(String, String), String> = BTreeMap::new();
    for input in &inputs {
        let Some(documents) = parse_input(input, err) else {
            status = status.max(Status::Unreadable);
            continue;
        };
        for (index, document) in documents.into_iter().enumerate() {
            objects += 1;
            let (report, object) = read_document(&input.name, document);
            if let Some(note) = report.skipped {
                skipped += 1;
                let _ = writeln!(err, "note: {note}");
                continue;
            }
            let lines: Vec<&String> = report.rejections.iter().chain(&report.unknown).collect();
            let key = match &object {
                Some((_, origin)) => origin.clone(),
                None => format!("{}#{index}", input.name),
            };
            if !lines.is_empty() {
                rejected.insert(key);
                status = status.max(Status::Rejected);
                for line in lines {
                    let _ = writeln!(out, "{line}");
                }
            }
            if let Some((object, origin)) = object {
                origins
                    .entry((object.kind().to_owned(), object.display_name()))
                    .or_insert(origin);
                snapshot.add(object);
            }
        }
    }
    if objects == 0 && status < Status::Unreadable {
        let _ = writeln!(err, "error: {}", no_objects(&inputs));
        status = Status::Unreadable;
    }
    if status < Status::Unreadable {
        let nics = match snapshot.supported_nics(namespace) {
            Ok(nics) => nics,
            Err(e) => {
                let _ = writeln!(err, "error: {e}");
                return Status::Rejected;
            }
        };
        for checked in sriov_core::validate::cluster(&snapshot, namespace, &nics, dev_mode) {
            let origin = origins
                .get(&(checked.kind.to_owned(), checked.name.clone()))
                .cloned()
                .unwrap_or_else(|| "<input>".to_owned());
            for warning in &checked.verdict.warnings {
                let _ = writeln!(
                    out,
                    "warning: {origin}: {} {}: {warning}",
                    checked.kind, checked.name
                );
            }
            for violation in &checked.verdict.violations {
                let _ = writeln!(
                    out,
                    "{origin}: {} {}: {violation}",
                    checked.kind, checked.name
                );
            }
            if !checked.verdict.allowed() {
                rejected.insert(origin);
                status = status.max(Status::Rejected);
            }
        }
    }
    let _ = writeln!(
        err,
        "{objects} object(s) in {} input(s): {} rejected, {skipped} skipped",
        inputs.len(),
        rejected.len()
    );
    status
}

/// Reads every input into a snapshot. Unreadable inputs and objects are reported on `err`
/// (`error:`), unknown fields as `warning:`, kinds the operator does not read as `note:`.
fn load(paths: &[PathBuf], stdin: &mut dyn Read, err: &mut dyn Write) -> (Snapshot, Status) {
    let (inputs, mut status) = collect_inputs(paths, stdin, err);
    let mut snapshot = Snapshot::default();
    let mut objects = 0usize;
    for input in &inputs {
        let Some(documents) = parse_input(input, err) else {
            status = status.max(Status::Unreadable);
            continue;
        };
        objects += documents.len();
        for document in documents {
            let (report, object) = read_document(&input.name, document);
            for line in &report.rejections {
                let _ = writeln!(err, "error: {line}");
                status = status.max(Status::Rejected);
            }
            for line in &report.unknown {
                let _ = writeln!(err, "warning: {line} (ignored)");
            }
            if let Some(note) = &report.skipped {
                let _ = writeln!(err, "note: {note}");
            }
            if let Some((object, _)) = object {
                snapshot.add(object);
            }
        }
    }
    if objects == 0 && status < Status::Unreadable {
        let _ = writeln!(err, "error: {}", no_objects(&inputs));
        status = Status::Unreadable;
    }
    (snapshot, status)
}

/// Why an input that parsed but held nothing is refused: a mistyped or empty `-f` target
/// must not look like an empty cluster.
fn no_objects(inputs: &[Input]) -> String {
    let names: Vec<&str> = inputs.iter().map(|i| i.name.as_str()).collect();
    if names.is_empty() {
        "no input".to_owned()
    } else {
        format!("no objects in {}", names.join(", "))
    }
}

fn render(
    paths: &[PathBuf],
    namespace: &str,
    resource_prefix: &str,
    format: Format,
    stdin: &mut dyn Read,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Status {
    let (mut snapshot, mut status) = load(paths, stdin, err);
    if status == Status::Unreadable {
        return status;
    }
    snapshot.apply_admission_defaults();
    let nics = match snapshot.supported_nics(namespace) {
        Ok(nics) => nics,
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            return Status::Rejected;
        }
    };
    let desired = render::desired(&snapshot.inputs(namespace, resource_prefix, &nics));
    for problem in &desired.problems {
        let _ = writeln!(err, "error: {problem}");
        status = status.max(Status::Rejected);
    }
    for (node, value) in &desired.device_plugin_labels {
        let _ = writeln!(
            err,
            "node {node}: label {}={value}",
            render::device_plugin::NODE_LABEL
        );
    }
    match desired.to_list() {
        Ok(list) => status.max(write_formatted(&list, format, out, err)),
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            Status::Unreadable
        }
    }
}

fn write_formatted<T: serde::Serialize>(
    value: &T,
    format: Format,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Status {
    let text = match format {
        Format::Json => serde_json::to_string_pretty(value)
            .map(|t| t + "\n")
            .map_err(|e| e.to_string()),
        Format::Yaml => serde_saphyr::to_string(value).map_err(|e| e.to_string()),
    };
    match text.and_then(|t| out.write_all(t.as_bytes()).map_err(|e| e.to_string())) {
        Ok(()) => Status::Ok,
        Err(e) => {
            let _ = writeln!(err, "error: writing output: {e}");
            Status::Unreadable
        }
    }
}

fn discover(
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
fn observe(
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

fn doctor(root: &HostRoot, out: &mut dyn Write, err: &mut dyn Write) -> Status {
    if let Err(e) = root.check() {
        let _ = writeln!(err, "error: {e}");
        return Status::Unreadable;
    }
    let host = SysfsHost::new(root.clone());
    let checks = match sriov_hw::doctor::run(root, &host, &SupportedNics::default()) {
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
fn pick_state<'a>(
    states: &'a [sriov_core::api::SriovNetworkNodeState],
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

fn plan(
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
