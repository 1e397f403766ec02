//! Patch formats other than server-side apply: JSON merge patch (RFC 7386) and JSON patch
//! (RFC 6902, with Kubernetes' reading of `test` against a missing path: it equals `null`).

use serde_json::{Map, Value};

/// Applies a JSON merge patch: `null` removes a key, objects merge, everything else
/// replaces.
pub fn merge(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(fields) => {
            if !target.is_object() {
                *target = Value::Object(Map::new());
            }
            if let Value::Object(map) = target {
                for (key, value) in fields {
                    if value.is_null() {
                        map.remove(key);
                    } else {
                        merge(map.entry(key.clone()).or_insert(Value::Null), value);
                    }
                }
            }
        }
        other => *target = other.clone(),
    }
}

/// The patch merge key of a built-in list field (what strategic merge patches match list
/// items on), by field name; lists not named here are replaced whole. A subset of the
/// built-in types' `patchMergeKey` tags: the lists kubectl's client-side apply touches.
pub(crate) fn merge_key_of(field: &str) -> Option<&'static str> {
    Some(match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "volumes"
        | "env"
        | "imagePullSecrets" => "name",
        "volumeMounts" => "mountPath",
        "volumeDevices" => "devicePath",
        "ports" => "containerPort",
        "conditions" => "type",
        "ownerReferences" => "uid",
        "hostAliases" => "ip",
        // Mutating/ValidatingWebhookConfiguration.
        "webhooks" => "name",
        "addresses" => "type",
        "topologySpreadConstraints" => "topologyKey",
        _ => return None,
    })
}

/// Primitive lists a strategic merge patch merges as sets instead of replacing.
fn merges_as_set(field: &str) -> bool {
    field == "finalizers"
}

fn key_of<'a>(item: &'a Value, key: &str) -> Option<&'a Value> {
    item.get(key)
}

/// Applies a strategic merge patch to a built-in object: maps merge as in a merge patch,
/// keyed lists (see `merge_key`) merge item by item, and the directives kubectl sends are
/// understood: `$patch: replace|delete|merge`, `$retainKeys`, `$setElementOrder/<list>`,
/// `$deleteFromPrimitiveList/<list>`.
pub fn strategic(target: &mut Value, patch: &Value) {
    let Value::Object(fields) = patch else {
        *target = patch.clone();
        return;
    };
    match fields.get("$patch").and_then(Value::as_str) {
        Some("replace") => {
            let mut replaced = patch.clone();
            strip_directives(&mut replaced);
            *target = replaced;
            return;
        }
        Some("delete") => {
            *target = Value::Null;
            return;
        }
        _ => {}
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(map) = target else {
        return;
    };
    for (key, value) in fields {
        if key.starts_with('$') {
            continue;
        }
        if value.is_null() {
            map.remove(key);
            continue;
        }
        let existing = map.entry(key.clone()).or_insert(Value::Null);
        match (merge_key_of(key), value) {
            (Some(merge_key), Value::Array(items)) => {
                merge_list(existing, items, ports_key(key, items).unwrap_or(merge_key));
            }
            (None, Value::Array(items)) if merges_as_set(key) => {
                let mut current: Vec<Value> = existing.as_array().cloned().unwrap_or_default();
                for item in items {
                    if !current.contains(item) {
                        current.push(item.clone());
                    }
                }
                *existing = Value::Array(current);
            }
            (_, Value::Object(_)) => strategic(existing, value),
            _ => {
                let mut value = value.clone();
                strip_directives(&mut value);
                *existing = value;
            }
        }
        if existing.is_null() {
            map.remove(key);
        }
    }
    for (key, value) in fields {
        if let Some(list) = key.strip_prefix("$deleteFromPrimitiveList/")
            && let (Some(Value::Array(current)), Some(gone)) = (map.get_mut(list), value.as_array())
        {
            current.retain(|v| !gone.contains(v));
        }
        if let Some(list) = key.strip_prefix("$setElementOrder/")
            && let (Some(Value::Array(current)), Some(order)) =
                (map.get_mut(list), value.as_array())
        {
            reorder(
                current,
                order,
                ports_key(list, order).or(merge_key_of(list)),
            );
        }
    }
    if let Some(Value::Array(keep)) = fields.get("$retainKeys") {
        let keep: Vec<&str> = keep.iter().filter_map(Value::as_str).collect();
        map.retain(|k, _| keep.contains(&k.as_str()));
    }
}

/// `ports` is keyed by `containerPort` in containers and by `port` in a Service's spec.
fn ports_key(field: &str, items: &[Value]) -> Option<&'static str> {
    let service = field == "ports"
        && !items.is_empty()
        && items
            .iter()
            .all(|i| i.get("containerPort").is_none() && i.get("port").is_some());
    service.then_some("port")
}

