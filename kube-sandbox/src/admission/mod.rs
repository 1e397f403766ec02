//! Admission webhooks, called as kube-apiserver calls them: the mutating webhooks one after
//! another (configurations in name order, webhooks in list order, `IfNeeded` ones once more
//! when a later webhook changed the object), then schema validation, then the validating
//! webhooks side by side. Each is asked over HTTPS with an `admission.k8s.io/v1`
//! `AdmissionReview` when its `rules`, `namespaceSelector`, `objectSelector` and CEL
//! `matchConditions` select the request; its JSON patch is applied, its warnings become
//! `Warning` headers, its denial the client's error, and a failure to reach it follows its
//! `failurePolicy`.
//!
//! Writes of the webhook configurations themselves are never sent to webhooks (so a broken
//! webhook cannot lock its own configuration in), as in kube-apiserver.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use base64::Engine as _;
use serde_json::{Value, json};

use crate::api::{Call, Pending, Shared};
use crate::resources::{ResourceKey, ResourceType};
use crate::selector::labels_of;
use crate::status::{ApiError, Cause};
use crate::store::State;

mod client;
mod config;

use config::{Endpoint, Hook, RuleInput};

/// Where webhook `service` references go: `(namespace, name, port)` to a socket address.
pub(crate) type Routes = BTreeMap<(String, String, u16), SocketAddr>;

const GROUP: &str = "admissionregistration.k8s.io";

/// Whether `resource` is one of the webhook configuration kinds.
pub(crate) fn is_configuration(resource: &ResourceType) -> bool {
    resource.group == GROUP
        && matches!(
            resource.plural.as_str(),
            "mutatingwebhookconfigurations" | "validatingwebhookconfigurations"
        )
}

/// What is wrong with a webhook configuration about to be stored.
pub(crate) fn check_configuration(resource: &ResourceType, object: &Value) -> Vec<Cause> {
    let mut object = object.clone();
    object["kind"] = json!(resource.kind);
    config::read(&object).1
}

/// The webhooks in force, compiled.
#[derive(Debug, Default)]
pub(crate) struct Webhooks {
    mutating: Vec<Hook>,
    validating: Vec<Hook>,
}

/// The compiled webhooks and the configurations (name and resourceVersion) they came from.
#[derive(Debug, Default)]
pub(crate) struct Cache {
    from: Vec<(String, String)>,
    webhooks: Arc<Webhooks>,
}

