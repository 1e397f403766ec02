//! GET, list and watch.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use futures::StreamExt;
use http::{Response, header};
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;

use super::{Call, Shared, failure};
use crate::resources::ResourceType;
use crate::selector::{FieldSelector, LabelSelector};
use crate::status::ApiError;
use crate::store::{Event, EventType};

/// The field labels `fieldSelector` accepts for a resource.
pub(crate) fn supported_fields(resource: &ResourceType) -> Vec<&'static str> {
    let mut fields = vec!["metadata.name"];
    if resource.namespaced {
        fields.push("metadata.namespace");
    }
    let extra: &[&str] = match (resource.group.as_str(), resource.plural.as_str()) {
        ("", "pods") => &[
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        ],
        ("", "nodes") => &["spec.unschedulable"],
        ("", "namespaces") => &["status.phase"],
        ("", "secrets") => &["type"],
        ("", "services") => &["spec.clusterIP", "spec.type"],
        ("events.k8s.io", "events") => &crate::events::VIEW_FIELDS.map(|(view, _)| view),
        ("", "events") => &[
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ],
        _ => &[],
    };
    fields.extend_from_slice(extra);
    fields
}

/// An object as served at the request's version (versions of a resource share storage).
pub(crate) fn served(resource: &ResourceType, object: &Value) -> Value {
    if crate::events::is_view(resource) {
        return crate::events::to_view(object);
    }
    let mut object = object.clone();
    object["apiVersion"] = json!(resource.api_version());
    object
}

/// The request's selectors; 400 when one does not parse.
fn selectors(call: &Call) -> Result<(LabelSelector, FieldSelector), ApiError> {
    let labels = LabelSelector::parse(call.params.get("labelSelector").map_or("", String::as_str))
        .map_err(ApiError::bad_request)?;
    let fields = FieldSelector::parse(
        call.params.get("fieldSelector").map_or("", String::as_str),
        &supported_fields(&call.resource),
    )
    .map_err(ApiError::bad_request)?;
    let fields = if crate::events::is_view(&call.resource) {
        fields.on_storage(crate::events::storage_field)
    } else {
        fields
    };
    Ok((labels, fields))
}

fn in_scope(call: &Call, object: &Value) -> bool {
    call.target.namespace.as_deref().is_none_or(|ns| {
        object
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            == Some(ns)
    })
}

pub(super) fn get(shared: &Shared, call: &Call) -> Result<(u16, Value), ApiError> {
    let name = call.target.name.as_deref().unwrap_or_default();
    let state = shared.lock();
    let key = (
        call.target.namespace.clone().unwrap_or_default(),
        name.to_owned(),
    );
    let object = state
        .get(&call.resource.key(), &key)
        .ok_or_else(|| ApiError::not_found(&call.resource, name))?;
    Ok((200, served(&call.resource, object)))
}

