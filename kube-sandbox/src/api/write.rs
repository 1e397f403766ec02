//! POST, PUT, PATCH and DELETE, with kube-apiserver's object semantics: server-owned
//! metadata, optimistic concurrency, the status subresource, generations, no-op writes,
//! finalizers and graceful pod deletion, dry runs, and CRDs starting and stopping what they
//! serve.

use serde_json::{Value, json};

use super::read::served;
use super::{Call, Shared};
use crate::meta::{self, finalizers, meta_str};
use crate::patch;
use crate::resources::{self, ResourceType};
use crate::ssa;
use crate::status::{self, ApiError, Cause};
use crate::store::State;

fn invalid(
    resource: &ResourceType,
    name: &str,
    field: &str,
    reason: &str,
    message: String,
) -> ApiError {
    ApiError::invalid(
        resource,
        name,
        vec![Cause {
            reason: reason.to_owned(),
            message,
            field: field.to_owned(),
        }],
    )
}

/// The object's `apiVersion`/`kind` against the endpoint's; fills them when absent.
fn check_type(call: &Call, object: &mut Value) -> Result<(), ApiError> {
    let resource = &call.resource;
    if !object.is_object() {
        return Err(ApiError::bad_request(format!(
            "{} in version {:?} cannot be handled as a {}: the body is not a JSON object",
            resource.kind, resource.version, resource.kind
        )));
    }
    match object.get("apiVersion").and_then(Value::as_str) {
        None | Some("") => object["apiVersion"] = json!(resource.api_version()),
        Some(v) if v == resource.api_version() => {}
        Some(v) => {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({v}) does not match the expected API version ({})",
                resource.api_version()
            )));
        }
    }
    match object.get("kind").and_then(Value::as_str) {
        None | Some("") => object["kind"] = json!(resource.kind),
        Some(k) if k == resource.kind => {}
        Some(k) => {
            return Err(ApiError::bad_request(format!(
                "the kind in the data ({k}) does not match the expected kind ({})",
                resource.kind
            )));
        }
    }
    if !object.get("metadata").is_some_and(Value::is_object) {
        object["metadata"] = json!({});
    }
    if crate::events::is_view(resource) {
        *object = crate::events::from_view(object);
    }
    if resource.group.is_empty() && resource.plural == "secrets" {
        merge_string_data(object);
    }
    Ok(())
}

/// A Secret's write-only `stringData` goes into `data`, base64-encoded, over any entry of
/// the same key, and is not stored (as the Secret's conversion does).
fn merge_string_data(secret: &mut Value) {
    use base64::Engine as _;
    let Some(strings) = secret.as_object_mut().and_then(|m| m.remove("stringData")) else {
        return;
    };
    let Some(strings) = strings.as_object() else {
        return;
    };
    if !secret.get("data").is_some_and(Value::is_object) {
        secret["data"] = json!({});
    }
    for (key, value) in strings {
        let text = value.as_str().unwrap_or_default();
        secret["data"][key] = json!(base64::engine::general_purpose::STANDARD.encode(text));
    }
}

/// The namespace of a namespaced write: the URL's; a different one in the body is 400.
fn namespace_of(call: &Call, object: &mut Value) -> Result<String, ApiError> {
    if !call.resource.namespaced {
        if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.remove("namespace");
        }
        return Ok(String::new());
    }
    let url = call.target.namespace.clone().unwrap_or_default();
    match meta_str(object, "namespace") {
        None | Some("") => object["metadata"]["namespace"] = json!(url),
        Some(ns) if ns == url => {}
        Some(_) => {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
    }
    Ok(url)
}

/// A namespaced object may be written only into an existing namespace that is not being
/// deleted.
fn check_namespace(
    state: &State,
    call: &Call,
    namespace: &str,
    name: &str,
) -> Result<(), ApiError> {
    if !call.resource.namespaced {
        return Ok(());
    }
    let key = resources::ResourceKey {
        group: String::new(),
        plural: "namespaces".into(),
    };
    let Some(ns) = state.get(&key, &(String::new(), namespace.to_owned())) else {
        return Err(ApiError::namespace_not_found(namespace));
    };
    if ns.pointer("/metadata/deletionTimestamp").is_some() {
        return Err(ApiError {
            details: Some(Box::new(json!({
                "name": name, "group": call.resource.group, "kind": call.resource.plural,
                "causes": [{"reason": "NamespaceTerminating", "message": format!("namespace {namespace} is being terminated"), "field": "metadata.namespace"}]
            }))),
            ..ApiError::new(
                403,
                "Forbidden",
                format!(
                    "{} {name:?} is forbidden: unable to create new content in namespace {namespace} because it is being terminated",
                    call.resource.qualified()
                ),
            )
        });
    }
    Ok(())
}

