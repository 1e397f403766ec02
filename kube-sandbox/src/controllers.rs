//! What a cluster's controllers and kubelets would do, as stand-ins the embedder switches on
//! ([`crate::Config::controllers`]); off, the sandbox behaves like a bare kube-apiserver
//! (envtest's setting).
//!
//! After every write, [`settle`] runs these to a fixed point:
//! - the kubelet stand-in: a pod being deleted (bound to a node, so it waited for a
//!   kubelet) whose finalizers are gone is removed;
//! - the garbage collector: an object whose owners are all gone is deleted; dependents of an
//!   owner deleted with `Foreground` are deleted, then its `foregroundDeletion` finalizer is
//!   dropped; dependents of an owner deleted with `Orphan` lose their owner reference, then
//!   its `orphan` finalizer is dropped;
//! - the namespace controller: a terminating namespace's objects are deleted, then the
//!   namespace;
//! - the disruption controller: every PodDisruptionBudget's status follows the pods it
//!   selects.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde_json::{Value, json};

use crate::api::{eviction_selector, pod_ready as ready};
use crate::meta::{self, finalizers, meta_str};
use crate::resources::ResourceKey;
use crate::selector::labels_of;
use crate::store::{ObjectKey, State};

type Entry = (ResourceKey, ObjectKey, Arc<Value>);

fn is(key: &ResourceKey, group: &str, plural: &str) -> bool {
    key.group == group && key.plural == plural
}

