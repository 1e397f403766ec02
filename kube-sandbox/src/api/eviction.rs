//! `POST pods/<name>/eviction`: deleting a pod only when its PodDisruptionBudgets allow it,
//! in kube-apiserver's order and with its answers (201 with a Status, 429 with a
//! `DisruptionBudget` cause, 403 for a negative budget, a 201 carrying a Failure for a pod
//! under two budgets).

use serde_json::{Value, json};

use super::{Call, Shared, Target};
use crate::meta::{self, meta_str};
use crate::resources::ResourceKey;
use crate::selector::{LabelSelector, labels_of};
use crate::status::ApiError;

/// A Kubernetes `LabelSelector` object (`matchLabels`, `matchExpressions`) as a selector;
/// `None` for an empty or missing one (which, for a budget, selects nothing).
pub(crate) fn selector_of(object: &Value) -> Option<LabelSelector> {
    let mut parts = Vec::new();
    if let Some(labels) = object.get("matchLabels").and_then(Value::as_object) {
        for (k, v) in labels {
            parts.push(format!("{k}={}", v.as_str()?));
        }
    }
    for expression in object
        .get("matchExpressions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let key = expression.get("key")?.as_str()?;
        let values: Vec<&str> = expression
            .get("values")
            .and_then(Value::as_array)
            .map(|v| v.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        parts.push(match expression.get("operator")?.as_str()? {
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "Exists" => key.to_owned(),
            "DoesNotExist" => format!("!{key}"),
            _ => return None,
        });
    }
    if parts.is_empty() {
        return None;
    }
    LabelSelector::parse(&parts.join(",")).ok()
}

/// Whether a pod reports the `Ready` condition `True`.
pub(crate) fn pod_ready(pod: &Value) -> bool {
    pod.pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|c| c.get("type") == Some(&json!("Ready")) && c.get("status") == Some(&json!("True")))
}

fn int(value: Option<&Value>) -> i64 {
    value.and_then(Value::as_i64).unwrap_or(0)
}

fn success() -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201})
}

fn too_many(message: String, retry: bool) -> ApiError {
    let mut details = json!({"causes": [{"reason": "DisruptionBudget", "message": message}]});
    if retry {
        details["retryAfterSeconds"] = json!(10);
    }
    ApiError {
        details: Some(Box::new(details)),
        ..ApiError::new(
            429,
            "TooManyRequests",
            "Cannot evict pod as it would violate the pod's disruption budget.",
        )
    }
}