/// Whether anything outside `metadata` (and `status`, when it is a subresource) differs.
fn spec_changed(resource: &ResourceType, old: &Value, new: &Value) -> bool {
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(map) = v.as_object_mut() {
            map.remove("metadata");
            if resource.status {
                map.remove("status");
            }
        }
        v
    };
    strip(old) != strip(new)
}

/// What keeps an object that is being deleted: its finalizers, and for a namespace also
/// `spec.finalizers` (emptied through `/finalize` by the namespace controller).
fn blocking_finalizers(resource: &ResourceType, object: &Value) -> usize {
    let spec = if resource.plural == "namespaces" && resource.group.is_empty() {
        object
            .pointer("/spec/finalizers")
            .and_then(Value::as_array)
            .map_or(0, Vec::len)
    } else {
        0
    };
    finalizers(object).len() + spec
}

fn generation(object: &Value) -> i64 {
    object
        .pointer("/metadata/generation")
        .and_then(Value::as_i64)
        .unwrap_or(0)
}

/// Kind-specific set-up of a new object.
fn on_create(state: &mut State, call: &Call, object: &mut Value) -> Result<(), ApiError> {
    match (call.resource.group.as_str(), call.resource.plural.as_str()) {
        ("", "namespaces") => {
            object["spec"]["finalizers"] = json!(["kubernetes"]);
            object["status"] = json!({"phase": "Active"});
        }
        ("apiextensions.k8s.io", "customresourcedefinitions") => {
            let served = resources::from_crd(object).map_err(|e| {
                invalid(
                    &call.resource,
                    meta_str(object, "name").unwrap_or_default(),
                    &e.field,
                    "FieldValueInvalid",
                    e.reason,
                )
            })?;
            object["status"] = crd_status(object);
            state.registry.add_crd(served);
        }
        _ => {}
    }
    Ok(())
}

/// The status a CRD gets at once: names accepted, established.
fn crd_status(crd: &Value) -> Value {
    let names = crd.pointer("/spec/names").cloned().unwrap_or(json!({}));
    let mut accepted = names.clone();
    if accepted.get("singular").is_none()
        && let Some(kind) = names.get("kind").and_then(Value::as_str)
    {
        accepted["singular"] = json!(kind.to_ascii_lowercase());
    }
    if accepted.get("listKind").is_none()
        && let Some(kind) = names.get("kind").and_then(Value::as_str)
    {
        accepted["listKind"] = json!(format!("{kind}List"));
    }
    let stored: Vec<Value> = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
        .filter_map(|v| v.get("name").cloned())
        .collect();
    let now = meta::now();
    json!({
        "acceptedNames": accepted,
        "storedVersions": stored,
        "conditions": [
            {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found", "lastTransitionTime": now},
            {"type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": "the initial names have been accepted", "lastTransitionTime": now},
        ],
    })
}

/// How a write's field ownership is recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Managed {
    /// An `Update` by the call's manager.
    Update,
    /// Already computed by an apply (the object carries its managedFields).
    Applied,
}

/// A write prepared up to admission: the object it would store and the one it replaces.
#[derive(Debug)]
pub(crate) struct Pending {
    /// The namespace (empty when cluster-scoped) and name written.
    pub(crate) key: (String, String),
    /// The stored object replaced; `None` for a create.
    pub(crate) old: Option<std::sync::Arc<Value>>,
    /// What would be stored (pruned and defaulted; managed fields and resourceVersion are
    /// set when it is committed).
    pub(crate) object: Value,
    pub(crate) dry_run: bool,
    managed: Managed,
    /// The managedFields an apply computed.
    applied_fields: Option<Value>,
}

impl Pending {
    /// Whether the object replaced is still the one stored (a create re-checks at commit).
    fn is_current(&self, state: &State, call: &Call) -> bool {
        let Some(old) = &self.old else {
            return true;
        };
        state
            .get(&call.resource.key(), &self.key)
            .is_some_and(|now| meta_str(now, "resourceVersion") == meta_str(old, "resourceVersion"))
    }
}

/// How a verb prepares its write, under the lock.
pub(super) type Prepare = fn(&mut State, &Call) -> Result<Pending, ApiError>;

/// How many times a write is prepared again when the object changed while its admission
/// webhooks ran (kube-apiserver retries such conflicts for writes without a precondition).
const ADMISSION_ATTEMPTS: usize = 5;

