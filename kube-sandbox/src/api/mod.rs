//! Request routing: discovery paths, then resource paths
//! (`/api/v1[/namespaces/<ns>]/<res>[/<name>[/<sub>]]`, the same under `/apis/<g>/<v>`),
//! each verb answered as kube-apiserver answers it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Body;
use http::{Method, Request, Response, StatusCode, header};
use serde_json::Value;

use crate::resources::ResourceType;
use crate::status::ApiError;
use crate::store::State;
use crate::{Config, discovery, meta};

mod eviction;
mod read;
mod write;

pub(crate) use eviction::{pod_ready, selector_of as eviction_selector};
pub(crate) use read::served;
pub(crate) use write::Pending;

/// Largest request body accepted (kube-apiserver's limit).
pub const MAX_BODY: usize = 3 * 1024 * 1024;

/// What every request handler shares.
#[derive(Debug)]
pub struct Shared {
    state: Mutex<State>,
    controllers: bool,
    /// The admission webhooks, read from their configurations when those change.
    webhooks: Mutex<crate::admission::Cache>,
    /// Where webhook `service` references are reached (a cluster's Service routing).
    pub(crate) routes: Mutex<crate::admission::Routes>,
    /// Set when the server stops: open watches end, so a graceful shutdown finishes.
    pub(crate) closing: tokio::sync::watch::Sender<bool>,
    /// Write requests received (POST, PUT, PATCH, DELETE), answered or not.
    pub(crate) write_requests: std::sync::atomic::AtomicU64,
    /// The resource requests received, as authorization sees them, while recording.
    pub(crate) audit: Mutex<Option<Vec<crate::AuditEvent>>>,
}

impl Shared {
    /// A server with `config`.
    pub fn new(config: Config) -> Self {
        Self {
            state: Mutex::new(State::new(config.history)),
            controllers: config.controllers,
            webhooks: Mutex::default(),
            routes: Mutex::default(),
            closing: tokio::sync::watch::Sender::new(false),
            write_requests: std::sync::atomic::AtomicU64::new(0),
            audit: Mutex::new(None),
        }
    }

    /// Records the request as kube-apiserver's authorizer sees it (verb, resource,
    /// subresource, namespace, name), when recording is on. A server-side apply that
    /// would create its object is authorized as `create` as well as `patch`.
    fn audit(&self, method: &Method, call: &Call) {
        let mut audit = self.audit.lock().unwrap_or_else(|e| e.into_inner());
        let Some(log) = audit.as_mut() else {
            return;
        };
        let target = &call.target;
        let named = target.name.is_some();
        let verb = match *method {
            Method::GET | Method::HEAD if !named && meta::flag(&call.params, "watch") => "watch",
            Method::GET | Method::HEAD if !named => "list",
            Method::GET | Method::HEAD => "get",
            Method::POST => "create",
            Method::PUT => "update",
            Method::PATCH => "patch",
            Method::DELETE if named => "delete",
            Method::DELETE => "deletecollection",
            _ => "unknown",
        };
        let mut verbs = vec![verb];
        if verb == "patch" && call.content_type == "application/apply-patch+yaml" {
            let key = (
                target.namespace.clone().unwrap_or_default(),
                target.name.clone().unwrap_or_default(),
            );
            let exists = self
                .lock()
                .objects
                .get(&call.resource.key())
                .is_some_and(|objects| objects.contains_key(&key));
            if !exists {
                verbs.push("create");
            }
        }
        for verb in verbs {
            log.push(crate::AuditEvent {
                verb: verb.to_owned(),
                group: call.resource.group.clone(),
                resource: call.resource.plural.clone(),
                subresource: target.subresource.clone(),
                namespace: target.namespace.clone(),
                name: target.name.clone(),
                user_agent: call.user_agent.clone(),
            });
        }
    }

    /// Ends every open watch stream (and any started later).
    pub(crate) fn close_watches(&self) {
        self.closing.send_replace(true);
    }

    /// The registered admission webhooks (compiled once per change of their configurations).
    pub(crate) fn webhooks(&self) -> Arc<crate::admission::Webhooks> {
        let state = self.lock();
        self.webhooks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .current(&state)
    }

    /// The state, locked (a panic while holding it leaves the data as it was: every write
    /// completes before it becomes visible).
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The resource path of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub(crate) group: String,
    pub(crate) version: String,
    pub(crate) namespace: Option<String>,
    pub(crate) plural: String,
    pub(crate) name: Option<String>,
    pub(crate) subresource: Option<String>,
}

