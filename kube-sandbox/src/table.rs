//! What a read answers besides full objects, chosen by the `Accept` header: Tables for
//! `kubectl get` (`as=Table;g=meta.k8s.io;v=v1`), with the columns kube-apiserver prints
//! for the built-in kinds this project's users look at and a CRD's
//! `additionalPrinterColumns` for custom resources, and `PartialObjectMetadata` for
//! kube-rs's metadata-only API.

use serde_json::{Value, json};

use crate::resources::ResourceType;

/// How an answer presents objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Shape {
    /// Full objects (and lists of them).
    #[default]
    Object,
    /// A `meta.k8s.io/v1` Table; rows carry what `includeObject` asks for.
    Table(Include),
    /// `PartialObjectMetadata` (and `PartialObjectMetadataList`).
    Metadata,
}

/// `includeObject` of a Table request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Include {
    None,
    Metadata,
    Object,
}

impl Shape {
    /// The shape the first acceptable media range of `accept` asks for.
    pub(crate) fn from_request(accept: Option<&str>, include: Option<&str>) -> Self {
        for range in accept.unwrap_or_default().split(',') {
            let mut parts = range.split(';').map(str::trim);
            let media = parts.next().unwrap_or_default();
            if media != "application/json" && media != "*/*" && media != "application/*" {
                continue;
            }
            let mut params = [None, None, None];
            for part in parts {
                if let Some((k, v)) = part.split_once('=') {
                    let slot = match k.trim() {
                        "as" => 0,
                        "g" => 1,
                        "v" => 2,
                        _ => continue,
                    };
                    params[slot] = Some(v.trim());
                }
            }
            let meta_group =
                params[1] == Some("meta.k8s.io") && matches!(params[2], Some("v1" | "v1beta1"));
            match params[0] {
                None => return Self::Object,
                Some("Table") if meta_group => {
                    let include = match include {
                        Some("None") => Include::None,
                        Some("Object") => Include::Object,
                        _ => Include::Metadata,
                    };
                    return Self::Table(include);
                }
                Some("PartialObjectMetadata" | "PartialObjectMetadataList") if meta_group => {
                    return Self::Metadata;
                }
                // Another representation this server does not make: try the next range.
                Some(_) => {}
            }
        }
        Self::Object
    }

    /// The answer's `Content-Type`.
    pub(crate) fn content_type(self) -> &'static str {
        match self {
            Self::Object => "application/json",
            Self::Table(_) => "application/json;as=Table;v=v1;g=meta.k8s.io",
            Self::Metadata => "application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io",
        }
    }
}

fn partial(object: &Value) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": object.get("metadata").cloned().unwrap_or_else(|| json!({})),
    })
}

/// One object (a GET, or a watch event) as `shape` presents it.
pub(crate) fn one(resource: &ResourceType, shape: Shape, object: Value) -> Value {
    match shape {
        Shape::Object => object,
        Shape::Metadata => partial(&object),
        Shape::Table(include) => table(resource, include, &[object], json!({})),
    }
}

/// A list's items (served objects) and its `metadata` as `shape` presents them.
pub(crate) fn list(
    resource: &ResourceType,
    shape: Shape,
    items: &[Value],
    metadata: Value,
) -> Value {
    match shape {
        Shape::Object => json!({
            "kind": resource.list_kind, "apiVersion": resource.api_version(),
            "metadata": metadata, "items": items,
        }),
        Shape::Metadata => json!({
            "kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1",
            "metadata": metadata, "items": items.iter().map(partial).collect::<Vec<_>>(),
        }),
        Shape::Table(include) => table(resource, include, items, metadata),
    }
}

fn table(resource: &ResourceType, include: Include, items: &[Value], metadata: Value) -> Value {
    let columns = columns(resource);
    let now = jiff::Timestamp::now();
    let definitions: Vec<Value> = columns
        .iter()
        .map(|c| {
            json!({"name": c.name, "type": c.kind, "format": if c.name == "Name" { "name" } else { "" },
                "description": c.description, "priority": c.priority})
        })
        .collect();
    let rows: Vec<Value> = items
        .iter()
        .map(|object| {
            let cells: Vec<Value> = columns.iter().map(|c| c.cell(object, now)).collect();
            let mut row = json!({"cells": cells});
            match include {
                Include::None => {}
                Include::Metadata => row["object"] = partial(object),
                Include::Object => row["object"] = object.clone(),
            }
            row
        })
        .collect();
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": metadata,
        "columnDefinitions": definitions, "rows": rows})
}