/// Runs a create, update or patch: prepare under the lock, admission (when webhooks are
/// registered: the lock is released while they are called), schema validation, commit.
pub(super) async fn write(
    shared: &Shared,
    call: &Call,
    prepare: Prepare,
) -> Result<(u16, Value), ApiError> {
    let hooks = shared.webhooks();
    if !hooks.may_admit(&call.resource) {
        return unadmitted(shared, call, prepare);
    }
    for _ in 0..ADMISSION_ATTEMPTS {
        let (mut pending, namespace_labels) = {
            let mut state = shared.lock();
            let pending = prepare(&mut state, call)?;
            let labels = crate::admission::namespace_labels(&state, &pending.key.0);
            (pending, labels)
        };
        let mut request = crate::admission::Attributes::of_write(call, &pending, namespace_labels);
        if hooks.mutate(shared, call, &mut request).await?
            && let Some(mutated) = request.object.take()
        {
            pending.object = if crate::events::is_view(&call.resource) {
                crate::events::from_view(&mutated)
            } else {
                mutated
            };
            // What a webhook added is pruned and defaulted like the client's fields.
            call.decode(&mut pending.object, false)?;
            request.object = Some(pending.object.clone());
        }
        call.validate(&mut pending.object, &pending.key.1)?;
        hooks.validate(shared, call, &request).await?;
        let mut state = shared.lock();
        if pending.is_current(&state, call) {
            return commit(&mut state, call, pending);
        }
    }
    Err(ApiError::conflict(
        &call.resource,
        call.target.name.as_deref().unwrap_or_default(),
    ))
}

/// A write without admission webhooks: prepared, validated and committed under one lock.
pub(super) fn unadmitted(
    shared: &Shared,
    call: &Call,
    prepare: Prepare,
) -> Result<(u16, Value), ApiError> {
    let mut state = shared.lock();
    let mut pending = prepare(&mut state, call)?;
    call.validate(&mut pending.object, &pending.key.1)?;
    commit(&mut state, call, pending)
}

fn commit(state: &mut State, call: &Call, pending: Pending) -> Result<(u16, Value), ApiError> {
    if pending.old.is_some() {
        commit_replace(state, call, pending)
    } else {
        commit_create(state, call, pending)
    }
}

pub(super) fn create(state: &mut State, call: &Call) -> Result<Pending, ApiError> {
    if call.target.name.is_some() {
        return Err(ApiError::method_not_allowed("create", &call.resource));
    }
    let dry_run = call.dry_run("CreateOptions")?;
    let object = call.json_body()?;
    create_locked(state, call, object, dry_run, Managed::Update)
}

fn create_locked(
    state: &mut State,
    call: &Call,
    mut object: Value,
    dry_run: bool,
    managed: Managed,
) -> Result<Pending, ApiError> {
    check_type(call, &mut object)?;
    let namespace = namespace_of(call, &mut object)?;
    let name = match (meta_str(&object, "name"), meta_str(&object, "generateName")) {
        (Some(name), _) if !name.is_empty() => name.to_owned(),
        (_, Some(base)) if !base.is_empty() => meta::generated_name(base),
        _ => {
            return Err(invalid(
                &call.resource,
                "",
                "metadata.name",
                "FieldValueRequired",
                "Required value: name or generateName is required".into(),
            ));
        }
    };
    let name_error = if call.resource.plural == "namespaces" && call.resource.group.is_empty() {
        meta::label_error(&name)
    } else {
        meta::subdomain_error(&name)
    };
    if let Some(message) = name_error {
        return Err(invalid(
            &call.resource,
            &name,
            "metadata.name",
            "FieldValueInvalid",
            message,
        ));
    }
    if meta_str(&object, "resourceVersion").is_some_and(|rv| !rv.is_empty()) {
        return Err(ApiError::new(
            500,
            "",
            "resourceVersion should not be set on objects to be created",
        ));
    }
    check_namespace(state, call, &namespace, &name)?;
    let key = (namespace, name.clone());
    if state.get(&call.resource.key(), &key).is_some() {
        return Err(ApiError::already_exists(&call.resource, &name));
    }
    {
        let meta = object["metadata"]
            .as_object_mut()
            .ok_or_else(|| ApiError::bad_request("metadata must be an object"))?;
        meta.insert("name".into(), json!(name));
        meta.insert("uid".into(), json!(meta::uid()));
        meta.insert("creationTimestamp".into(), json!(meta::now()));
        meta.remove("deletionTimestamp");
        meta.remove("deletionGracePeriodSeconds");
        if call.resource.tracks_generation {
            meta.insert("generation".into(), json!(1));
        } else {
            meta.remove("generation");
        }
    }
    if call.resource.custom
        && call.resource.status
        && let Some(map) = object.as_object_mut()
    {
        map.remove("status");
    }
    // After the status is gone: a create's status is not stored, so not checked either.
    call.decode(&mut object, true)?;
    Ok(Pending {
        key,
        old: None,
        object,
        dry_run,
        managed,
        applied_fields: None,
    })
}