fn configurations(state: &State) -> impl Iterator<Item = (&'static str, &Arc<Value>)> + '_ {
    let kinds = [
        (
            "mutatingwebhookconfigurations",
            "MutatingWebhookConfiguration",
        ),
        (
            "validatingwebhookconfigurations",
            "ValidatingWebhookConfiguration",
        ),
    ];
    kinds.into_iter().flat_map(move |(plural, kind)| {
        let key = ResourceKey {
            group: GROUP.into(),
            plural: plural.into(),
        };
        // Collected per kind: the store borrows the key.
        let objects: Vec<&Arc<Value>> = state.list(&key).map(|(_, o)| o).collect();
        objects.into_iter().map(move |o| (kind, o))
    })
}

impl Cache {
    /// The webhooks of the configurations stored now.
    pub(crate) fn current(&mut self, state: &State) -> Arc<Webhooks> {
        let from: Vec<(String, String)> = configurations(state)
            .map(|(kind, o)| {
                let rv = crate::meta::meta_str(o, "resourceVersion").unwrap_or_default();
                (
                    format!(
                        "{kind}/{}",
                        crate::meta::meta_str(o, "name").unwrap_or_default()
                    ),
                    rv.to_owned(),
                )
            })
            .collect();
        if from != self.from {
            let mut webhooks = Webhooks::default();
            for (kind, object) in configurations(state) {
                let mut object = (**object).clone();
                object["kind"] = json!(kind);
                let (hooks, _) = config::read(&object);
                if kind.starts_with("Mutating") {
                    webhooks.mutating.extend(hooks);
                } else {
                    webhooks.validating.extend(hooks);
                }
            }
            self.webhooks = Arc::new(webhooks);
            self.from = from;
        }
        Arc::clone(&self.webhooks)
    }
}

/// The labels of namespace `name` (`None` for a cluster-scoped object's empty namespace).
pub(crate) fn namespace_labels(state: &State, name: &str) -> Option<BTreeMap<String, String>> {
    if name.is_empty() {
        return None;
    }
    let key = ResourceKey {
        group: String::new(),
        plural: "namespaces".into(),
    };
    Some(
        state
            .get(&key, &(String::new(), name.to_owned()))
            .map(|ns| labels_of(ns))
            .unwrap_or_default(),
    )
}

/// What admission is asked about one request.
#[derive(Debug, Clone)]
pub(crate) struct Attributes {
    operation: &'static str,
    /// Group, version and kind of the object (`policy/v1 Eviction` for an eviction).
    kind: [String; 3],
    group: String,
    version: String,
    plural: String,
    subresource: Option<String>,
    namespaced: bool,
    namespace: String,
    name: String,
    /// The object written, as mutating webhooks leave it; `None` on DELETE.
    pub(crate) object: Option<Value>,
    old: Option<Value>,
    dry_run: bool,
    namespace_labels: Option<BTreeMap<String, String>>,
}

impl Attributes {
    fn base(call: &Call, operation: &'static str, dry_run: bool) -> Self {
        let r = &call.resource;
        Self {
            operation,
            kind: [r.group.clone(), r.version.clone(), r.kind.clone()],
            group: r.group.clone(),
            version: r.version.clone(),
            plural: r.plural.clone(),
            subresource: call.target.subresource.clone(),
            namespaced: r.namespaced,
            namespace: call.target.namespace.clone().unwrap_or_default(),
            name: call.target.name.clone().unwrap_or_default(),
            object: None,
            old: None,
            dry_run,
            namespace_labels: None,
        }
    }

    /// A create or update about to store `pending.object`.
    pub(crate) fn of_write(
        call: &Call,
        pending: &Pending,
        namespace_labels: Option<BTreeMap<String, String>>,
    ) -> Self {
        let operation = if pending.old.is_some() {
            "UPDATE"
        } else {
            "CREATE"
        };
        let served = |o: &Value| crate::api::served(&call.resource, o);
        Self {
            namespace: pending.key.0.clone(),
            name: pending.key.1.clone(),
            object: Some(served(&pending.object)),
            old: pending.old.as_deref().map(served),
            namespace_labels,
            ..Self::base(call, operation, pending.dry_run)
        }
    }

    /// A delete of the stored `old`.
    pub(crate) fn of_delete(
        call: &Call,
        old: Value,
        dry_run: bool,
        namespace_labels: Option<BTreeMap<String, String>>,
    ) -> Self {
        Self {
            old: Some(old),
            namespace_labels,
            ..Self::base(call, "DELETE", dry_run)
        }
    }

    /// `POST pods/<name>/eviction` carrying `eviction`.
    pub(crate) fn of_eviction(
        call: &Call,
        eviction: Value,
        dry_run: bool,
        namespace_labels: Option<BTreeMap<String, String>>,
    ) -> Self {
        Self {
            kind: ["policy".into(), "v1".into(), "Eviction".into()],
            object: Some(eviction),
            namespace_labels,
            ..Self::base(call, "CREATE", dry_run)
        }
    }

    fn options_kind(&self) -> &'static str {
        match self.operation {
            "CREATE" => "CreateOptions",
            "DELETE" => "DeleteOptions",
            _ => "UpdateOptions",
        }
    }

    /// The `request` of an `AdmissionReview` (also CEL's `request` variable, with the
    /// objects).
    fn request(&self, uid: &str) -> Value {
        let [g, v, k] = &self.kind;
        let kind = json!({"group": g, "version": v, "kind": k});
        let resource =
            json!({"group": self.group, "version": self.version, "resource": self.plural});
        let mut request = json!({
            "uid": uid,
            "kind": kind,
            "resource": resource,
            "requestKind": kind,
            "requestResource": resource,
            "name": self.name,
            "operation": self.operation,
            "userInfo": {"username": "system:admin", "groups": ["system:masters", "system:authenticated"]},
            "object": self.object,
            "oldObject": self.old,
            "dryRun": self.dry_run,
            "options": {"kind": self.options_kind(), "apiVersion": "meta.k8s.io/v1"},
        });
        if let Some(sub) = &self.subresource {
            request["subResource"] = json!(sub);
            request["requestSubResource"] = json!(sub);
        }
        if !self.namespace.is_empty() {
            request["namespace"] = json!(self.namespace);
        }
        request
    }

    /// The qualified resource for messages (`configmaps`, `widgets.example.com`).
    fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }
}