/// A continue token: the list's resourceVersion and the last key served, hex-encoded.
fn token(rv: u64, namespace: &str, name: &str) -> String {
    format!("{rv}\n{namespace}\n{name}")
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn parse_token(text: &str) -> Option<(u64, String, String)> {
    let bytes: Option<Vec<u8>> = (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect();
    let decoded = String::from_utf8(bytes?).ok()?;
    let mut parts = decoded.splitn(3, '\n');
    Some((
        parts.next()?.parse().ok()?,
        parts.next()?.to_owned(),
        parts.next()?.to_owned(),
    ))
}

/// The objects a list answers with (shared, not copied), its resourceVersion and the
/// continue token of the next page.
type Selection = (Vec<std::sync::Arc<Value>>, u64, Option<String>);

fn select(shared: &Shared, call: &Call) -> Result<Selection, ApiError> {
    let (labels, fields) = selectors(call)?;
    let limit: usize = match call.params.get("limit") {
        None => 0,
        Some(text) => text.parse().map_err(|_| {
            ApiError::bad_request(format!("limit: invalid value {text:?}: must be an integer"))
        })?,
    };
    let after = match call.params.get("continue").filter(|c| !c.is_empty()) {
        None => None,
        Some(text) => Some(parse_token(text).ok_or_else(|| {
            ApiError::bad_request(
                "continue key is not valid: incorrect encoded start resourceVersion",
            )
        })?),
    };
    let state = shared.lock();
    let list_rv = after.as_ref().map_or(state.rv, |(rv, _, _)| *rv);
    let mut items: Vec<std::sync::Arc<Value>> = Vec::new();
    let mut last: Option<&(String, String)> = None;
    let mut next = None;
    for (key, object) in state.list(&call.resource.key()) {
        if let Some((_, ns, n)) = &after
            && (&key.0, &key.1) <= (ns, n)
        {
            continue;
        }
        if !in_scope(call, object) || !labels.matches_object(object) || !fields.matches(object) {
            continue;
        }
        if limit > 0 && items.len() == limit {
            next = last.map(|(ns, n)| token(list_rv, ns, n));
            break;
        }
        items.push(std::sync::Arc::clone(object));
        last = Some(key);
    }
    Ok((items, list_rv, next))
}

fn list_metadata(list_rv: u64, next: Option<String>) -> Value {
    let mut metadata = json!({"resourceVersion": list_rv.to_string()});
    if let Some(next) = next {
        metadata["continue"] = json!(next);
    }
    metadata
}

/// A list as a value (deletecollection reads it).
pub(super) fn list(shared: &Shared, call: &Call) -> Result<(u16, Value), ApiError> {
    let (items, list_rv, next) = select(shared, call)?;
    let items: Vec<Value> = items.iter().map(|o| served(&call.resource, o)).collect();
    Ok((
        200,
        json!({
            "kind": call.resource.list_kind,
            "apiVersion": call.resource.api_version(),
            "metadata": list_metadata(list_rv, next),
            "items": items,
        }),
    ))
}

/// A list as the answer's text, written straight from the stored objects (no copy of
/// objects already at the requested apiVersion): what GET of a collection sends.
pub(super) fn list_text(shared: &Shared, call: &Call) -> Result<String, ApiError> {
    let (items, list_rv, next) = select(shared, call)?;
    if call.shape != crate::table::Shape::Object {
        let items: Vec<Value> = items.iter().map(|o| served(&call.resource, o)).collect();
        let metadata = list_metadata(list_rv, next);
        return Ok(crate::table::list(&call.resource, call.shape, &items, metadata).to_string());
    }
    let api_version = call.resource.api_version();
    let mut out = String::with_capacity(64 + items.len() * 512);
    out.push_str(&format!(
        "{{\"kind\":{},\"apiVersion\":{},\"metadata\":{},\"items\":[",
        json!(call.resource.list_kind),
        json!(api_version),
        list_metadata(list_rv, next)
    ));
    for (i, object) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let text = if object.get("apiVersion").and_then(Value::as_str) == Some(api_version.as_str())
        {
            serde_json::to_string(&**object)
        } else {
            serde_json::to_string(&served(&call.resource, object))
        };
        out.push_str(&text.unwrap_or_default());
    }
    out.push_str("]}");
    Ok(out)
}

/// One line of a watch stream.
fn line(kind: &str, object: &Value) -> Bytes {
    let mut text = json!({"type": kind, "object": object}).to_string();
    text.push('\n');
    Bytes::from(text)
}

fn bookmark(resource: &ResourceType, rv: u64, initial_end: bool) -> Bytes {
    let mut metadata = json!({"resourceVersion": rv.to_string()});
    if initial_end {
        metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    line(
        "BOOKMARK",
        &json!({"kind": resource.kind, "apiVersion": resource.api_version(), "metadata": metadata}),
    )
}

/// What the watch does with one stored event, given its filters.
struct Filter {
    resource: ResourceType,
    namespace: Option<String>,
    labels: LabelSelector,
    fields: FieldSelector,
    shape: crate::table::Shape,
}

impl Filter {
    /// A stored object as this watch presents it.
    fn present(&self, object: &Value) -> Value {
        crate::table::one(&self.resource, self.shape, served(&self.resource, object))
    }

    fn matches(&self, object: &Value) -> bool {
        self.namespace.as_deref().is_none_or(|ns| {
            object
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                == Some(ns)
        }) && self.labels.matches_object(object)
            && self.fields.matches(object)
    }

    /// The line for `event`, if this watch sees it: an object entering the selection is
    /// ADDED, one leaving it is DELETED.
    fn line(&self, event: &Event) -> Option<Bytes> {
        if event.resource != self.resource.key() {
            return None;
        }
        let now = self.matches(&event.object);
        let before = event.previous.as_deref().is_some_and(|p| self.matches(p));
        let kind = match event.kind {
            EventType::Added if now => EventType::Added,
            EventType::Modified if now && before => EventType::Modified,
            EventType::Modified if now => EventType::Added,
            EventType::Modified if before => EventType::Deleted,
            EventType::Deleted if now || before => EventType::Deleted,
            _ => return None,
        };
        if self.shape != crate::table::Shape::Object {
            return Some(line(kind.as_str(), &self.present(&event.object)));
        }
        let stored_version = event.object.get("apiVersion").and_then(Value::as_str);
        if stored_version == Some(self.resource.api_version().as_str()) {
            // Serialized once, shared by every watcher of this version.
            return Some(
                event.lines[kind.index()]
                    .get_or_init(|| line(kind.as_str(), &event.object))
                    .clone(),
            );
        }
        Some(line(kind.as_str(), &served(&self.resource, &event.object)))
    }
}

/// The watch's 410 answer: a 200 stream with one ERROR event.
fn expired_stream(from: u64, compacted: u64) -> Response<Body> {
    let status = ApiError::expired(format!("too old resource version: {from} ({compacted})"));
    stream_response(futures::stream::iter([Ok::<_, std::convert::Infallible>(
        line("ERROR", &status.to_status()),
    )]))
}

fn stream_response<S>(stream: S) -> Response<Body>
where
    S: futures::Stream<Item = Result<Bytes, std::convert::Infallible>> + Send + 'static,
{
    Response::builder()
        .status(200)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(stream))
        .unwrap_or_default()
}

pub(super) fn watch(shared: &Arc<Shared>, call: &Call) -> Response<Body> {
    let (labels, fields) = match selectors(call) {
        Ok(s) => s,
        Err(e) => return failure(&e),
    };
    let send_initial = super::super::meta::flag(&call.params, "sendInitialEvents");
    let bookmarks = super::super::meta::flag(&call.params, "allowWatchBookmarks");
    let rv_param = call
        .params
        .get("resourceVersion")
        .cloned()
        .unwrap_or_default();
    let from_start = rv_param.is_empty() || rv_param == "0" || send_initial;
    let from: u64 = if from_start {
        0
    } else {
        match rv_param.parse() {
            Ok(rv) => rv,
            Err(_) => {
                return failure(&ApiError::bad_request(format!(
                    "resourceVersion: Invalid value: {rv_param:?}: must be a number"
                )));
            }
        }
    };
    let timeout = call
        .params
        .get("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .map_or(Duration::from_secs(1800), Duration::from_secs);
    let filter = Filter {
        resource: call.resource.clone(),
        namespace: call.target.namespace.clone(),
        labels,
        fields,
        shape: call.shape,
    };
    let (initial, start_rv, subscription) = {
        let state = shared.lock();
        let mut initial: Vec<Bytes> = Vec::new();
        let start = if from_start { state.rv } else { from };
        if from_start {
            for (_, object) in state.list(&call.resource.key()) {
                if filter.matches(object) {
                    initial.push(line("ADDED", &filter.present(object)));
                }
            }
        }
        match state.subscribe(start) {
            Ok(sub) => (initial, start, sub),
            Err(compacted) => {
                drop(state);
                shared.lock().expired_watches += 1;
                return expired_stream(from, compacted);
            }
        }
    };
    let mut head: Vec<Bytes> = initial;
    if send_initial && bookmarks {
        head.push(bookmark(&call.resource, start_rv, true));
    }
    head.extend(subscription.backlog.iter().filter_map(|e| filter.line(e)));
    let mut last_rv = subscription.backlog.last().map_or(start_rv, |e| e.rv);
    let mut receiver = subscription.receiver;
    let deadline = tokio::time::Instant::now() + timeout;
    let mut closing = shared.closing.subscribe();
    let counter = Arc::clone(shared);
    let tail = async_tail(move |out| async move {
        if *closing.borrow_and_update() {
            return;
        }
        loop {
            tokio::select! {
                // The server is stopping: end the stream as a stopping kube-apiserver does.
                _ = closing.changed() => return,
                received = receiver.recv() => match received {
                    Ok(event) => {
                        if event.rv <= last_rv {
                            continue;
                        }
                        last_rv = event.rv;
                        if let Some(bytes) = filter.line(&event) && out.send(bytes).await.is_err() {
                            return;
                        }
                    }
                    Err(RecvError::Lagged(_)) => {
                        counter.lock().expired_watches += 1;
                        let status = ApiError::expired(format!(
                            "too old resource version: {last_rv} (the watch fell too far behind)"
                        ));
                        let _ = out.send(line("ERROR", &status.to_status())).await;
                        return;
                    }
                    Err(RecvError::Closed) => return,
                },
                () = tokio::time::sleep_until(deadline) => {
                    if bookmarks {
                        let _ = out.send(bookmark(&filter.resource, last_rv, false)).await;
                    }
                    return;
                }
            }
        }
    });
    let stream = futures::stream::iter(head).chain(tail).map(Ok);
    stream_response(stream)
}

/// A stream fed by a task: `body` gets a sender and the stream ends when it returns (or
/// when the client goes away, which makes sends fail).
fn async_tail<F, Fut>(body: F) -> impl futures::Stream<Item = Bytes> + Send + 'static
where
    F: FnOnce(tokio::sync::mpsc::Sender<Bytes>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (sender, receiver) = tokio::sync::mpsc::channel(64);
    tokio::spawn(body(sender));
    tokio_stream::wrappers::ReceiverStream::new(receiver)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_tokens_round_trip() {
        let t = token(42, "ns", "a\nb");
        assert_eq!(parse_token(&t), Some((42, "ns".into(), "a\nb".into())));
        assert_eq!(parse_token("zz"), None);
    }
}
