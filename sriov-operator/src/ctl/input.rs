//! Reading `-f` inputs (files, directories, stdin) into objects, and turning what
//! manifest reading found into one located line per problem.

use super::*;

/// One input: its display name and its text.
pub(super) struct Input {
    pub(super) name: String,
    pub(super) text: String,
}

/// Expands the `-f` arguments into inputs: files as given, directories recursively
/// (`*.yaml`, `*.yml`, `*.json`, sorted), `-` as standard input.
pub(super) fn collect_inputs(
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

pub(super) fn manifest_files(dir: &Path) -> io::Result<Vec<PathBuf>> {
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
pub(super) fn at(input: &str, location: Option<Location>, position: Option<&Position>) -> String {
    match (location, position) {
        (Some(location), _) => format!("{input}:{location}"),
        (None, Some(position)) => format!("{input} ({position})"),
        (None, None) => input.to_owned(),
    }
}

/// What reading one object of an input produced, as lines for the user.
#[derive(Default)]
pub(super) struct Report {
    /// Problems that reject the object (`<where>: <Kind> <name>: <what>`).
    pub(super) rejections: Vec<String>,
    /// Unknown fields of an object that was read (rejections for `validate`, warnings
    /// for the other commands).
    pub(super) unknown: Vec<String>,
    /// The object is of a kind the operator does not read.
    pub(super) skipped: Option<String>,
}

/// Reads one document into a report and, when it could be read, its object and where
/// it starts.
pub(super) fn read_document(
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
pub(super) fn parse_input(
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

/// Reads every input into a snapshot. Unreadable inputs and objects are reported on `err`
/// (`error:`), unknown fields as `warning:`, kinds the operator does not read as `note:`.
pub(super) fn load(
    paths: &[PathBuf],
    stdin: &mut dyn Read,
    err: &mut dyn Write,
) -> (Snapshot, Status) {
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
pub(super) fn no_objects(inputs: &[Input]) -> String {
    let names: Vec<&str> = inputs.iter().map(|i| i.name.as_str()).collect();
    if names.is_empty() {
        "no input".to_owned()
    } else {
        format!("no objects in {}", names.join(", "))
    }
}