/// What one webhook decided.
enum Verdict {
    Allowed { patch: Option<Value> },
    Denied(ApiError),
}

/// Whether `hook` is asked about `attributes`: rules, then selectors, then conditions.
/// `Err` is a condition that could not be evaluated.
fn selects(hook: &Hook, attributes: &Attributes, uid: &str) -> Result<bool, String> {
    let input = RuleInput {
        operation: attributes.operation,
        group: &attributes.group,
        version: &attributes.version,
        resource: &attributes.plural,
        subresource: attributes.subresource.as_deref(),
        namespaced: attributes.namespaced,
    };
    if !hook.rules.iter().any(|r| r.matches(&input)) {
        return Ok(false);
    }
    let own_labels = || {
        attributes
            .object
            .as_ref()
            .or(attributes.old.as_ref())
            .map(labels_of)
            .unwrap_or_default()
    };
    if let Some(selector) = &hook.namespace_selector {
        let is_namespace = attributes.group.is_empty() && attributes.plural == "namespaces";
        let labels = if is_namespace {
            Some(own_labels())
        } else {
            attributes.namespace_labels.clone()
        };
        // Cluster-scoped objects other than namespaces always match.
        if let Some(labels) = labels
            && !selector.matches(&labels)
        {
            return Ok(false);
        }
    }
    if let Some(selector) = &hook.object_selector {
        let matches = |o: &Option<Value>| o.as_ref().is_some_and(|o| selector.matches_object(o));
        if !matches(&attributes.object) && !matches(&attributes.old) {
            return Ok(false);
        }
    }
    if hook.conditions.is_empty() {
        return Ok(true);
    }
    let mut request = attributes.request(uid);
    if let Some(map) = request.as_object_mut() {
        map.remove("object");
        map.remove("oldObject");
    }
    let mut errors = Vec::new();
    for condition in &hook.conditions {
        let mut context = cel::Context::default();
        let added = context
            .add_variable("object", attributes.object.clone().unwrap_or(Value::Null))
            .and_then(|()| {
                context.add_variable("oldObject", attributes.old.clone().unwrap_or(Value::Null))
            })
            .and_then(|()| context.add_variable("request", request.clone()));
        if let Err(e) = added {
            errors.push(format!("{}: {e}", condition.name));
            continue;
        }
        match condition.program.execute(&context) {
            Ok(cel::Value::Bool(true)) => {}
            Ok(cel::Value::Bool(false)) => return Ok(false),
            Ok(other) => errors.push(format!(
                "expression of match condition {:?} resulted in a non-boolean: {other:?}",
                condition.name
            )),
            Err(e) => errors.push(format!(
                "failed to evaluate match condition {:?}: {e}",
                condition.name
            )),
        }
    }
    if errors.is_empty() {
        Ok(true)
    } else {
        Err(errors.join("; "))
    }
}