fn owner_uids(object: &Value) -> Vec<String> {
    object
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .map(|refs| {
            refs.iter()
                .filter_map(|r| r.get("uid").and_then(Value::as_str).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn write(state: &mut State, resource: &ResourceKey, key: &ObjectKey, mut object: Value) {
    let rv = state.next_rv();
    object["metadata"]["resourceVersion"] = json!(rv.to_string());
    state.put(resource, key.clone(), object, rv);
}

fn remove(state: &mut State, resource: &ResourceKey, key: &ObjectKey, object: &Value) {
    let mut last = object.clone();
    let rv = state.next_rv();
    last["metadata"]["resourceVersion"] = json!(rv.to_string());
    state.remove(resource, key, last, rv);
}

/// Deletes an object as a background delete would: at once, or by marking it when
/// finalizers hold it.
fn delete(state: &mut State, resource: &ResourceKey, key: &ObjectKey, object: &Value) {
    if object.pointer("/metadata/deletionTimestamp").is_some() {
        return;
    }
    if finalizers(object).is_empty() && !is(resource, "", "namespaces") {
        remove(state, resource, key, object);
        return;
    }
    let mut marked = object.clone();
    marked["metadata"]["deletionTimestamp"] = json!(meta::now());
    marked["metadata"]["deletionGracePeriodSeconds"] = json!(0);
    if is(resource, "", "namespaces") {
        marked["status"]["phase"] = json!("Terminating");
    }
    write(state, resource, key, marked);
}

fn without_finalizer(object: &Value, finalizer: &str) -> Value {
    let mut object = object.clone();
    let kept: Vec<String> = finalizers(&object)
        .into_iter()
        .filter(|f| f != finalizer)
        .collect();
    if let Some(meta) = object["metadata"].as_object_mut() {
        if kept.is_empty() {
            meta.remove("finalizers");
        } else {
            meta.insert("finalizers".into(), json!(kept));
        }
    }
    object
}

/// Stores an object whose finalizers changed: removed when it is being deleted and nothing
/// holds it any more.
fn store_or_remove(state: &mut State, resource: &ResourceKey, key: &ObjectKey, object: Value) {
    if object.pointer("/metadata/deletionTimestamp").is_some() && finalizers(&object).is_empty() {
        remove(state, resource, key, &object);
    } else {
        write(state, resource, key, object);
    }
}

fn percent_or_int(value: &Value, expected: i64, round_up: bool) -> i64 {
    match value {
        Value::String(text) => {
            let pct: i64 = text.trim_end_matches('%').parse().unwrap_or(0);
            let product = pct * expected;
            if round_up {
                (product + 99) / 100
            } else {
                product / 100
            }
        }
        other => other.as_i64().unwrap_or(0),
    }
}

/// The status the disruption controller would write for `pdb`, given all objects.
fn budget_status(pdb: &Value, namespace: &str, all: &[Entry]) -> Value {
    let selector = pdb.pointer("/spec/selector").and_then(eviction_selector);
    let pods: Vec<&Value> = all
        .iter()
        .filter(|(r, k, _)| is(r, "", "pods") && k.0 == namespace)
        .map(|(_, _, p)| p.as_ref())
        .filter(|p| selector.as_ref().is_some_and(|s| s.matches(&labels_of(p))))
        .collect();
    let disrupted: BTreeMap<String, Value> = pdb
        .pointer("/status/disruptedPods")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter(|(name, _)| {
                    pods.iter()
                        .any(|p| meta_str(p, "name") == Some(name.as_str()))
                })
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    let expected = i64::try_from(pods.len()).unwrap_or(i64::MAX);
    let desired = match (
        pdb.pointer("/spec/minAvailable"),
        pdb.pointer("/spec/maxUnavailable"),
    ) {
        (Some(min), _) => percent_or_int(min, expected, true),
        (None, Some(max)) => (expected - percent_or_int(max, expected, true)).max(0),
        (None, None) => 0,
    };
    let current = i64::try_from(
        pods.iter()
            .filter(|p| ready(p) && p.pointer("/metadata/deletionTimestamp").is_none())
            .filter(|p| !disrupted.contains_key(meta_str(p, "name").unwrap_or_default()))
            .count(),
    )
    .unwrap_or(i64::MAX);
    let allowed = if expected <= 0 {
        0
    } else {
        (current - desired).max(0)
    };
    let (state, reason) = if allowed > 0 {
        ("True", "SufficientPods")
    } else {
        ("False", "InsufficientPods")
    };
    let transition = pdb
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|c| {
            c.iter()
                .find(|c| c.get("type") == Some(&json!("DisruptionAllowed")))
        })
        .filter(|c| c.get("status") == Some(&json!(state)))
        .and_then(|c| c.get("lastTransitionTime").cloned())
        .unwrap_or_else(|| json!(meta::now()));
    let mut status = json!({
        "observedGeneration": pdb.pointer("/metadata/generation").cloned().unwrap_or(json!(1)),
        "expectedPods": expected,
        "desiredHealthy": desired,
        "currentHealthy": current,
        "disruptionsAllowed": allowed,
        "conditions": [{"type": "DisruptionAllowed", "status": state, "reason": reason, "message": "", "lastTransitionTime": transition,
            "observedGeneration": pdb.pointer("/metadata/generation").cloned().unwrap_or(json!(1))}],
    });
    if !disrupted.is_empty() {
        status["disruptedPods"] = json!(disrupted);
    }
    status
}

/// One pass; whether it changed anything.
fn step(state: &mut State) -> bool {
    let all: Vec<Entry> = state
        .objects
        .iter()
        .flat_map(|(r, m)| m.iter().map(|(k, v)| (r.clone(), k.clone(), Arc::clone(v))))
        .collect();
    let uids: BTreeSet<&str> = all
        .iter()
        .filter_map(|(_, _, o)| meta_str(o, "uid"))
        .collect();
    let owner_state: BTreeMap<&str, (bool, bool)> = all
        .iter()
        .filter(|(_, _, o)| o.pointer("/metadata/deletionTimestamp").is_some())
        .filter_map(|(_, _, o)| {
            let f = finalizers(o);
            Some((
                meta_str(o, "uid")?,
                (
                    f.iter().any(|x| x == "foregroundDeletion"),
                    f.iter().any(|x| x == "orphan"),
                ),
            ))
        })
        .collect();
    let mut dependents: BTreeMap<String, usize> = BTreeMap::new();
    for (_, _, object) in &all {
        for uid in owner_uids(object) {
            *dependents.entry(uid).or_default() += 1;
        }
    }
    for (resource, key, object) in &all {
        // The kubelet stand-in.
        if is(resource, "", "pods")
            && object.pointer("/metadata/deletionTimestamp").is_some()
            && finalizers(object).is_empty()
        {
            remove(state, resource, key, object);
            return true;
        }
        // The garbage collector, for this object as a dependent.
        let owners = owner_uids(object);
        if !owners.is_empty() {
            if owners.iter().all(|u| !uids.contains(u.as_str())) {
                delete(state, resource, key, object);
                if object.pointer("/metadata/deletionTimestamp").is_none() {
                    return true;
                }
            }
            for owner in &owners {
                match owner_state.get(owner.as_str()) {
                    Some((true, _)) if object.pointer("/metadata/deletionTimestamp").is_none() => {
                        delete(state, resource, key, object);
                        return true;
                    }
                    Some((_, true)) => {
                        let mut orphaned = (**object).clone();
                        if let Some(refs) = orphaned["metadata"]["ownerReferences"].as_array_mut() {
                            refs.retain(|r| r.get("uid").and_then(Value::as_str) != Some(owner));
                        }
                        write(state, resource, key, orphaned);
                        return true;
                    }
                    _ => {}
                }
            }
        }
        // ...and as an owner being deleted.
        if object.pointer("/metadata/deletionTimestamp").is_some() {
            let uid = meta_str(object, "uid").unwrap_or_default();
            let waiting = dependents.get(uid).copied().unwrap_or(0);
            for finalizer in ["foregroundDeletion", "orphan"] {
                if waiting == 0 && finalizers(object).iter().any(|f| f == finalizer) {
                    store_or_remove(state, resource, key, without_finalizer(object, finalizer));
                    return true;
                }
            }
        }
        // The namespace controller.
        if is(resource, "", "namespaces") && object.pointer("/metadata/deletionTimestamp").is_some()
        {
            let name = &key.1;
            let content: Vec<&Entry> = all
                .iter()
                .filter(|(_, k, _)| !k.0.is_empty() && k.0 == *name)
                .collect();
            let mut changed = false;
            for (r, k, o) in &content {
                if o.pointer("/metadata/deletionTimestamp").is_none() {
                    delete(state, r, k, o);
                    changed = true;
                }
            }
            if changed {
                return true;
            }
            if content.is_empty() {
                remove(state, resource, key, object);
                return true;
            }
        }
        // The disruption controller.
        if is(resource, "policy", "poddisruptionbudgets") {
            let status = budget_status(object, &key.0, &all);
            if object.get("status") != Some(&status) {
                let mut updated = (**object).clone();
                updated["status"] = status;
                write(state, resource, key, updated);
                return true;
            }
        }
    }
    false
}

/// Runs the stand-ins until nothing changes (bounded, so a bug cannot hang a request).
pub fn settle(state: &mut State) {
    for _ in 0..10_000 {
        if !step(state) {
            break;
        }
    }
}