/// Where a column's cell comes from.
enum Source {
    Name,
    /// The first RFC 3339 timestamp at these paths, shown as an age.
    Age(&'static [&'static str]),
    /// A CRD's JSONPath (`date`: shown as an age).
    Path {
        path: String,
        date: bool,
    },
    /// A built-in printer's rule.
    Rule(fn(&Value) -> Value),
}

struct Column {
    name: String,
    kind: String,
    description: String,
    priority: u64,
    source: Source,
}

impl Column {
    fn rule(name: &str, kind: &str, priority: u64, rule: fn(&Value) -> Value) -> Self {
        Self {
            name: name.to_owned(),
            kind: kind.to_owned(),
            description: String::new(),
            priority,
            source: Source::Rule(rule),
        }
    }

    fn cell(&self, object: &Value, now: jiff::Timestamp) -> Value {
        match &self.source {
            Source::Name => object
                .pointer("/metadata/name")
                .cloned()
                .unwrap_or(Value::Null),
            Source::Age(pointers) => pointers
                .iter()
                .find_map(|p| object.pointer(p).and_then(Value::as_str))
                .map_or(json!("<unknown>"), |t| json!(age(t, now))),
            Source::Path { path, date } => match json_path(object, path) {
                Some(Value::String(t)) if *date => json!(age(t, now)),
                Some(v) => v.clone(),
                None => Value::Null,
            },
            Source::Rule(rule) => rule(object),
        }
    }
}

fn name_column() -> Column {
    Column {
        name: "Name".into(),
        kind: "string".into(),
        description: "Name must be unique within a namespace.".into(),
        priority: 0,
        source: Source::Name,
    }
}

fn age_column() -> Column {
    Column {
        name: "Age".into(),
        kind: "string".into(),
        description: "CreationTimestamp: when the object was created.".into(),
        priority: 0,
        source: Source::Age(&["/metadata/creationTimestamp"]),
    }
}

fn text_at(object: &Value, pointer: &str) -> Value {
    match object.pointer(pointer) {
        Some(Value::String(s)) if !s.is_empty() => json!(s),
        Some(Value::Number(n)) => json!(n),
        _ => json!("<none>"),
    }
}

fn int_at(object: &Value, pointer: &str) -> Value {
    json!(object.pointer(pointer).and_then(Value::as_i64).unwrap_or(0))
}

fn items<'a>(object: &'a Value, pointer: &str) -> impl Iterator<Item = &'a Value> {
    object
        .pointer(pointer)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

fn pod_ready(pod: &Value) -> Value {
    let total = items(pod, "/spec/containers").count();
    let ready = items(pod, "/status/containerStatuses")
        .filter(|s| s.get("ready") == Some(&json!(true)))
        .count();
    json!(format!("{ready}/{total}"))
}

fn pod_status(pod: &Value) -> Value {
    if pod.pointer("/metadata/deletionTimestamp").is_some() {
        return json!("Terminating");
    }
    if let Some(reason) = pod.pointer("/status/reason").and_then(Value::as_str) {
        return json!(reason);
    }
    let waiting = items(pod, "/status/containerStatuses").find_map(|s| {
        s.pointer("/state/waiting/reason")
            .or_else(|| s.pointer("/state/terminated/reason"))
            .and_then(Value::as_str)
    });
    json!(waiting.unwrap_or_else(|| {
        pod.pointer("/status/phase")
            .and_then(Value::as_str)
            .unwrap_or("Pending")
    }))
}

fn pod_restarts(pod: &Value) -> Value {
    json!(
        items(pod, "/status/containerStatuses")
            .filter_map(|s| s.get("restartCount").and_then(Value::as_i64))
            .sum::<i64>()
    )
}

fn node_status(node: &Value) -> Value {
    let ready = items(node, "/status/conditions")
        .find(|c| c.get("type") == Some(&json!("Ready")))
        .and_then(|c| c.get("status").and_then(Value::as_str));
    let mut status = match ready {
        Some("True") => "Ready".to_owned(),
        Some(_) => "NotReady".to_owned(),
        None => "Unknown".to_owned(),
    };
    if node.pointer("/spec/unschedulable") == Some(&json!(true)) {
        status.push_str(",SchedulingDisabled");
    }
    json!(status)
}

fn node_roles(node: &Value) -> Value {
    let roles: Vec<&str> = node
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| match k.strip_prefix("node-role.kubernetes.io/") {
            Some(role) if !role.is_empty() => Some(role),
            _ if k == "kubernetes.io/role" => v.as_str(),
            _ => None,
        })
        .collect();
    json!(if roles.is_empty() {
        "<none>".to_owned()
    } else {
        roles.join(",")
    })
}