fn merge_list(existing: &mut Value, items: &[Value], key: &str) {
    let mut current: Vec<Value> = existing.as_array().cloned().unwrap_or_default();
    for item in items {
        let Some(id) = key_of(item, key).cloned() else {
            continue;
        };
        let position = current.iter().position(|c| key_of(c, key) == Some(&id));
        match (item.get("$patch").and_then(Value::as_str), position) {
            (Some("delete"), Some(i)) => {
                current.remove(i);
            }
            (Some("delete"), None) => {}
            (_, Some(i)) => strategic(&mut current[i], item),
            (_, None) => {
                let mut added = item.clone();
                strip_directives(&mut added);
                current.push(added);
            }
        }
    }
    *existing = Value::Array(current);
}

/// Orders `items` as `order` lists them (by merge key, or by value for primitive lists);
/// items `order` does not name keep their place after the named ones.
fn reorder(items: &mut Vec<Value>, order: &[Value], key: Option<&str>) {
    let rank = |item: &Value| {
        order.iter().position(|o| match key {
            Some(key) => key_of(o, key).is_some() && key_of(o, key) == key_of(item, key),
            None => o == item,
        })
    };
    let mut ranked: Vec<(usize, usize, Value)> = items
        .drain(..)
        .enumerate()
        .map(|(i, item)| (rank(&item).unwrap_or(usize::MAX), i, item))
        .collect();
    ranked.sort_by_key(|(r, i, _)| (*r, *i));
    items.extend(ranked.into_iter().map(|(_, _, item)| item));
}

fn strip_directives(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|k, _| !k.starts_with('$'));
            for v in map.values_mut() {
                strip_directives(v);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(strip_directives),
        _ => {}
    }
}

/// Why a JSON patch failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("operation {index} ({op} {path}): {reason}")]
pub struct PatchError {
    /// Position of the failing operation.
    pub index: usize,
    /// Its `op`.
    pub op: String,
    /// Its `path`.
    pub path: String,
    /// What went wrong.
    pub reason: String,
}

