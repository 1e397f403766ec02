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

mod cluster;
mod host;
mod input;
mod sandbox;

use cluster::{print_crds, render, validate, write_crds};
use host::{discover, doctor, plan};

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
    /// Run an in-memory Kubernetes API server with the operator's CRDs installed (and the
    /// sriov-network-operator namespace), apply the manifests given, write a kubeconfig for
    /// it and serve until SIGINT/SIGTERM. It has no authentication and no authorization:
    /// it listens on loopback only, unless --insecure-allow-remote is given.
    Sandbox(sandbox::Options),
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
pub const DEFAULT_NAMESPACE: &str = sriov_core::api::DEFAULT_OPERATOR_NAMESPACE;
/// Resource prefix assumed when none is given.
pub const DEFAULT_RESOURCE_PREFIX: &str = "openshift.io";

/// Output formats of `render`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(super) enum Format {
    Yaml,
    Json,
}

/// Output formats of `plan`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(super) enum PlanFormat {
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
        Command::Sandbox(options) => sandbox::sandbox(options, stdin, out, err),
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
pub(super) enum Status {
    Ok = 0,
    Rejected = 1,
    Unreadable = 2,
}

pub(super) fn write_formatted<T: serde::Serialize>(
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