/// Stores a prepared create (re-checking what may have changed while admission ran).
fn commit_create(
    state: &mut State,
    call: &Call,
    pending: Pending,
) -> Result<(u16, Value), ApiError> {
    let Pending {
        key,
        mut object,
        dry_run,
        managed,
        ..
    } = pending;
    let name = key.1.clone();
    check_namespace(state, call, &key.0, &name)?;
    if state.get(&call.resource.key(), &key).is_some() {
        return Err(ApiError::already_exists(&call.resource, &name));
    }
    if managed == Managed::Update {
        object = ssa::update(
            None,
            object,
            &call.manager(),
            None,
            &meta::now(),
            call.fields_context(),
        );
    }
    if dry_run {
        // Validate as a real create would, without serving anything new.
        if call.resource.plural == "customresourcedefinitions" {
            resources::from_crd(&object).map_err(|e| {
                invalid(
                    &call.resource,
                    &name,
                    &e.field,
                    "FieldValueInvalid",
                    e.reason,
                )
            })?;
        }
        return Ok((201, served(&call.resource, &object)));
    }
    on_create(state, call, &mut object)?;
    let rv = state.next_rv();
    object["metadata"]["resourceVersion"] = json!(rv.to_string());
    let stored = state.put(&call.resource.key(), key, object, rv);
    Ok((201, served(&call.resource, &stored)))
}