fn unescape(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

/// Splits a JSON pointer into its unescaped tokens; `None` when it does not start with `/`
/// (the empty pointer, the whole document, has no tokens).
fn tokens(pointer: &str) -> Option<Vec<String>> {
    if pointer.is_empty() {
        return Some(Vec::new());
    }
    pointer
        .strip_prefix('/')
        .map(|rest| rest.split('/').map(unescape).collect())
}

/// The parent container of `tokens` and the last token.
fn parent<'a>(doc: &'a mut Value, tokens: &[String]) -> Option<(&'a mut Value, String)> {
    let (last, init) = tokens.split_last()?;
    let mut node = doc;
    for token in init {
        node = match node {
            Value::Object(map) => map.get_mut(token)?,
            Value::Array(items) => items.get_mut(token.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some((node, last.clone()))
}

fn get<'a>(doc: &'a Value, tokens: &[String]) -> Option<&'a Value> {
    tokens.iter().try_fold(doc, |node, token| match node {
        Value::Object(map) => map.get(token),
        Value::Array(items) => items.get(token.parse::<usize>().ok()?),
        _ => None,
    })
}

fn add(doc: &mut Value, tokens: &[String], value: Value) -> Result<(), String> {
    if tokens.is_empty() {
        *doc = value;
        return Ok(());
    }
    let (container, last) = parent(doc, tokens).ok_or("the parent path does not exist")?;
    match container {
        Value::Object(map) => {
            map.insert(last, value);
            Ok(())
        }
        Value::Array(items) => {
            let index = if last == "-" {
                items.len()
            } else {
                last.parse::<usize>().map_err(|_| "not an array index")?
            };
            if index > items.len() {
                return Err("index out of bounds".into());
            }
            items.insert(index, value);
            Ok(())
        }
        _ => Err("the parent is not an object or array".into()),
    }
}

fn remove(doc: &mut Value, tokens: &[String]) -> Result<Value, String> {
    let (container, last) = parent(doc, tokens).ok_or("the path does not exist")?;
    match container {
        Value::Object(map) => map
            .remove(&last)
            .ok_or_else(|| "the path does not exist".into()),
        Value::Array(items) => {
            let index = last.parse::<usize>().map_err(|_| "not an array index")?;
            if index >= items.len() {
                return Err("index out of bounds".into());
            }
            Ok(items.remove(index))
        }
        _ => Err("the parent is not an object or array".into()),
    }
}

/// Applies a JSON patch (an array of operations) to `doc`; on error `doc` is unchanged.
pub fn json_patch(doc: &mut Value, patch: &Value) -> Result<(), PatchError> {
    let ops = patch.as_array().ok_or_else(|| PatchError {
        index: 0,
        op: String::new(),
        path: String::new(),
        reason: "a JSON patch is an array of operations".into(),
    })?;
    let mut work = doc.clone();
    for (index, op) in ops.iter().enumerate() {
        let name = op.get("op").and_then(Value::as_str).unwrap_or_default();
        let path = op.get("path").and_then(Value::as_str).unwrap_or_default();
        let fail = |reason: String| PatchError {
            index,
            op: name.to_owned(),
            path: path.to_owned(),
            reason,
        };
        let target = tokens(path).ok_or_else(|| fail("the path must start with /".into()))?;
        let value = || {
            op.get("value")
                .cloned()
                .ok_or_else(|| fail("missing value".into()))
        };
        let from = || {
            op.get("from")
                .and_then(Value::as_str)
                .and_then(tokens)
                .ok_or_else(|| fail("missing or invalid from".into()))
        };
        match name {
            "add" => add(&mut work, &target, value()?).map_err(fail)?,
            "remove" => {
                remove(&mut work, &target).map_err(fail)?;
            }
            "replace" => {
                let value = value()?;
                if target.is_empty() {
                    work = value;
                } else {
                    if get(&work, &target).is_none() {
                        return Err(fail("the path does not exist".into()));
                    }
                    remove(&mut work, &target).map_err(fail)?;
                    add(&mut work, &target, value).map_err(fail)?;
                }
            }
            "move" => {
                let from = from()?;
                let moved = remove(&mut work, &from).map_err(fail)?;
                add(&mut work, &target, moved).map_err(fail)?;
            }
            "copy" => {
                let copied = get(&work, &from()?)
                    .cloned()
                    .ok_or_else(|| fail("from does not exist".into()))?;
                add(&mut work, &target, copied).map_err(fail)?;
            }
            "test" => {
                let expected = value()?;
                let actual = get(&work, &target).cloned().unwrap_or(Value::Null);
                if actual != expected {
                    return Err(fail(format!("test failed: found {actual}")));
                }
            }
            other => return Err(fail(format!("unknown operation {other:?}"))),
        }
    }
    *doc = work;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn webhooks_and_service_ports_merge_by_their_keys() {
        let mut config = json!({"webhooks": [
            {"name": "a.example.com", "sideEffects": "None", "clientConfig": {"service": {"namespace": "ns", "name": "one"}}},
            {"name": "b.example.com", "sideEffects": "None"}]});
        strategic(
            &mut config,
            &json!({"webhooks": [{"name": "a.example.com", "clientConfig": {"service": {"name": "two"}}}]}),
        );
        assert_eq!(config["webhooks"].as_array().unwrap().len(), 2);
        assert_eq!(config["webhooks"][0]["sideEffects"], "None");
        assert_eq!(
            config["webhooks"][0]["clientConfig"]["service"],
            json!({"namespace": "ns", "name": "two"})
        );
        let mut service = json!({"spec": {"ports": [{"port": 80, "name": "http"}, {"port": 443, "name": "https"}]}});
        strategic(
            &mut service,
            &json!({"spec": {"$setElementOrder/ports": [{"port": 443}, {"port": 80}], "ports": [{"port": 443, "targetPort": 8443}]}}),
        );
        assert_eq!(
            service["spec"]["ports"],
            json!([{"port": 443, "name": "https", "targetPort": 8443}, {"port": 80, "name": "http"}])
        );
    }

    #[test]
    fn merge_patches_remove_nulls_and_replace_lists() {
        let mut doc = json!({"a": {"b": 1, "c": [1, 2]}, "d": 1});
        merge(
            &mut doc,
            &json!({"a": {"b": null, "c": [3]}, "e": {"f": 2}}),
        );
        assert_eq!(doc, json!({"a": {"c": [3]}, "d": 1, "e": {"f": 2}}));
    }

    #[test]
    fn strategic_patches_merge_keyed_lists_and_honour_directives() {
        let mut pod = json!({"spec": {"containers": [
            {"name": "app", "image": "a:1", "ports": [{"containerPort": 80}]},
            {"name": "side", "image": "s:1"}
        ]}, "metadata": {"finalizers": ["x"], "labels": {"a": "1"}}});
        // What kubectl apply sends after an image edit.
        strategic(
            &mut pod,
            &json!({"spec": {
            "$setElementOrder/containers": [{"name": "side"}, {"name": "app"}],
            "containers": [{"name": "app", "image": "a:2"}]
        }, "metadata": {"finalizers": ["y"], "labels": {"a": null, "b": "2"}}}),
        );
        assert_eq!(pod["spec"]["containers"][0]["name"], "side");
        assert_eq!(pod["spec"]["containers"][1]["image"], "a:2");
        assert_eq!(
            pod["spec"]["containers"][1]["ports"][0]["containerPort"], 80,
            "other fields kept"
        );
        assert_eq!(pod["metadata"]["finalizers"], json!(["x", "y"]));
        assert_eq!(pod["metadata"]["labels"], json!({"b": "2"}));
        strategic(
            &mut pod,
            &json!({"spec": {"containers": [{"name": "side", "$patch": "delete"}]},
            "metadata": {"$deleteFromPrimitiveList/finalizers": ["x"]}}),
        );
        assert_eq!(pod["spec"]["containers"].as_array().unwrap().len(), 1);
        assert_eq!(pod["metadata"]["finalizers"], json!(["y"]));
        let mut node = json!({"spec": {"unschedulable": true, "podCIDR": "10.0.0.0/24"}});
        strategic(&mut node, &json!({"spec": {"unschedulable": null}}));
        assert_eq!(node, json!({"spec": {"podCIDR": "10.0.0.0/24"}}));
        strategic(
            &mut node,
            &json!({"spec": {"$patch": "replace", "taints": []}}),
        );
        assert_eq!(node, json!({"spec": {"taints": []}}));
    }

    #[test]
    fn json_patches_follow_rfc_6902_and_test_missing_as_null() {
        let mut doc = json!({"metadata": {"name": "x"}});
        // kube-rs's finalizer helper: test that finalizers are absent (null), then add them.
        json_patch(
            &mut doc,
            &json!([
                {"op": "test", "path": "/metadata/finalizers", "value": null},
                {"op": "add", "path": "/metadata/finalizers", "value": ["f"]},
                {"op": "add", "path": "/metadata/finalizers/-", "value": "g"},
                {"op": "replace", "path": "/metadata/name", "value": "y"},
                {"op": "copy", "from": "/metadata/name", "path": "/metadata/generateName"},
                {"op": "move", "from": "/metadata/generateName", "path": "/spec"},
            ]),
        )
        .unwrap();
        assert_eq!(
            doc,
            json!({"metadata": {"name": "y", "finalizers": ["f", "g"]}, "spec": "y"})
        );
        let before = doc.clone();
        let err = json_patch(
            &mut doc,
            &json!([
                {"op": "remove", "path": "/metadata/finalizers/0"},
                {"op": "test", "path": "/metadata/name", "value": "z"},
            ]),
        )
        .unwrap_err();
        assert_eq!(err.index, 1);
        assert_eq!(doc, before, "a failed patch changes nothing");
        assert!(
            json_patch(
                &mut doc,
                &json!([{"op": "replace", "path": "/nope", "value": 1}])
            )
            .is_err()
        );
        assert!(json_patch(&mut doc, &json!({"op": "add"})).is_err());
    }
}