/// Parses the part of a resource path after the group-version.
fn target(group: &str, version: &str, rest: &[&str]) -> Option<Target> {
    let make = |namespace: Option<&str>, plural: &str, name: Option<&&str>, sub: Option<&&str>| {
        Some(Target {
            group: group.to_owned(),
            version: version.to_owned(),
            namespace: namespace.map(str::to_owned),
            plural: plural.to_owned(),
            name: name.map(|n| (*n).to_owned()),
            subresource: sub.map(|s| (*s).to_owned()),
        })
    };
    match rest {
        [] => None,
        // A namespace itself, or one of its subresources (`status`, `finalize`).
        ["namespaces", name] if group.is_empty() => make(None, "namespaces", Some(name), None),
        ["namespaces", name, sub @ ("status" | "finalize")] if group.is_empty() => {
            make(None, "namespaces", Some(name), Some(sub))
        }
        ["namespaces", ns, plural, tail @ ..] if tail.len() <= 2 => {
            make(Some(ns), plural, tail.first(), tail.get(1))
        }
        [plural, tail @ ..] if tail.len() <= 2 => make(None, plural, tail.first(), tail.get(1)),
        _ => None,
    }
}

/// A JSON answer.
pub(crate) fn json(code: u16, body: &Value) -> Response<Body> {
    Response::builder()
        .status(StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap_or_default()
}

/// A failure answer (with `Retry-After` when the Status asks for a retry).
pub(crate) fn failure(error: &ApiError) -> Response<Body> {
    let mut response = json(error.code, &error.to_status());
    if let Some(seconds) = error
        .details
        .as_ref()
        .and_then(|d| d.get("retryAfterSeconds"))
        .and_then(Value::as_u64)
        .filter(|s| *s > 0)
        && let Ok(value) = http::HeaderValue::from_str(&seconds.to_string())
    {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// Answers one request.
pub async fn handle(shared: Arc<Shared>, request: Request<Body>) -> Response<Body> {
    let (parts, body) = request.into_parts();
    if !matches!(parts.method, Method::GET | Method::HEAD) {
        shared
            .write_requests
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    let path = parts.uri.path().trim_end_matches('/').to_owned();
    let params = meta::query(parts.uri.query());
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    if parts.method == Method::GET {
        let state = shared.lock();
        let document = match segments.as_slice() {
            ["version"] => Some(discovery::version()),
            ["api"] => Some(discovery::core_versions()),
            ["apis"] => Some(discovery::group_list(&state.registry)),
            ["api", "v1"] => discovery::resource_list(&state.registry, "", "v1"),
            ["apis", group] => discovery::group(&state.registry, group),
            ["apis", group, version] => discovery::resource_list(&state.registry, group, version),
            ["openapi", "v3"] => Some(crate::openapi::index(&state.registry)),
            ["openapi", "v3", "api", version] => {
                crate::openapi::document(&state.registry, "", version)
            }
            ["openapi", "v3", "apis", group, version] => {
                crate::openapi::document(&state.registry, group, version)
            }
            ["healthz" | "livez" | "readyz"] => {
                return Response::new(Body::from("ok"));
            }
            _ => None,
        };
        if let Some(document) = document {
            return json(200, &document);
        }
    }
    let parsed = match segments.as_slice() {
        ["api", "v1", rest @ ..] => target("", "v1", rest),
        ["apis", group, version, rest @ ..] => target(group, version, rest),
        _ => None,
    };
    let Some(target) = parsed else {
        return failure(&ApiError::no_such_resource());
    };
    let resource = {
        let state = shared.lock();
        state
            .registry
            .get(&target.group, &target.version, &target.plural)
            .cloned()
    };
    let Some(resource) = resource else {
        return failure(&ApiError::no_such_resource());
    };
    if let Some(sub) = &target.subresource {
        let known = match sub.as_str() {
            "status" => resource.status,
            "eviction" => resource.eviction,
            "finalize" => resource.plural == "namespaces",
            _ => false,
        };
        if !known {
            return failure(&ApiError::no_such_resource());
        }
    }
    let misplaced = if resource.namespaced {
        // `/api/v1/pods/<name>`: one object needs its namespace (lists and watches across
        // namespaces do not).
        target.namespace.is_none() && (target.name.is_some() || parts.method == Method::POST)
    } else {
        target.namespace.is_some()
    };
    if misplaced {
        return failure(&ApiError::no_such_resource());
    }
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned();
    let bytes = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return failure(&ApiError::new(
                413,
                "RequestEntityTooLarge",
                format!("Request entity too large: limit is {MAX_BODY}"),
            ));
        }
    };
    // kubectl's typed clients write protobuf; read the kinds they write, as JSON.
    let (content_type, body) = if content_type == "application/vnd.kubernetes.protobuf" {
        match crate::protobuf::to_json(&bytes) {
            Ok(object) => (
                "application/json".to_owned(),
                object.to_string().into_bytes(),
            ),
            Err(
                e @ (crate::protobuf::ProtobufError::Unsupported(_)
                | crate::protobuf::ProtobufError::UnknownField { .. }),
            ) => {
                return failure(&ApiError::new(415, "UnsupportedMediaType", e.to_string()));
            }
            Err(e) => return failure(&ApiError::bad_request(e.to_string())),
        }
    } else if matches!(
        content_type.as_str(),
        "application/yaml" | "application/apply-patch+yaml"
    ) && serde_json::from_slice::<serde::de::IgnoredAny>(&bytes).is_err()
    {
        // YAML bodies (curl users send them; kubectl and kube-rs send JSON), read as JSON.
        let text = String::from_utf8_lossy(&bytes);
        let documents =
            serde_saphyr::from_str_multiple::<Value, Vec<Value>>(&text).map(|d| d.len());
        if documents.as_ref().is_ok_and(|n| *n > 1) {
            return failure(&ApiError::bad_request(
                "the body holds more than one YAML document; send one object per request",
            ));
        }
        match serde_saphyr::from_str::<Value>(&text) {
            Ok(object) => {
                let kept = if content_type == "application/yaml" {
                    "application/json".to_owned()
                } else {
                    content_type
                };
                (kept, object.to_string().into_bytes())
            }
            Err(e) => {
                return failure(&ApiError::bad_request(format!(
                    "the body is not valid YAML: {e}"
                )));
            }
        }
    } else if content_type == "application/yaml" {
        ("application/json".to_owned(), bytes.to_vec())
    } else {
        (content_type, bytes.to_vec())
    };
    // A create or replace reads JSON or YAML (protobuf arrived as JSON above); a body with
    // no type is read as JSON.
    let object_write = parts.method == Method::PUT
        || (parts.method == Method::POST && target.subresource.as_deref() != Some("eviction"));
    if object_write && !matches!(content_type.as_str(), "" | "application/json") {
        return failure(&ApiError::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format ({content_type}) - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf"
            ),
        ));
    }
    let user_agent = parts
        .headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let shape = crate::table::Shape::from_request(
        parts
            .headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok()),
        params.get("includeObject").map(String::as_str),
    );
    let request = Call {
        resource,
        target,
        params,
        content_type,
        body,
        user_agent,
        shape,
        warnings: Mutex::default(),
    };
    let writes = !matches!(parts.method, Method::GET | Method::HEAD);
    shared.audit(&parts.method, &request);
    let mut response = answer(&shared, &parts.method, &request).await;
    let warnings = std::mem::take(&mut *request.warnings.lock().unwrap_or_else(|e| e.into_inner()));
    for warning in warnings {
        let text = format!("299 - {:?}", warning);
        if let Ok(value) = http::HeaderValue::from_str(&text) {
            response.headers_mut().append(header::WARNING, value);
        }
    }
    if writes {
        shared.settle();
    }
    response
}