fn data_count(object: &Value) -> Value {
    let count = |k: &str| {
        object
            .get(k)
            .and_then(Value::as_object)
            .map_or(0, |m| m.len())
    };
    json!(count("data") + count("binaryData"))
}

fn event_object(event: &Value) -> Value {
    let kind = event
        .pointer("/involvedObject/kind")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_ascii_lowercase();
    let name = event
        .pointer("/involvedObject/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    json!(format!("{kind}/{name}"))
}

fn node_selector(object: &Value) -> Value {
    let pairs: Vec<String> = object
        .pointer("/spec/template/spec/nodeSelector")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
        .collect();
    json!(if pairs.is_empty() {
        "<none>".to_owned()
    } else {
        pairs.join(",")
    })
}

fn columns(resource: &ResourceType) -> Vec<Column> {
    if resource.custom {
        return crd_columns(resource);
    }
    let s = "string";
    let i = "integer";
    let mut columns = vec![name_column()];
    let middle: Vec<Column> = match (resource.group.as_str(), resource.plural.as_str()) {
        ("", "pods") => vec![
            Column::rule("Ready", s, 0, pod_ready),
            Column::rule("Status", s, 0, pod_status),
            Column::rule("Restarts", i, 0, pod_restarts),
        ],
        ("", "nodes") => vec![
            Column::rule("Status", s, 0, node_status),
            Column::rule("Roles", s, 0, node_roles),
        ],
        ("", "namespaces") => vec![Column::rule("Status", s, 0, |o| {
            text_at(o, "/status/phase")
        })],
        ("", "configmaps") => vec![Column::rule("Data", i, 0, data_count)],
        ("", "secrets") => vec![
            Column::rule("Type", s, 0, |o| text_at(o, "/type")),
            Column::rule("Data", i, 0, data_count),
        ],
        ("apps", "daemonsets") => vec![
            Column::rule("Desired", i, 0, |o| {
                int_at(o, "/status/desiredNumberScheduled")
            }),
            Column::rule("Current", i, 0, |o| {
                int_at(o, "/status/currentNumberScheduled")
            }),
            Column::rule("Ready", i, 0, |o| int_at(o, "/status/numberReady")),
            Column::rule("Up-to-date", i, 0, |o| {
                int_at(o, "/status/updatedNumberScheduled")
            }),
            Column::rule("Available", i, 0, |o| int_at(o, "/status/numberAvailable")),
            Column::rule("Node Selector", s, 0, node_selector),
        ],
        ("apps", "deployments") => vec![
            Column::rule("Ready", s, 0, |o| {
                let ready = int_at(o, "/status/readyReplicas");
                let wanted = o
                    .pointer("/spec/replicas")
                    .and_then(Value::as_i64)
                    .unwrap_or(1);
                json!(format!("{ready}/{wanted}"))
            }),
            Column::rule("Up-to-date", i, 0, |o| int_at(o, "/status/updatedReplicas")),
            Column::rule("Available", i, 0, |o| {
                int_at(o, "/status/availableReplicas")
            }),
        ],
        ("policy", "poddisruptionbudgets") => vec![
            Column::rule("Min Available", s, 0, |o| {
                match o.pointer("/spec/minAvailable") {
                    Some(v) => v.clone(),
                    None => json!("N/A"),
                }
            }),
            Column::rule("Max Unavailable", s, 0, |o| {
                match o.pointer("/spec/maxUnavailable") {
                    Some(v) => v.clone(),
                    None => json!("N/A"),
                }
            }),
            Column::rule("Allowed Disruptions", i, 0, |o| {
                int_at(o, "/status/disruptionsAllowed")
            }),
        ],
        ("coordination.k8s.io", "leases") => {
            vec![Column::rule("Holder", s, 0, |o| {
                text_at(o, "/spec/holderIdentity")
            })]
        }
        ("", "events") => {
            // kubectl's event columns: LAST SEEN TYPE REASON OBJECT MESSAGE.
            return vec![
                Column {
                    name: "Last Seen".into(),
                    kind: s.into(),
                    description: "When the event was last seen.".into(),
                    priority: 0,
                    source: Source::Age(&[
                        "/series/lastObservedTime",
                        "/lastTimestamp",
                        "/eventTime",
                        "/metadata/creationTimestamp",
                    ]),
                },
                Column::rule("Type", s, 0, |o| text_at(o, "/type")),
                Column::rule("Reason", s, 0, |o| text_at(o, "/reason")),
                Column::rule("Object", s, 0, event_object),
                Column::rule("Message", s, 0, |o| text_at(o, "/message")),
                name_column_at(1),
            ];
        }
        _ => Vec::new(),
    };
    columns.extend(middle);
    columns.push(age_column());
    match (resource.group.as_str(), resource.plural.as_str()) {
        ("", "pods") => {
            columns.push(Column::rule("IP", s, 1, |o| text_at(o, "/status/podIP")));
            columns.push(Column::rule("Node", s, 1, |o| text_at(o, "/spec/nodeName")));
        }
        ("", "nodes") => {
            // kube-apiserver prints a missing version blank, a missing kernel `<unknown>`.
            columns.push(Column::rule("Version", s, 0, |o| {
                json!(crate::meta::text(
                    &o["status"]["nodeInfo"],
                    "kubeletVersion"
                ))
            }));
            columns.push(Column::rule(
                "Kernel-Version",
                s,
                1,
                |o| match crate::meta::text(&o["status"]["nodeInfo"], "kernelVersion") {
                    "" => json!("<unknown>"),
                    kernel => json!(kernel),
                },
            ));
        }
        _ => {}
    }
    columns
}

fn name_column_at(priority: u64) -> Column {
    Column {
        priority,
        ..name_column()
    }
}

/// Name, then the version's `additionalPrinterColumns` (Age when it declares none).
fn crd_columns(resource: &ResourceType) -> Vec<Column> {
    let mut columns = vec![name_column()];
    if resource.printer_columns.is_empty() {
        columns.push(age_column());
        return columns;
    }
    for column in resource.printer_columns.iter() {
        let text = |k: &str| column.get(k).and_then(Value::as_str).unwrap_or_default();
        let kind = text("type");
        columns.push(Column {
            name: text("name").to_owned(),
            kind: kind.to_owned(),
            description: text("description").to_owned(),
            priority: column.get("priority").and_then(Value::as_u64).unwrap_or(0),
            source: Source::Path {
                path: text("jsonPath").to_owned(),
                date: kind == "date",
            },
        });
    }
    columns
}

/// One step of a JSONPath.
#[derive(Debug, PartialEq)]
enum Step {
    Key(String),
    Index(usize),
    All,
    /// `[?(@.field=="value")]`
    Filter(Vec<String>, String),
}

/// Parses the JSONPath subset printer columns use: `.a.b`, escaped dots (`a\.b`), `[n]`,
/// `[*]` and `[?(@.field=="value")]`.
fn parse_path(path: &str) -> Option<Vec<Step>> {
    let path = path.trim().trim_start_matches('{').trim_end_matches('}');
    let mut steps = Vec::new();
    let mut chars = path.chars().peekable();
    let mut key = String::new();
    let flush = |key: &mut String, steps: &mut Vec<Step>| {
        if !key.is_empty() {
            steps.push(Step::Key(std::mem::take(key)));
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '\\' => key.push(chars.next()?),
            '.' => flush(&mut key, &mut steps),
            '[' => {
                flush(&mut key, &mut steps);
                let mut inner = String::new();
                for c in chars.by_ref() {
                    if c == ']' {
                        break;
                    }
                    inner.push(c);
                }
                let inner = inner.trim();
                if inner == "*" {
                    steps.push(Step::All);
                } else if let Some(filter) =
                    inner.strip_prefix("?(@.").and_then(|f| f.strip_suffix(')'))
                {
                    let (field, value) = filter.split_once("==")?;
                    let value = value.trim().trim_matches(['"', '\'']);
                    let field = field.trim().split('.').map(str::to_owned).collect();
                    steps.push(Step::Filter(field, value.to_owned()));
                } else {
                    steps.push(Step::Index(inner.parse().ok()?));
                }
            }
            c => key.push(c),
        }
    }
    flush(&mut key, &mut steps);
    Some(steps)
}

/// The first value `path` selects in `object`.
fn json_path<'a>(object: &'a Value, path: &str) -> Option<&'a Value> {
    let steps = parse_path(path)?;
    let mut current = vec![object];
    for step in &steps {
        current = current
            .into_iter()
            .flat_map(|v| -> Vec<&Value> {
                match step {
                    Step::Key(k) => v.get(k).into_iter().collect(),
                    Step::Index(i) => v.get(i).into_iter().collect(),
                    Step::All => v.as_array().map(|a| a.iter().collect()).unwrap_or_default(),
                    Step::Filter(field, value) => v
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter(|item| {
                            field
                                .iter()
                                .try_fold(*item, |o, k| o.get(k))
                                .is_some_and(|f| match f {
                                    Value::String(s) => s == value,
                                    other => serde_json::from_str::<Value>(value)
                                        .is_ok_and(|v| v == *other),
                                })
                        })
                        .collect(),
                }
            })
            .collect();
    }
    current.into_iter().next()
}