/// Writes `new` over the stored object `name`: the shared end of PUT and PATCH.
/// `require_rv`: a PUT of a custom resource (or CRD) must carry a resourceVersion.
fn replace(
    state: &mut State,
    call: &Call,
    mut new: Value,
    require_rv: bool,
    dry_run: bool,
    managed: Managed,
) -> Result<Pending, ApiError> {
    let applied_fields = new.pointer("/metadata/managedFields").cloned();
    let resource = &call.resource;
    let name = call.target.name.clone().unwrap_or_default();
    let namespace = call.target.namespace.clone().unwrap_or_default();
    let key = (namespace, name.clone());
    let old = state
        .get(&resource.key(), &key)
        .cloned()
        .ok_or_else(|| ApiError::not_found(resource, &name))?;
    check_type(call, &mut new)?;
    match meta_str(&new, "name") {
        None | Some("") => new["metadata"]["name"] = json!(name),
        Some(n) if n == name => {}
        Some(n) => {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({n}) does not match the name on the URL ({name})"
            )));
        }
    }
    namespace_of(call, &mut new)?;
    let old_rv = meta_str(&old, "resourceVersion")
        .unwrap_or_default()
        .to_owned();
    match meta_str(&new, "resourceVersion") {
        None | Some("") if require_rv => {
            return Err(invalid(
                resource,
                &name,
                "metadata.resourceVersion",
                "FieldValueInvalid",
                "Invalid value: 0x0: must be specified for an update".into(),
            )
            .with_plural_kind(resource));
        }
        None | Some("") => {}
        Some(rv) if rv == old_rv => {}
        Some(_) => return Err(ApiError::conflict(resource, &name)),
    }
    let status_write = call.target.subresource.as_deref() == Some("status");
    if status_write {
        let status = new.get("status").cloned();
        new = (*old).clone();
        match status {
            Some(status) => new["status"] = status,
            None => {
                if let Some(map) = new.as_object_mut() {
                    map.remove("status");
                }
            }
        }
    } else if resource.status {
        match old.get("status") {
            Some(status) => new["status"] = status.clone(),
            None => {
                if let Some(map) = new.as_object_mut() {
                    map.remove("status");
                }
            }
        }
    }
    // A namespace's spec.finalizers change only through `/finalize`, and only they do.
    if resource.plural == "namespaces" && resource.group.is_empty() {
        let finalize = call.target.subresource.as_deref() == Some("finalize");
        let wanted = new.pointer("/spec/finalizers").cloned();
        let kept = old.pointer("/spec/finalizers").cloned();
        if finalize {
            new = (*old).clone();
        }
        let value = if finalize { wanted } else { kept };
        match value {
            Some(v) => new["spec"]["finalizers"] = v,
            None => {
                if let Some(spec) = new.get_mut("spec").and_then(Value::as_object_mut) {
                    spec.remove("finalizers");
                }
            }
        }
    }
    // Server-owned metadata is the stored object's.
    for field in [
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
    ] {
        match old.pointer(&format!("/metadata/{field}")) {
            Some(value) => new["metadata"][field] = value.clone(),
            None => {
                if let Some(meta) = new["metadata"].as_object_mut() {
                    meta.remove(field);
                }
            }
        }
    }
    let deleting = old.pointer("/metadata/deletionTimestamp").is_some();
    if deleting {
        let before = finalizers(&old);
        let added: Vec<String> = finalizers(&new)
            .into_iter()
            .filter(|f| !before.contains(f))
            .collect();
        if !added.is_empty() {
            return Err(invalid(
                resource,
                &name,
                "metadata.finalizers",
                "FieldValueForbidden",
                format!(
                    "Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{{{}}}",
                    added
                        .iter()
                        .map(|f| format!("{f:?}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    }
    call.decode(&mut new, true)?;
    Ok(Pending {
        key,
        old: Some(old),
        object: new,
        dry_run,
        managed,
        applied_fields,
    })
}

/// Stores a prepared replacement: managed fields, generation, the no-op rule, and the end
/// of a deletion whose last finalizer went.
fn commit_replace(
    state: &mut State,
    call: &Call,
    pending: Pending,
) -> Result<(u16, Value), ApiError> {
    let Pending {
        key,
        old,
        object: mut new,
        dry_run,
        managed,
        applied_fields,
    } = pending;
    let resource = &call.resource;
    let Some(old) = old else {
        return Err(ApiError::not_found(resource, &key.1));
    };
    let status_write = call.target.subresource.as_deref() == Some("status");
    let deleting = old.pointer("/metadata/deletionTimestamp").is_some();
    let old_rv = meta_str(&old, "resourceVersion")
        .unwrap_or_default()
        .to_owned();
    match managed {
        Managed::Update => {
            new = ssa::update(
                Some(&old),
                new,
                &call.manager(),
                call.target.subresource.as_deref(),
                &meta::now(),
                call.fields_context(),
            );
        }
        Managed::Applied => match applied_fields {
            Some(fields) => new["metadata"]["managedFields"] = fields,
            None => {
                if let Some(meta) = new["metadata"].as_object_mut() {
                    meta.remove("managedFields");
                }
            }
        },
    }
    if resource.tracks_generation && !status_write && spec_changed(resource, &old, &new) {
        new["metadata"]["generation"] = json!(generation(&old) + 1);
    }
    new["metadata"]["resourceVersion"] = json!(old_rv);
    if new == *old {
        // A no-op write stores nothing and tells no watcher.
        return Ok((200, served(resource, &old)));
    }
    if dry_run {
        return Ok((200, served(resource, &new)));
    }
    let rv = state.next_rv();
    new["metadata"]["resourceVersion"] = json!(rv.to_string());
    if deleting && blocking_finalizers(resource, &new) == 0 {
        state.remove(&resource.key(), &key, new.clone(), rv);
        after_delete(state, resource, &new);
        return Ok((200, served(resource, &new)));
    }
    if resource.plural == "customresourcedefinitions"
        && let Ok(served_types) = resources::from_crd(&new)
    {
        state.registry.add_crd(served_types);
    }
    let stored = state.put(&resource.key(), key, new, rv);
    Ok((200, served(resource, &stored)))
}

impl ApiError {
    /// The `details.kind` of this 422 is the plural (as for the missing-RV update error).
    fn with_plural_kind(mut self, resource: &ResourceType) -> Self {
        self.message = self
            .message
            .replacen(&resource.qualified_kind(), &resource.qualified(), 1);
        if let Some(details) = &mut self.details {
            details["kind"] = json!(resource.plural);
        }
        self
    }
}

pub(super) fn update(state: &mut State, call: &Call) -> Result<Pending, ApiError> {
    if call.target.name.is_none() {
        return Err(ApiError::method_not_allowed("update", &call.resource));
    }
    let dry_run = call.dry_run("UpdateOptions")?;
    let body = call.json_body()?;
    let require_rv = call.resource.custom || call.resource.plural == "customresourcedefinitions";
    replace(state, call, body, require_rv, dry_run, Managed::Update)
}

pub(super) fn patch(state: &mut State, call: &Call) -> Result<Pending, ApiError> {
    let name = call.target.name.clone().unwrap_or_default();
    if call.target.name.is_none() {
        return Err(ApiError::method_not_allowed("patch", &call.resource));
    }
    let dry_run = call.dry_run("PatchOptions")?;
    let unsupported = || {
        ApiError::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json{}",
                if call.resource.custom {
                    ""
                } else {
                    ", application/strategic-merge-patch+json"
                }
            ),
        )
    };
    // The patch type is checked before anything is read, as kube-apiserver does.
    let known = match call.content_type.as_str() {
        "application/merge-patch+json"
        | "application/json-patch+json"
        | "application/apply-patch+yaml" => true,
        "application/strategic-merge-patch+json" => !call.resource.custom,
        _ => false,
    };
    if !known {
        return Err(unsupported());
    }
    // (A YAML apply body was read as JSON on arrival.)
    let body: Value = serde_json::from_slice(&call.body)
        .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
    if call.content_type == "application/apply-patch+yaml" {
        return server_side_apply(state, call, body, dry_run);
    }
    let key = (
        call.target.namespace.clone().unwrap_or_default(),
        name.clone(),
    );
    // The patch applies to the object as this endpoint serves it.
    let mut current = state
        .get(&call.resource.key(), &key)
        .map(|o| served(&call.resource, o))
        .ok_or_else(|| ApiError::not_found(&call.resource, &name))?;
    let stored_rv = meta_str(&current, "resourceVersion")
        .unwrap_or_default()
        .to_owned();
    match call.content_type.as_str() {
        "application/merge-patch+json" => patch::merge(&mut current, &body),
        "application/json-patch+json" => patch::json_patch(&mut current, &body).map_err(|e| {
            tracing::debug!(error = %e, "JSON patch rejected");
            ApiError::new(
                422,
                "Invalid",
                "the server rejected our request due to an error in our request",
            )
        })?,
        "application/strategic-merge-patch+json" if !call.resource.custom => {
            patch::strategic(&mut current, &body);
        }
        _ => return Err(unsupported()),
    }
    // A resourceVersion the patch set (or kept) is a precondition; none means "whatever is
    // stored".
    if meta_str(&current, "resourceVersion").is_none_or(str::is_empty) {
        current["metadata"]["resourceVersion"] = json!(stored_rv);
    }
    replace(state, call, current, false, dry_run, Managed::Update)
}

/// `DeleteOptions`, from the body (kube-rs sends `{}`, kubectl a typed object).
struct DeleteOptions {
    grace: Option<i64>,
    propagation: Option<String>,
    uid: Option<String>,
    resource_version: Option<String>,
    dry_run: bool,
}

fn delete_options(call: &Call) -> Result<DeleteOptions, ApiError> {
    let body: Value = if call.body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        serde_json::from_slice(&call.body)
            .map_err(|e| ApiError::bad_request(format!("error decoding DeleteOptions: {e}")))?
    };
    let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    let body_dry = body
        .get("dryRun")
        .and_then(Value::as_array)
        .is_some_and(|a| a.iter().any(|v| v == "All"));
    Ok(DeleteOptions {
        grace: body
            .get("gracePeriodSeconds")
            .and_then(Value::as_i64)
            .or_else(|| {
                call.params
                    .get("gracePeriodSeconds")
                    .and_then(|g| g.parse().ok())
            }),
        propagation: text(&body, "propagationPolicy")
            .or_else(|| call.params.get("propagationPolicy").cloned()),
        uid: body
            .pointer("/preconditions/uid")
            .and_then(Value::as_str)
            .map(str::to_owned),
        resource_version: body
            .pointer("/preconditions/resourceVersion")
            .and_then(Value::as_str)
            .map(str::to_owned),
        dry_run: call.dry_run("DeleteOptions")? || body_dry,
    })
}

/// What deleting a CRD takes with it: its custom resources, and their endpoints.
fn after_delete(state: &mut State, resource: &ResourceType, object: &Value) {
    if resource.plural != "customresourcedefinitions" {
        return;
    }
    let group = object
        .pointer("/spec/group")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let plural = object
        .pointer("/spec/names/plural")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let key = resources::ResourceKey {
        group: group.to_owned(),
        plural: plural.to_owned(),
    };
    let doomed: Vec<_> = state
        .list(&key)
        .map(|(k, o)| (k.clone(), (**o).clone()))
        .collect();
    for (k, mut last) in doomed {
        let rv = state.next_rv();
        last["metadata"]["resourceVersion"] = json!(rv.to_string());
        state.remove(&key, &k, last, rv);
    }
    state.registry.remove_crd(group, plural);
}

/// DELETE of one object (after its admission webhooks allow it) or of a collection.
pub(super) async fn delete(shared: &Shared, call: &Call) -> Result<(u16, Value), ApiError> {
    if call.target.name.is_none() {
        return delete_collection(shared, call).await;
    }
    let options = delete_options(call)?;
    admit_delete(shared, call, options.dry_run).await?;
    delete_one(shared, call, &options)
}

/// Asks the webhooks registered for DELETE about the stored object (a missing one is left
/// for the delete to answer 404).
async fn admit_delete(shared: &Shared, call: &Call, dry_run: bool) -> Result<(), ApiError> {
    let hooks = shared.webhooks();
    if !hooks.may_admit(&call.resource) {
        return Ok(());
    }
    let (old, namespace_labels) = {
        let state = shared.lock();
        let key = (
            call.target.namespace.clone().unwrap_or_default(),
            call.target.name.clone().unwrap_or_default(),
        );
        let old = state
            .get(&call.resource.key(), &key)
            .map(|o| served(&call.resource, o));
        (old, crate::admission::namespace_labels(&state, &key.0))
    };
    let Some(old) = old else {
        return Ok(());
    };
    let mut request = crate::admission::Attributes::of_delete(call, old, dry_run, namespace_labels);
    // Mutating webhooks are asked too (a DELETE has nothing they could patch).
    hooks.mutate(shared, call, &mut request).await?;
    hooks.validate(shared, call, &request).await
}

/// DELETE of one object without asking admission webhooks (an eviction's pod deletion).
pub(super) fn delete_unadmitted(shared: &Shared, call: &Call) -> Result<(u16, Value), ApiError> {
    delete_one(shared, call, &delete_options(call)?)
}

fn delete_one(
    shared: &Shared,
    call: &Call,
    options: &DeleteOptions,
) -> Result<(u16, Value), ApiError> {
    let resource = &call.resource;
    let name = call.target.name.clone().unwrap_or_default();
    let mut state = shared.lock();
    let key = (
        call.target.namespace.clone().unwrap_or_default(),
        name.clone(),
    );
    let stored = state
        .get(&resource.key(), &key)
        .cloned()
        .ok_or_else(|| ApiError::not_found(resource, &name))?;
    let uid = meta_str(&stored, "uid").unwrap_or_default().to_owned();
    if let Some(expected) = &options.uid
        && *expected != uid
    {
        return Err(ApiError::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} {name:?}: the UID in the precondition ({expected}) does not match the UID in record ({uid}). The object might have been deleted and then recreated",
                resource.qualified_kind()
            ),
        ));
    }
    let current_rv = meta_str(&stored, "resourceVersion")
        .unwrap_or_default()
        .to_owned();
    if let Some(expected) = &options.resource_version
        && *expected != current_rv
    {
        return Err(ApiError::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} {name:?}: the ResourceVersion in the precondition ({expected}) does not match the ResourceVersion in record ({current_rv}). The object might have been modified",
                resource.qualified_kind()
            ),
        ));
    }
    let mut object = (*stored).clone();
    let mut fins = finalizers(&object);
    match options.propagation.as_deref() {
        Some("Orphan") if !fins.iter().any(|f| f == "orphan") => fins.push("orphan".into()),
        Some("Foreground") if !fins.iter().any(|f| f == "foregroundDeletion") => {
            fins.push("foregroundDeletion".into());
        }
        None | Some("Orphan" | "Foreground" | "Background") => {}
        Some(other) => {
            return Err(ApiError::new(
                422,
                "Invalid",
                format!(
                    "DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Unsupported value: {other:?}: supported values: \"Foreground\", \"Background\", \"Orphan\""
                ),
            ));
        }
    }
    // A pod bound to a node waits for its kubelet (or the sandbox's stand-in) to finish.
    let grace = if resource.plural == "pods" && resource.group.is_empty() {
        let bound = object
            .pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .is_some_and(|n| !n.is_empty());
        let finished = matches!(
            object.pointer("/status/phase").and_then(Value::as_str),
            Some("Succeeded" | "Failed")
        );
        let requested = options
            .grace
            .or_else(|| {
                object
                    .pointer("/spec/terminationGracePeriodSeconds")
                    .and_then(Value::as_i64)
            })
            .unwrap_or(30);
        if !bound || finished {
            0
        } else if requested < 0 {
            1
        } else {
            requested
        }
    } else {
        0
    };
    let namespace = resource.plural == "namespaces" && resource.group.is_empty();
    let stays = grace > 0 || !fins.is_empty() || namespace;
    if stays {
        if object.pointer("/metadata/deletionTimestamp").is_none() {
            let at = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(grace);
            object["metadata"]["deletionTimestamp"] = json!(meta::timestamp(at));
            object["metadata"]["deletionGracePeriodSeconds"] = json!(grace);
            if resource.tracks_generation {
                object["metadata"]["generation"] = json!(generation(&object) + 1);
            }
        }
        if !fins.is_empty() {
            object["metadata"]["finalizers"] = json!(fins);
        }
        if namespace {
            object["status"]["phase"] = json!("Terminating");
        }
        if object == *stored || options.dry_run {
            return Ok((200, served(resource, &object)));
        }
        let rv = state.next_rv();
        object["metadata"]["resourceVersion"] = json!(rv.to_string());
        let stored = state.put(&resource.key(), key, object, rv);
        return Ok((200, served(resource, &stored)));
    }
    if options.dry_run {
        return Ok((200, served(resource, &object)));
    }
    let rv = state.next_rv();
    object["metadata"]["resourceVersion"] = json!(rv.to_string());
    state.remove(&resource.key(), &key, object.clone(), rv);
    after_delete(&mut state, resource, &object);
    let returns_object =
        resource.group.is_empty() && matches!(resource.plural.as_str(), "pods" | "serviceaccounts");
    if returns_object {
        Ok((200, served(resource, &object)))
    } else {
        Ok((200, status::deleted(resource, &name, &uid)))
    }
}

