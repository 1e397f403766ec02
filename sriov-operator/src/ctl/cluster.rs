//! The commands about a cluster described by manifests: `crds`, `validate`, `render`.

use std::collections::{BTreeMap, BTreeSet};

use super::input::{collect_inputs, load, no_objects, parse_input, read_document};

use super::*;

pub(super) fn print_crds(out: &mut dyn Write, err: &mut dyn Write) -> Status {
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

pub(super) fn write_crds(dir: &Path, err: &mut dyn Write) -> Status {
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

pub(super) fn validate(
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

pub(super) fn render(
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
