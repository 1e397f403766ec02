//! One storage, two views of Events: they are stored as core `v1` Events and served at
//! `events.k8s.io/v1` converted field by field, so an Event a controller records through
//! the new API (kube-rs's `Recorder` does) is what `kubectl get events` and
//! `kubectl describe` read through the old one, and the other way round.

use serde_json::{Map, Value, json};

use crate::resources::ResourceType;

/// Core field ↔ `events.k8s.io/v1` field; the others (`metadata`, `reason`, `type`,
/// `action`, `related`, `series`, `eventTime`, `reportingInstance`) have one name.
const RENAMED: [(&str, &str); 7] = [
    ("involvedObject", "regarding"),
    ("message", "note"),
    ("reportingComponent", "reportingController"),
    ("count", "deprecatedCount"),
    ("source", "deprecatedSource"),
    ("firstTimestamp", "deprecatedFirstTimestamp"),
    ("lastTimestamp", "deprecatedLastTimestamp"),
];

/// Whether `resource` is the `events.k8s.io` view of the core Events.
pub(crate) fn is_view(resource: &ResourceType) -> bool {
    resource.group == "events.k8s.io" && resource.plural == "events"
}

fn rename(object: &Value, api_version: &str, from_core: bool) -> Value {
    let Some(map) = object.as_object() else {
        return object.clone();
    };
    let mut out = Map::with_capacity(map.len());
    for (key, value) in map {
        let renamed = RENAMED.iter().find_map(|&(core, view)| {
            let (from, to) = if from_core {
                (core, view)
            } else {
                (view, core)
            };
            (key == from).then_some(to)
        });
        out.insert(renamed.unwrap_or(key).to_owned(), value.clone());
    }
    out.insert("apiVersion".into(), json!(api_version));
    Value::Object(out)
}

/// A stored core Event as `events.k8s.io/v1` serves it.
pub(crate) fn to_view(core: &Value) -> Value {
    rename(core, "events.k8s.io/v1", true)
}

/// An `events.k8s.io/v1` Event as it is stored.
pub(crate) fn from_view(view: &Value) -> Value {
    rename(view, "v1", false)
}

/// The `fieldSelector` labels of the view, and the stored fields they select on.
pub(crate) const VIEW_FIELDS: [(&str, &str); 9] = [
    ("regarding.kind", "involvedObject.kind"),
    ("regarding.namespace", "involvedObject.namespace"),
    ("regarding.name", "involvedObject.name"),
    ("regarding.uid", "involvedObject.uid"),
    ("regarding.apiVersion", "involvedObject.apiVersion"),
    (
        "regarding.resourceVersion",
        "involvedObject.resourceVersion",
    ),
    ("regarding.fieldPath", "involvedObject.fieldPath"),
    ("reportingController", "reportingComponent"),
    ("type", "type"),
];

/// The stored field a view's field label selects on (`reason` and metadata pass through).
pub(crate) fn storage_field(field: &str) -> &str {
    VIEW_FIELDS
        .iter()
        .find(|(view, _)| *view == field)
        .map_or(field, |(_, core)| core)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_views_convert_both_ways_without_loss() {
        let core = json!({"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e", "namespace": "default"},
            "involvedObject": {"kind": "Node", "name": "n1"}, "reason": "Drain", "message": "draining",
            "type": "Normal", "reportingComponent": "sriov-operator", "reportingInstance": "pod-1",
            "count": 3, "source": {"component": "sriov-operator"},
            "firstTimestamp": "2026-01-01T00:00:00Z", "lastTimestamp": "2026-01-01T00:01:00Z",
            "eventTime": "2026-01-01T00:00:00.123456Z", "series": {"count": 2, "lastObservedTime": "2026-01-01T00:01:00.000001Z"}});
        let view = to_view(&core);
        assert_eq!(view["apiVersion"], "events.k8s.io/v1");
        assert_eq!(view["regarding"]["name"], "n1");
        assert_eq!(view["note"], "draining");
        assert_eq!(view["reportingController"], "sriov-operator");
        assert_eq!(view["deprecatedCount"], 3);
        assert_eq!(view["series"]["count"], 2);
        assert!(view.get("involvedObject").is_none() && view.get("message").is_none());
        assert_eq!(from_view(&view), core);
        assert_eq!(storage_field("regarding.name"), "involvedObject.name");
        assert_eq!(storage_field("reason"), "reason");
    }
}