/// kube-apiserver's human duration for the time since `timestamp` (`45s`, `3m12s`, `5h`,
/// `2d3h`, `1y20d`).
fn age(timestamp: &str, now: jiff::Timestamp) -> String {
    let Ok(then) = timestamp.parse::<jiff::Timestamp>() else {
        return "<unknown>".into();
    };
    let seconds = now.as_second() - then.as_second();
    human_duration(seconds)
}

fn human_duration(seconds: i64) -> String {
    if seconds < -1 {
        return "<invalid>".into();
    }
    if seconds < 0 {
        return "0s".into();
    }
    if seconds < 120 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    let with = |big: i64, unit: &str, small: i64, small_unit: &str| {
        if small == 0 {
            format!("{big}{unit}")
        } else {
            format!("{big}{unit}{small}{small_unit}")
        }
    };
    if minutes < 10 {
        return with(minutes, "m", seconds % 60, "s");
    }
    if minutes < 180 {
        return format!("{minutes}m");
    }
    let hours = minutes / 60;
    if hours < 8 {
        return with(hours, "h", minutes % 60, "m");
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    let days = hours / 24;
    if hours < 24 * 8 {
        return with(days, "d", hours % 24, "h");
    }
    if hours < 24 * 365 * 2 {
        return format!("{days}d");
    }
    if hours < 24 * 365 * 8 {
        return with(days / 365, "y", days % 365, "d");
    }
    format!("{}y", days / 365)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_headers_choose_the_shape() {
        let kubectl = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
        assert_eq!(
            Shape::from_request(Some(kubectl), None),
            Shape::Table(Include::Metadata)
        );
        assert_eq!(
            Shape::from_request(Some(kubectl), Some("Object")),
            Shape::Table(Include::Object)
        );
        assert_eq!(
            Shape::from_request(
                Some("application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"),
                None
            ),
            Shape::Metadata
        );
        assert_eq!(
            Shape::from_request(Some("application/json"), None),
            Shape::Object
        );
        assert_eq!(Shape::from_request(None, None), Shape::Object);
        // A representation it does not make falls through to the next range.
        assert_eq!(
            Shape::from_request(
                Some(
                    "application/json;as=APIGroupDiscoveryList;v=v2;g=apidiscovery.k8s.io,application/json"
                ),
                None
            ),
            Shape::Object
        );
    }

    #[test]
    fn printer_column_paths_select_as_kubectl_reads_them() {
        let object = json!({"metadata": {"annotations": {"sriovnetwork.openshift.io/desired-state": "Idle"}},
            "status": {"syncStatus": "Succeeded", "conditions": [
                {"type": "Degraded", "status": "False"}, {"type": "Ready", "status": "True"}],
                "interfaces": [{"name": "ens1"}, {"name": "ens2"}]}});
        let at = |p: &str| json_path(&object, p).cloned();
        assert_eq!(at(".status.syncStatus"), Some(json!("Succeeded")));
        assert_eq!(
            at(r".metadata.annotations.sriovnetwork\.openshift\.io/desired-state"),
            Some(json!("Idle"))
        );
        assert_eq!(
            at(r#".status.conditions[?(@.type=="Ready")].status"#),
            Some(json!("True"))
        );
        assert_eq!(at(".status.interfaces[1].name"), Some(json!("ens2")));
        assert_eq!(at(".status.interfaces[*].name"), Some(json!("ens1")));
        assert_eq!(at(".status.missing"), None);
    }

    #[test]
    fn ages_read_like_kubectl_ages() {
        let cases = [
            (-5, "<invalid>"),
            (-1, "0s"),
            (45, "45s"),
            (119, "119s"),
            (192, "3m12s"),
            (300, "5m"),
            (3_000, "50m"),
            (5 * 3600 + 60 * 7, "5h7m"),
            (30 * 3600, "30h"),
            (3 * 86_400 + 3600 * 4, "3d4h"),
            (40 * 86_400, "40d"),
            (3 * 365 * 86_400 + 86_400 * 20, "3y20d"),
            (10 * 365 * 86_400, "10y"),
        ];
        for (seconds, text) in cases {
            assert_eq!(human_duration(seconds), text, "{seconds}");
        }
    }
}