async fn delete_collection(shared: &Shared, call: &Call) -> Result<(u16, Value), ApiError> {
    let (code, list) = super::read::list(shared, call)?;
    let _ = code;
    let mut deleted = Vec::new();
    for item in list["items"].as_array().cloned().unwrap_or_default() {
        let name = meta_str(&item, "name").unwrap_or_default().to_owned();
        let namespace = meta_str(&item, "namespace").map(str::to_owned);
        let one = Call {
            resource: call.resource.clone(),
            target: super::Target {
                namespace,
                name: Some(name),
                subresource: None,
                ..call.target.clone()
            },
            params: call.params.clone(),
            content_type: call.content_type.clone(),
            body: call.body.clone(),
            user_agent: call.user_agent.clone(),
            shape: call.shape,
            warnings: std::sync::Mutex::default(),
        };
        let outcome = match delete_options(&one) {
            Ok(options) => match admit_delete(shared, &one, options.dry_run).await {
                Ok(()) => delete_one(shared, &one, &options),
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        match outcome {
            Ok((_, object)) if object.get("kind") != Some(&json!("Status")) => deleted.push(object),
            Ok(_) => deleted.push(item),
            Err(e) if e.code == 404 => {}
            Err(e) => return Err(e),
        }
    }
    Ok((
        200,
        json!({
            "kind": call.resource.list_kind,
            "apiVersion": call.resource.api_version(),
            "metadata": {"resourceVersion": shared.lock().rv.to_string()},
            "items": deleted,
        }),
    ))
}

/// PATCH with `application/apply-patch+yaml`: server-side apply (creating the object when it
/// does not exist).
fn server_side_apply(
    state: &mut State,
    call: &Call,
    body: Value,
    dry_run: bool,
) -> Result<Pending, ApiError> {
    let resource = &call.resource;
    let name = call.target.name.clone().unwrap_or_default();
    let manager = match call.params.get("fieldManager").filter(|m| !m.is_empty()) {
        Some(manager) => manager.clone(),
        None => {
            return Err(ApiError::new(
                422,
                "Invalid",
                "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
            ));
        }
    };
    let force = crate::meta::flag(&call.params, "force");
    let api_version = body
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let kind = body.get("kind").and_then(Value::as_str).unwrap_or_default();
    if api_version != resource.api_version() || kind != resource.kind {
        let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
        return Err(ApiError::bad_request(
            if group == resource.group && kind == resource.kind {
                format!(
                    "Incorrect version specified in apply patch. Specified patch version: {api_version}, expected: {}",
                    resource.api_version()
                )
            } else {
                format!("invalid object type: {api_version}, Kind={kind}")
            },
        ));
    }
    if body.pointer("/metadata/managedFields").is_some() {
        return Err(ApiError::bad_request("metadata.managedFields must be nil"));
    }
    let key = (
        call.target.namespace.clone().unwrap_or_default(),
        name.clone(),
    );
    let live = state
        .get(&resource.key(), &key)
        .map(|o| served(resource, o));
    let subresource = call.target.subresource.as_deref();
    let now = meta::now();
    let merged = ssa::apply(live.as_ref(), &body, &manager, subresource, force, &now, call.fields_context())
        .map_err(|conflicts| {
            let causes: Vec<Value> = conflicts
                .0
                .iter()
                .map(|(m, path)| json!({"reason": "FieldManagerConflict", "message": format!("conflict with {m}"), "field": path}))
                .collect();
            ApiError {
                details: Some(Box::new(json!({"name": name, "group": resource.group, "kind": resource.plural, "causes": causes}))),
                ..ApiError::new(409, "Conflict", conflicts.message())
            }
        })?;
    match live {
        None if subresource.is_some() => Err(ApiError::not_found(resource, &name)),
        None => {
            let mut object = merged;
            object["metadata"]["name"] = json!(name);
            create_locked(state, call, object, dry_run, Managed::Applied)
        }
        Some(live) => {
            let mut object = merged;
            // A resourceVersion in the body is a precondition; none means "what is stored".
            if meta_str(&body, "resourceVersion").is_none_or(str::is_empty) {
                object["metadata"]["resourceVersion"] =
                    json!(meta_str(&live, "resourceVersion").unwrap_or_default());
            }
            replace(state, call, object, false, dry_run, Managed::Applied)
        }
    }
}