/// Where `hook` is reached, and how its URL reads in messages.
async fn destination(
    hook: &Hook,
    shared: &Shared,
) -> Result<(client::Destination, String), String> {
    let timeout = format!("timeout={}s", hook.timeout.as_secs());
    match &hook.endpoint {
        Endpoint::Url(url) => {
            let uri: http::Uri = url.parse().map_err(|e| format!("{e}"))?;
            let host = uri
                .host()
                .unwrap_or_default()
                .trim_matches(['[', ']'])
                .to_owned();
            let port = uri.port_u16().unwrap_or(443);
            let path = match uri.query() {
                Some(query) => format!("{}?{query}&{timeout}", uri.path()),
                None => format!("{}?{timeout}", uri.path()),
            };
            let authority = uri.authority().map(|a| a.to_string()).unwrap_or_default();
            let shown = format!("https://{authority}{path}");
            let address = match host.parse::<std::net::IpAddr>() {
                Ok(ip) => SocketAddr::new(ip, port),
                Err(_) => tokio::net::lookup_host((host.as_str(), port))
                    .await
                    .ok()
                    .and_then(|mut a| a.next())
                    .ok_or_else(|| {
                        format!("Post {shown:?}: dial tcp: lookup {host}: no such host")
                    })?,
            };
            Ok((
                client::Destination {
                    address,
                    server_name: host,
                    authority,
                    path,
                },
                shown,
            ))
        }
        Endpoint::Service {
            namespace,
            name,
            path,
            port,
        } => {
            let host = format!("{name}.{namespace}.svc");
            let path = format!("{path}?{timeout}");
            let shown = format!("https://{host}:{port}{path}");
            let route = shared
                .routes
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(&(namespace.clone(), name.clone(), *port))
                .copied();
            let Some(address) = route else {
                return Err(format!(
                    "Post {shown:?}: service \"{namespace}/{name}\" port {port} has no route in the sandbox (it reaches Services only where it was told to)"
                ));
            };
            Ok((
                client::Destination {
                    address,
                    server_name: host.clone(),
                    authority: format!("{host}:{port}"),
                    path,
                },
                shown,
            ))
        }
    }
}

/// A call that failed, as kube-apiserver words it (`failurePolicy: Fail`).
fn calling_failed(hook: &Hook, cause: &str) -> ApiError {
    let message = format!("failed calling webhook {:?}: {cause}", hook.name);
    ApiError {
        details: Some(Box::new(json!({"causes": [{"message": message}]}))),
        ..ApiError::new(
            500,
            "InternalError",
            format!("Internal error occurred: {message}"),
        )
    }
}

/// The bytes of `response.patch`: base64 text (Go clients) or an array of byte values
/// (kube-rs).
fn patch_bytes(patch: &Value) -> Result<Vec<u8>, String> {
    match patch {
        Value::String(text) => base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|e| format!("patch: illegal base64 data: {e}")),
        Value::Array(items) => items
            .iter()
            .map(|b| {
                b.as_u64()
                    .and_then(|b| u8::try_from(b).ok())
                    .ok_or_else(|| format!("patch: {b} is not a byte"))
            })
            .collect(),
        other => Err(format!("patch: expected base64 text or bytes, got {other}")),
    }
}

/// Reads an `AdmissionReview` response; `Err` is an invalid response.
fn verdict(hook: &Hook, uid: &str, body: &[u8], warn: &dyn Fn(String)) -> Result<Verdict, String> {
    let review: Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let api_version = crate::meta::text(&review, "apiVersion");
    let kind = crate::meta::text(&review, "kind");
    if api_version != "admission.k8s.io/v1" || kind != "AdmissionReview" {
        return Err(format!(
            "expected webhook response of admission.k8s.io/v1, Kind=AdmissionReview, got {api_version}, Kind={kind}"
        ));
    }
    let Some(response) = review.get("response").filter(|r| r.is_object()) else {
        return Err("webhook response was absent".into());
    };
    let got = crate::meta::text(response, "uid");
    if got != uid {
        return Err(format!("expected response.uid={uid:?}, got {got:?}"));
    }
    for warning in response
        .get("warnings")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        warn(warning.to_owned());
    }
    if response.get("allowed").and_then(Value::as_bool) != Some(true) {
        let status = response.get("status").cloned().unwrap_or(Value::Null);
        let text = |k: &str| {
            status
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let code = status
            .get("code")
            .and_then(Value::as_u64)
            .and_then(|c| u16::try_from(c).ok())
            .filter(|c| *c >= 400)
            .unwrap_or(400);
        let (message, reason) = (text("message"), text("reason"));
        let why = if !message.is_empty() {
            format!(": {message}")
        } else if !reason.is_empty() {
            format!(": {reason}")
        } else {
            " without explanation".to_owned()
        };
        return Ok(Verdict::Denied(ApiError::new(
            code,
            reason,
            format!("admission webhook {:?} denied the request{why}", hook.name),
        )));
    }
    let patch = match response.get("patch").filter(|p| !p.is_null()) {
        None => None,
        Some(patch) => {
            let kind = crate::meta::text(response, "patchType");
            if kind != "JSONPatch" {
                return Err(format!("expected patchType JSONPatch, got {kind:?}"));
            }
            let bytes = patch_bytes(patch)?;
            Some(serde_json::from_slice(&bytes).map_err(|e| format!("patch: {e}"))?)
        }
    };
    Ok(Verdict::Allowed { patch })
}