impl Shared {
    /// Runs the controller stand-ins after a write, when they are on.
    pub(crate) fn settle(&self) {
        if self.controllers {
            crate::controllers::settle(&mut self.lock());
        }
    }
}

async fn answer(shared: &Arc<Shared>, method: &Method, request: &Call) -> Response<Body> {
    match *method {
        Method::GET if request.target.name.is_none() && meta::flag(&request.params, "watch") => {
            read::watch(shared, request)
        }
        Method::GET if request.target.name.is_none() => match read::list_text(shared, request) {
            Ok(text) => Response::builder()
                .status(200)
                .header(header::CONTENT_TYPE, request.shape.content_type())
                .body(Body::from(text))
                .unwrap_or_default(),
            Err(error) => failure(&error),
        },
        Method::GET => match read::get(shared, request) {
            Ok((code, object)) => {
                let body = crate::table::one(&request.resource, request.shape, object);
                let mut response = json(code, &body);
                if let Ok(value) = http::HeaderValue::from_str(request.shape.content_type()) {
                    response.headers_mut().insert(header::CONTENT_TYPE, value);
                }
                response
            }
            Err(error) => failure(&error),
        },
        Method::POST if request.target.subresource.as_deref() == Some("eviction") => {
            respond(eviction::evict(shared, request).await)
        }
        Method::POST => respond(write::write(shared, request, write::create).await),
        Method::PUT => respond(write::write(shared, request, write::update).await),
        Method::PATCH => respond(write::write(shared, request, write::patch).await),
        Method::DELETE => respond(write::delete(shared, request).await),
        _ => failure(&ApiError::method_not_allowed(
            method.as_str(),
            &request.resource,
        )),
    }
}