pub(super) async fn evict(shared: &Shared, call: &Call) -> Result<(u16, Value), ApiError> {
    let name = call.target.name.clone().unwrap_or_default();
    let namespace = call.target.namespace.clone().unwrap_or_default();
    let body: Value = if call.body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        serde_json::from_slice(&call.body)
            .map_err(|e| ApiError::bad_request(format!("error decoding Eviction: {e}")))?
    };
    if let Some(in_body) = meta_str(&body, "name").filter(|n| !n.is_empty())
        && in_body != name
    {
        return Err(ApiError::bad_request(
            "name in URL does not match name in Eviction object",
        ));
    }
    let dry_run = call.dry_run("CreateOptions")?;
    admit(shared, call, &body, dry_run).await?;
    let pods = ResourceKey {
        group: String::new(),
        plural: "pods".into(),
    };
    let budgets = ResourceKey {
        group: "policy".into(),
        plural: "poddisruptionbudgets".into(),
    };
    {
        let mut state = shared.lock();
        let pod = state
            .get(&pods, &(namespace.clone(), name.clone()))
            .cloned()
            .ok_or_else(|| ApiError::not_found(&call.resource, &name))?;
        let phase = pod
            .pointer("/status/phase")
            .and_then(Value::as_str)
            .unwrap_or("Pending");
        let terminal = matches!(phase, "Pending" | "Succeeded" | "Failed")
            || pod.pointer("/metadata/deletionTimestamp").is_some();
        if !terminal {
            let labels = labels_of(&pod);
            let matching: Vec<Value> = state
                .list(&budgets)
                .filter(|((ns, _), _)| *ns == namespace)
                .filter(|(_, pdb)| {
                    pdb.pointer("/spec/selector")
                        .and_then(selector_of)
                        .is_some_and(|s| s.matches(&labels))
                })
                .map(|(_, pdb)| (**pdb).clone())
                .collect();
            match matching.as_slice() {
                [] => {}
                [_, _, ..] => {
                    return Ok((
                        201,
                        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "code": 500,
                            "message": "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."}),
                    ));
                }
                [pdb] => {
                    let pdb_name = meta_str(pdb, "name").unwrap_or_default().to_owned();
                    let current = int(pdb.pointer("/status/currentHealthy"));
                    let desired = int(pdb.pointer("/status/desiredHealthy"));
                    let always = pdb.pointer("/spec/unhealthyPodEvictionPolicy")
                        == Some(&json!("AlwaysAllow"));
                    let unhealthy_ok =
                        !pod_ready(&pod) && (always || (current >= desired && desired > 0));
                    if !unhealthy_ok {
                        let observed = int(pdb.pointer("/status/observedGeneration"));
                        if observed < int(pdb.pointer("/metadata/generation")) {
                            return Err(too_many(
                                format!(
                                    "The disruption budget {pdb_name} is still being processed by the server."
                                ),
                                true,
                            ));
                        }
                        let allowed = int(pdb.pointer("/status/disruptionsAllowed"));
                        if allowed < 0 {
                            return Err(ApiError::new(
                                403,
                                "Forbidden",
                                format!(
                                    "poddisruptionbudget.policy {pdb_name:?} is forbidden: pdb disruptions allowed is negative"
                                ),
                            ));
                        }
                        if allowed == 0 {
                            return Err(too_many(
                                format!(
                                    "The disruption budget {pdb_name} needs {desired} healthy pods and has {current} currently"
                                ),
                                false,
                            ));
                        }
                        if !dry_run {
                            let mut updated = pdb.clone();
                            updated["status"]["disruptionsAllowed"] = json!(allowed - 1);
                            updated["status"]["disruptedPods"][&name] = json!(meta::now());
                            let rv = state.next_rv();
                            updated["metadata"]["resourceVersion"] = json!(rv.to_string());
                            state.put(&budgets, (namespace.clone(), pdb_name), updated, rv);
                        }
                    }
                }
            }
        }
    }
    if dry_run {
        return Ok((201, success()));
    }
    // Delete the pod with the eviction's delete options.
    let options = body
        .get("deleteOptions")
        .cloned()
        .unwrap_or_else(|| json!({}));
    let pod_call = Call {
        resource: call.resource.clone(),
        target: Target {
            subresource: None,
            ..call.target.clone()
        },
        params: Default::default(),
        content_type: "application/json".into(),
        body: options.to_string().into_bytes(),
        user_agent: call.user_agent.clone(),
        shape: call.shape,
        warnings: std::sync::Mutex::default(),
    };
    // The pod's own DELETE webhooks are not asked: the eviction was admitted.
    match super::write::delete_unadmitted(shared, &pod_call) {
        Ok(_) => Ok((201, success())),
        Err(e) => Err(e),
    }
}

/// Asks the webhooks registered for CREATE of `pods/eviction` (the object is the Eviction).
async fn admit(shared: &Shared, call: &Call, body: &Value, dry_run: bool) -> Result<(), ApiError> {
    let hooks = shared.webhooks();
    if !hooks.may_admit(&call.resource) {
        return Ok(());
    }
    let namespace = call.target.namespace.clone().unwrap_or_default();
    let labels = crate::admission::namespace_labels(&shared.lock(), &namespace);
    let mut eviction = body.clone();
    if !eviction.is_object() {
        eviction = json!({});
    }
    for (field, value) in [("apiVersion", "policy/v1"), ("kind", "Eviction")] {
        if eviction
            .get(field)
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            eviction[field] = json!(value);
        }
    }
    let mut request = crate::admission::Attributes::of_eviction(call, eviction, dry_run, labels);
    hooks.mutate(shared, call, &mut request).await?;
    hooks.validate(shared, call, &request).await
}