/// Asks one webhook; `Ok(None)` when it does not select the request (or failed with
/// `failurePolicy: Ignore`).
async fn ask(
    hook: &Hook,
    shared: &Shared,
    call: &Call,
    attributes: &Attributes,
) -> Result<Option<Verdict>, ApiError> {
    let uid = crate::meta::uid();
    let ignored = |cause: String| {
        tracing::warn!(configuration = %hook.configuration, webhook = %hook.name, %cause, "webhook failed; failurePolicy Ignore");
        Ok(None)
    };
    match selects(hook, attributes, &uid) {
        Ok(true) => {}
        Ok(false) => return Ok(None),
        Err(_) if hook.ignore_failures => return Ok(None),
        Err(errors) => {
            return Err(ApiError::new(
                403,
                "Forbidden",
                format!(
                    "{} {:?} is forbidden: {errors}",
                    attributes.qualified(),
                    attributes.name
                ),
            ));
        }
    }
    let (destination, shown) = match destination(hook, shared).await {
        Ok(d) => d,
        Err(cause) if hook.ignore_failures => return ignored(cause),
        Err(cause) => {
            return Err(calling_failed(
                hook,
                &format!("failed to call webhook: {cause}"),
            ));
        }
    };
    let body = json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": attributes.request(&uid),
    });
    let posted = tokio::time::timeout(
        hook.timeout,
        client::post(&destination, &hook.ca_bundle, body.to_string().into_bytes()),
    )
    .await
    .unwrap_or_else(|_| Err("context deadline exceeded".into()));
    let bytes = match posted {
        Ok(bytes) => bytes,
        Err(cause) if hook.ignore_failures => return ignored(cause),
        Err(cause) => {
            return Err(calling_failed(
                hook,
                &format!("failed to call webhook: Post {shown:?}: {cause}"),
            ));
        }
    };
    match verdict(hook, &uid, &bytes, &|w| call.warn(w)) {
        Ok(v) => Ok(Some(v)),
        Err(cause) if hook.ignore_failures => ignored(cause),
        Err(cause) => Err(calling_failed(
            hook,
            &format!("received invalid webhook response: {cause}"),
        )),
    }
}

/// Asks one mutating webhook and applies its patch: `None` when it was not asked,
/// `Some(true)` when the object changed.
async fn apply_one(
    hook: &Hook,
    shared: &Shared,
    call: &Call,
    attributes: &mut Attributes,
) -> Result<Option<bool>, ApiError> {
    match ask(hook, shared, call, attributes).await? {
        None => Ok(None),
        Some(Verdict::Allowed { patch: None }) => Ok(Some(false)),
        Some(Verdict::Denied(error)) => Err(error),
        Some(Verdict::Allowed { patch: Some(patch) }) => {
            // A DELETE has no object to patch.
            let Some(object) = attributes.object.as_mut() else {
                return Ok(Some(false));
            };
            let before = object.clone();
            crate::patch::json_patch(object, &patch).map_err(|e| {
                ApiError::new(
                    500,
                    "InternalError",
                    format!(
                        "Internal error occurred: JSON patch from admission webhook {:?} failed: {e}",
                        hook.name
                    ),
                )
            })?;
            // Identity is the server's, whatever the patch said.
            for field in [
                "name",
                "namespace",
                "uid",
                "resourceVersion",
                "creationTimestamp",
            ] {
                match before.pointer(&format!("/metadata/{field}")) {
                    Some(v) => object["metadata"][field] = v.clone(),
                    None => {
                        if let Some(meta) =
                            object.get_mut("metadata").and_then(Value::as_object_mut)
                        {
                            meta.remove(field);
                        }
                    }
                }
            }
            Ok(Some(*object != before))
        }
    }
}

impl Webhooks {
    /// Whether any webhook could be asked about writes of `resource`.
    pub(crate) fn may_admit(&self, resource: &ResourceType) -> bool {
        let none = self.mutating.is_empty() && self.validating.is_empty();
        !none && !is_configuration(resource)
    }