/// Creates an object from a prepared call (the embedder's seeding path: no admission
/// webhooks are called, as for objects a cluster restores from its storage).
pub(crate) fn create_object(shared: &Shared, call: &Call) -> Result<Value, ApiError> {
    write::unadmitted(shared, call, write::create).map(|(_, object)| object)
}

fn respond(result: Result<(u16, Value), ApiError>) -> Response<Body> {
    match result {
        Ok((code, body)) => json(code, &body),
        Err(error) => failure(&error),
    }
}

/// One resource request, parsed.
#[derive(Debug)]
pub struct Call {
    pub(crate) resource: ResourceType,
    pub(crate) target: Target,
    pub(crate) params: BTreeMap<String, String>,
    pub(crate) content_type: String,
    pub(crate) body: Vec<u8>,
    pub(crate) user_agent: Option<String>,
    /// How reads present objects (the `Accept` header: objects, Tables, metadata only).
    pub(crate) shape: crate::table::Shape,
    /// Warnings for the client (`Warning` headers; kubectl prints them).
    pub(crate) warnings: Mutex<Vec<String>>,
}

impl Call {
    /// Adds a warning for the client.
    pub(crate) fn warn(&self, text: String) {
        self.warnings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(text);
    }

    /// Decodes what a write carries as kube-apiserver does: a built-in kind through its
    /// API type (wrong types refused naming the field, unknown fields dropped), a custom
    /// resource pruned and defaulted by its CRD schema; unknown fields are reported as the
    /// request's `fieldValidation` asks. `report: false` drops them silently (fields a
    /// mutating webhook added).
    pub(crate) fn decode(&self, object: &mut Value, report: bool) -> Result<(), ApiError> {
        if !self.resource.custom {
            // Built-ins: through their API type (types checked, unknown fields dropped).
            if let Some(decoded) = crate::builtin::decode(&self.resource, object) {
                let (value, unknown) = decoded.map_err(|e| {
                    ApiError::bad_request(format!(
                        "{} in version {:?} cannot be handled as a {}: {e}",
                        self.resource.kind, self.resource.version, self.resource.kind
                    ))
                })?;
                *object = value;
                if report {
                    self.unknown_fields(&unknown)?;
                }
            }
            return Ok(());
        }
        let Some(schema) = &self.resource.schema else {
            return Ok(());
        };
        let unknown = crate::schema::prune(object, schema);
        if report {
            self.unknown_fields(&unknown)?;
        }
        crate::schema::apply_defaults(object, schema);
        Ok(())
    }

    /// Unknown fields as `fieldValidation` asks: Strict refuses them, Warn (the default)
    /// warns about each, Ignore says nothing.
    fn unknown_fields(&self, unknown: &[String]) -> Result<(), ApiError> {
        if unknown.is_empty() {
            return Ok(());
        }
        match self
            .params
            .get("fieldValidation")
            .map_or("Warn", String::as_str)
        {
            "Strict" => {
                let list: Vec<String> = unknown
                    .iter()
                    .map(|u| format!("unknown field {u:?}"))
                    .collect();
                Err(ApiError::bad_request(format!(
                    "{} in version {:?} cannot be handled as a {}: strict decoding error: {}",
                    self.resource.kind,
                    self.resource.version,
                    self.resource.kind,
                    list.join(", ")
                )))
            }
            "Ignore" => Ok(()),
            _ => {
                for field in unknown {
                    self.warn(format!("unknown field {field:?}"));
                }
                Ok(())
            }
        }
    }