    /// Runs the mutating webhooks; `Ok(true)` when they changed the object.
    pub(crate) async fn mutate(
        &self,
        shared: &Shared,
        call: &Call,
        attributes: &mut Attributes,
    ) -> Result<bool, ApiError> {
        // Per webhook asked: how many changes had been made when it answered.
        let mut asked_at: Vec<Option<usize>> = vec![None; self.mutating.len()];
        let mut changes = 0;
        for (i, hook) in self.mutating.iter().enumerate() {
            if let Some(changed) = apply_one(hook, shared, call, attributes).await? {
                changes += usize::from(changed);
                asked_at[i] = Some(changes);
            }
        }
        // `IfNeeded`: once more, for each asked before a later webhook changed the object.
        let mut changed = changes > 0;
        for (hook, at) in self.mutating.iter().zip(asked_at) {
            if hook.reinvoke
                && at.is_some_and(|at| at < changes)
                && apply_one(hook, shared, call, attributes).await? == Some(true)
            {
                changed = true;
            }
        }
        Ok(changed)
    }

    /// Runs the validating webhooks side by side; the first denial or failure, in their
    /// order, is the answer.
    pub(crate) async fn validate(
        &self,
        shared: &Shared,
        call: &Call,
        attributes: &Attributes,
    ) -> Result<(), ApiError> {
        let answers = futures::future::join_all(
            self.validating
                .iter()
                .map(|hook| ask(hook, shared, call, attributes)),
        )
        .await;
        for answer in answers {
            if let Some(Verdict::Denied(error)) = answer? {
                return Err(error);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook() -> Hook {
        let (mut hooks, causes) = config::read(&json!({
            "kind": "ValidatingWebhookConfiguration", "metadata": {"name": "c"},
            "webhooks": [{"name": "a.b.c", "clientConfig": {"url": "https://127.0.0.1:1/"},
              "rules": [{"operations": ["*"], "apiGroups": ["*"], "apiVersions": ["*"], "resources": ["*"]}],
              "sideEffects": "None", "admissionReviewVersions": ["v1"]}]
        }));
        assert!(causes.is_empty());
        hooks.remove(0)
    }

    #[test]
    fn responses_are_read_in_both_patch_encodings_and_denials_name_the_webhook() {
        let h = hook();
        let warnings = std::cell::RefCell::new(Vec::new());
        let warn = |w: String| warnings.borrow_mut().push(w);
        let patch = br#"[{"op":"add","path":"/x","value":1}]"#;
        let text = base64::engine::general_purpose::STANDARD.encode(patch);
        for encoded in [json!(text), json!(patch.to_vec())] {
            let body = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                "response": {"uid": "u", "allowed": true, "status": {}, "patchType": "JSONPatch", "patch": encoded, "warnings": ["careful"]}});
            match verdict(&h, "u", body.to_string().as_bytes(), &warn) {
                Ok(Verdict::Allowed { patch: Some(p) }) => assert_eq!(p[0]["path"], "/x"),
                _ => panic!("not read"),
            }
        }
        assert_eq!(warnings.borrow().as_slice(), ["careful", "careful"]);
        let denied = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "response": {"uid": "u", "allowed": false, "status": {"code": 200, "message": "no"}}});
        match verdict(&h, "u", denied.to_string().as_bytes(), &warn) {
            Ok(Verdict::Denied(e)) => {
                assert_eq!(e.code, 400);
                assert_eq!(
                    e.message,
                    r#"admission webhook "a.b.c" denied the request: no"#
                );
            }
            _ => panic!("not denied"),
        }
        let cases = [
            (
                json!({"apiVersion": "v1", "kind": "Status"}),
                "expected webhook response of admission.k8s.io/v1",
            ),
            (
                json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}),
                "webhook response was absent",
            ),
            (
                json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": {"uid": "x", "allowed": true}}),
                r#"expected response.uid="u", got "x""#,
            ),
        ];
        for (body, expected) in cases {
            let Err(e) = verdict(&h, "u", body.to_string().as_bytes(), &warn) else {
                panic!("{body} accepted");
            };
            assert!(e.contains(expected), "{e}");
        }
    }
}