    /// Validates what a write would store: a custom resource against its CRD schema, a
    /// webhook configuration by kube-apiserver's rules for it.
    pub(crate) fn validate(&self, object: &mut Value, name: &str) -> Result<(), ApiError> {
        if let Some(compiled) = &self.resource.compiled {
            let causes = crate::schema::validate(compiled, object);
            if !causes.is_empty() {
                return Err(ApiError::invalid(&self.resource, name, causes));
            }
        }
        if self.resource.group.is_empty()
            && matches!(self.resource.plural.as_str(), "configmaps" | "secrets")
        {
            // kube-apiserver's limit on a ConfigMap's or Secret's data.
            const LIMIT: usize = 1024 * 1024;
            let size: usize = ["data", "binaryData"]
                .iter()
                .filter_map(|k| object.get(*k).and_then(Value::as_object))
                .flat_map(|m| m.iter())
                .map(|(k, v)| k.len() + v.as_str().map_or(0, str::len))
                .sum();
            if size > LIMIT {
                return Err(ApiError::invalid(
                    &self.resource,
                    name,
                    vec![crate::status::Cause {
                        reason: "FieldValueTooLong".into(),
                        message: format!("Too long: must have at most {LIMIT} bytes"),
                        field: "[]".into(),
                    }],
                ));
            }
        }
        if crate::admission::is_configuration(&self.resource) {
            let causes = crate::admission::check_configuration(&self.resource, object);
            if !causes.is_empty() {
                return Err(ApiError::invalid(&self.resource, name, causes));
            }
        }
        Ok(())
    }

    /// The field manager of a write: `fieldManager`, else the `User-Agent` up to its first
    /// `/`, else `unknown`.
    pub(crate) fn manager(&self) -> String {
        self.params
            .get("fieldManager")
            .filter(|m| !m.is_empty())
            .cloned()
            .or_else(|| {
                self.user_agent
                    .as_deref()
                    .and_then(|ua| ua.split('/').next())
                    .filter(|m| !m.is_empty())
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| "unknown".to_owned())
    }

    /// How field management reads this kind's lists.
    pub(crate) fn fields_context(&self) -> crate::ssa::Context<'_> {
        crate::ssa::Context {
            schema: self.resource.schema.as_deref(),
            builtin: !self.resource.custom,
        }
    }

    /// The body as JSON; 400 naming the kind when it does not parse.
    pub(crate) fn json_body(&self) -> Result<Value, ApiError> {
        serde_json::from_slice(&self.body).map_err(|e| {
            ApiError::bad_request(format!(
                "{} in version {:?} cannot be handled as a {}: {e}",
                self.resource.kind, self.resource.version, self.resource.kind
            ))
        })
    }

    /// Whether `dryRun=All` was asked for; 422 for any other value.
    pub(crate) fn dry_run(&self, options: &str) -> Result<bool, ApiError> {
        match self.params.get("dryRun").map(String::as_str) {
            None | Some("") => Ok(false),
            Some("All") => Ok(true),
            Some(other) => Err(ApiError::new(
                422,
                "Invalid",
                format!(
                    "{options}.meta.k8s.io \"\" is invalid: dryRun: Unsupported value: []string{{{other:?}}}: supported values: \"All\""
                ),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_namespaces_resources_and_subresources() {
        let t = target("", "v1", &["namespaces", "ns", "pods", "p", "status"]).unwrap();
        assert_eq!(
            (
                t.namespace.as_deref(),
                t.plural.as_str(),
                t.name.as_deref(),
                t.subresource.as_deref()
            ),
            (Some("ns"), "pods", Some("p"), Some("status"))
        );
        let ns = target("", "v1", &["namespaces", "kube-system"]).unwrap();
        assert_eq!(
            (ns.plural.as_str(), ns.name.as_deref(), ns.namespace),
            ("namespaces", Some("kube-system"), None)
        );
        let finalize = target("", "v1", &["namespaces", "x", "finalize"]).unwrap();
        assert_eq!(finalize.subresource.as_deref(), Some("finalize"));
        let all = target("apps", "v1", &["deployments"]).unwrap();
        assert_eq!((all.namespace, all.name), (None, None));
        assert!(target("", "v1", &["a", "b", "c", "d"]).is_none());
    }
}
