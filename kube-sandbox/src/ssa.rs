//! Server-side apply and field ownership (`metadata.managedFields`).
//!
//! Field sets are kept in their wire form, FieldsV1: a tree of `f:<field>` (a map field),
//! `k:<key JSON>` (an item of a list merged by key), `v:<value JSON>` (an item of a set
//! list) and `.` (the item itself, when it also has children); leaves are `{}`.
//!
//! Lists: a built-in list with a merge key (see [`crate::patch`]'s table) or a CRD list
//! marked `x-kubernetes-list-type: map` merges by key; `set` lists merge by value; every
//! other list (a CRD list without markers included) is atomic: one owner for the whole
//! list, replaced whole.
//!
//! Apply: the manager's set becomes exactly the fields of the body; an applied field whose
//! value differs from the live one and that another manager owns is a conflict (409) unless
//! `force`; fields the manager applied before and omits now are removed unless another
//! manager owns them. Other writes are `Update` operations: the fields they change move to
//! their manager.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

/// A field set: children by FieldsV1 key (a leaf has none).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fields(BTreeMap<String, Fields>);

/// How a list merges.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ListType {
    Atomic,
    Set,
    Map(Vec<String>),
}

/// Where a value sits, for list typing: the field name and, for custom resources, the
/// schema node.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The CRD schema node of the value, when the kind has one.
    pub schema: Option<&'a Value>,
    /// Whether the kind is built in (lists merge by the built-in merge keys).
    pub builtin: bool,
}

impl<'a> Context<'a> {
    fn child(&self, field: &str) -> Self {
        Self {
            schema: self.schema.and_then(|s| {
                s.get("properties")
                    .and_then(|p| p.get(field))
                    .or_else(|| s.get("additionalProperties").filter(|a| a.is_object()))
            }),
            builtin: self.builtin,
        }
    }

    fn items(&self) -> Self {
        Self {
            schema: self.schema.and_then(|s| s.get("items")),
            builtin: self.builtin,
        }
    }

    fn list_type(&self, field: &str) -> ListType {
        if let Some(schema) = self.schema {
            return match schema.get("x-kubernetes-list-type").and_then(Value::as_str) {
                Some("set") => ListType::Set,
                Some("map") => ListType::Map(
                    schema
                        .get("x-kubernetes-list-map-keys")
                        .and_then(Value::as_array)
                        .map(|k| {
                            k.iter()
                                .filter_map(Value::as_str)
                                .map(str::to_owned)
                                .collect()
                        })
                        .unwrap_or_default(),
                ),
                _ => ListType::Atomic,
            };
        }
        if self.builtin {
            if let Some(key) = crate::patch::merge_key_of(field) {
                return ListType::Map(vec![key.to_owned()]);
            }
            if field == "finalizers" {
                return ListType::Set;
            }
        }
        if field == "finalizers" {
            return ListType::Set;
        }
        ListType::Atomic
    }
}

/// The `k:` key of a list item: its key fields as compact JSON, sorted.
fn item_key(item: &Value, keys: &[String]) -> Option<String> {
    let mut map = Map::new();
    let mut sorted = keys.to_vec();
    sorted.sort();
    for key in &sorted {
        map.insert(key.clone(), item.get(key)?.clone());
    }
    Some(format!("k:{}", Value::Object(map)))
}

impl Fields {
    /// A leaf.
    fn leaf() -> Self {
        Self::default()
    }

    /// Whether it has no children.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The fields `value` sets, below an object.
    pub fn of(value: &Value, ctx: Context<'_>) -> Self {
        let mut out = Self::default();
        if let Value::Object(map) = value {
            for (key, child) in map {
                out.0.insert(
                    format!("f:{key}"),
                    Self::of_field(key, child, ctx.child(key)),
                );
            }
        }
        out
    }

    fn of_field(field: &str, value: &Value, ctx: Context<'_>) -> Self {
        match value {
            Value::Object(map) if !map.is_empty() => {
                let atomic = ctx
                    .schema
                    .and_then(|s| s.get("x-kubernetes-map-type"))
                    .and_then(Value::as_str)
                    == Some("atomic");
                if atomic {
                    Self::leaf()
                } else {
                    Self::of(value, ctx)
                }
            }
            Value::Array(items) => match ctx.list_type(field) {
                ListType::Atomic => Self::leaf(),
                ListType::Set => Self(
                    items
                        .iter()
                        .map(|v| (format!("v:{v}"), Self::leaf()))
                        .collect(),
                ),
                ListType::Map(keys) => Self(
                    items
                        .iter()
                        .filter_map(|item| {
                            let key = item_key(item, &keys)?;
                            let mut children = Self::of(item, ctx.items());
                            children.0.insert(".".into(), Self::leaf());
                            Some((key, children))
                        })
                        .collect(),
                ),
            },
            _ => Self::leaf(),
        }
    }

    /// Every leaf path.
    pub fn leaves(&self) -> Vec<Vec<String>> {
        let mut out = Vec::new();
        for (key, child) in &self.0 {
            if child.is_empty() {
                out.push(vec![key.clone()]);
            } else {
                for mut path in child.leaves() {
                    path.insert(0, key.clone());
                    out.push(path);
                }
            }
        }
        out
    }

    /// Whether the set holds `path` or anything below it.
    pub fn touches(&self, path: &[String]) -> bool {
        match path.split_first() {
            None => true,
            Some((first, rest)) => self.0.get(first).is_some_and(|c| c.touches(rest)),
        }
    }

    /// Whether the set holds `path` as a leaf, or a leaf above it (an atomic owner).
    pub fn owns(&self, path: &[String]) -> bool {
        match path.split_first() {
            None => true,
            Some((first, rest)) => match self.0.get(first) {
                None => false,
                Some(child) if child.is_empty() => true,
                Some(child) => child.owns(rest),
            },
        }
    }

    /// Adds `path`.
    pub fn insert(&mut self, path: &[String]) {
        if let Some((first, rest)) = path.split_first() {
            self.0.entry(first.clone()).or_default().insert(rest);
        }
    }

    /// Removes `path` (and what is below it), pruning emptied parents.
    pub fn remove(&mut self, path: &[String]) {
        if let Some((first, rest)) = path.split_first() {
            if rest.is_empty() {
                self.0.remove(first);
            } else if let Some(child) = self.0.get_mut(first) {
                let was_leaf = child.is_empty();
                child.remove(rest);
                if child.is_empty() && !was_leaf {
                    self.0.remove(first);
                }
            }
        }
    }

    /// The FieldsV1 JSON.
    pub fn to_json(&self) -> Value {
        Value::Object(
            self.0
                .iter()
                .map(|(k, v)| (k.clone(), v.to_json()))
                .collect(),
        )
    }

    /// Reads FieldsV1 JSON (anything else reads as empty).
    pub fn from_json(value: &Value) -> Self {
        Self(
            value
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.clone(), Self::from_json(v)))
                        .collect()
                })
                .unwrap_or_default(),
        )
    }
}

/// The value at a FieldsV1 path of an object, when present.
pub fn value_at<'a>(object: &'a Value, path: &[String]) -> Option<&'a Value> {
    let mut node = object;
    for step in path {
        node = step_into(node, step)?;
    }
    Some(node)
}

fn step_into<'a>(node: &'a Value, step: &str) -> Option<&'a Value> {
    if step == "." {
        return Some(node);
    }
    if let Some(field) = step.strip_prefix("f:") {
        return node.get(field);
    }
    let items = node.as_array()?;
    if let Some(key) = step.strip_prefix("k:") {
        let key: Value = serde_json::from_str(key).ok()?;
        let key = key.as_object()?;
        return items
            .iter()
            .find(|item| key.iter().all(|(k, v)| item.get(k) == Some(v)));
    }
    if let Some(value) = step.strip_prefix("v:") {
        let value: Value = serde_json::from_str(value).ok()?;
        return items.iter().find(|item| **item == value);
    }
    None
}

/// Removes what a FieldsV1 path names from an object (an item path ending in `.` removes
/// the item).
pub fn remove_at(object: &mut Value, path: &[String]) {
    let path: Vec<&String> = path.iter().filter(|s| s.as_str() != ".").collect();
    let Some((last, init)) = path.split_last() else {
        return;
    };
    let mut node = object;
    for step in init {
        // Where the step leads, found with a shared borrow first.
        let index = match step.strip_prefix("f:") {
            Some(_) => None,
            None => step_into(node, step)
                .cloned()
                .and_then(|found| node.as_array()?.iter().position(|i| *i == found)),
        };
        let next = match (step.strip_prefix("f:"), index) {
            (Some(field), _) => node.as_object_mut().and_then(|m| m.get_mut(field)),
            (None, Some(i)) => node.as_array_mut().and_then(|a| a.get_mut(i)),
            (None, None) => None,
        };
        match next {
            Some(n) => node = n,
            None => return,
        }
    }
    if let Some(field) = last.strip_prefix("f:") {
        if let Value::Object(map) = node {
            map.remove(field);
        }
        return;
    }
    let found = step_into(node, last).cloned();
    if let (Some(found), Value::Array(items)) = (found, node) {
        items.retain(|i| *i != found);
    }
}

/// Merges an applied body into the live object: maps merge, keyed lists merge item by
/// item, set lists take the union, other lists are replaced.
pub fn merge(live: &mut Value, applied: &Value, ctx: Context<'_>) {
    let (Value::Object(target), Value::Object(fields)) = (&mut *live, applied) else {
        *live = applied.clone();
        return;
    };
    for (key, value) in fields {
        let child = ctx.child(key);
        let existing = target.entry(key.clone()).or_insert(Value::Null);
        match value {
            Value::Object(_) if existing.is_object() => merge(existing, value, child),
            Value::Array(items) => match ctx.child(key).list_type_for(key) {
                ListType::Map(keys) => {
                    let mut current: Vec<Value> = existing.as_array().cloned().unwrap_or_default();
                    for item in items {
                        let Some(id) = item_key(item, &keys) else {
                            current.push(item.clone());
                            continue;
                        };
                        match current
                            .iter()
                            .position(|c| item_key(c, &keys).as_ref() == Some(&id))
                        {
                            Some(i) => merge(&mut current[i], item, child.items()),
                            None => current.push(item.clone()),
                        }
                    }
                    *existing = Value::Array(current);
                }
                ListType::Set => {
                    let mut current: Vec<Value> = existing.as_array().cloned().unwrap_or_default();
                    for item in items {
                        if !current.contains(item) {
                            current.push(item.clone());
                        }
                    }
                    *existing = Value::Array(current);
                }
                ListType::Atomic => *existing = value.clone(),
            },
            _ => *existing = value.clone(),
        }
    }
}

impl Context<'_> {
    /// The list type of field `field`, whose value this context describes.
    fn list_type_for(&self, field: &str) -> ListType {
        self.list_type(field)
    }
}

/// One `managedFields` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The manager.
    pub manager: String,
    /// `Apply` or `Update`.
    pub operation: String,
    /// The apiVersion it wrote.
    pub api_version: String,
    /// When the entry last changed.
    pub time: String,
    /// The subresource it wrote through (`status`), if any.
    pub subresource: Option<String>,
    /// Its fields.
    pub fields: Fields,
}

impl Entry {
    /// A new `Update` entry.
    fn update(
        manager: &str,
        api_version: String,
        now: &str,
        subresource: Option<&str>,
        fields: Fields,
    ) -> Self {
        Self {
            manager: manager.to_owned(),
            operation: "Update".into(),
            api_version,
            time: now.to_owned(),
            subresource: subresource.map(str::to_owned),
            fields,
        }
    }

    fn to_json(&self) -> Value {
        let mut entry = json!({
            "manager": self.manager,
            "operation": self.operation,
            "apiVersion": self.api_version,
            "time": self.time,
            "fieldsType": "FieldsV1",
            "fieldsV1": self.fields.to_json(),
        });
        if let Some(sub) = &self.subresource {
            entry["subresource"] = json!(sub);
        }
        entry
    }

    fn from_json(value: &Value) -> Option<Self> {
        Some(Self {
            manager: value.get("manager")?.as_str()?.to_owned(),
            operation: value.get("operation")?.as_str()?.to_owned(),
            api_version: value
                .get("apiVersion")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            time: value
                .get("time")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            subresource: value
                .get("subresource")
                .and_then(Value::as_str)
                .map(str::to_owned),
            fields: Fields::from_json(value.get("fieldsV1").unwrap_or(&Value::Null)),
        })
    }

    fn describe(&self) -> String {
        let mut text = format!("{:?}", self.manager);
        if let Some(sub) = &self.subresource {
            text.push_str(&format!(" with subresource {sub:?}"));
        }
        if self.operation == "Update" {
            text.push_str(&format!(" using {}", self.api_version));
        }
        text
    }
}

/// An object's entries.
pub fn entries(object: &Value) -> Vec<Entry> {
    object
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Entry::from_json).collect())
        .unwrap_or_default()
}

/// Writes entries back (empty sets dropped).
pub fn set_entries(object: &mut Value, entries: &[Entry]) {
    let list: Vec<Value> = entries
        .iter()
        .filter(|e| !e.fields.is_empty())
        .map(Entry::to_json)
        .collect();
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        if list.is_empty() {
            meta.remove("managedFields");
        } else {
            meta.insert("managedFields".into(), Value::Array(list));
        }
    }
}

/// The parts of an object field management does not track: apiVersion, kind, and the
/// server-owned metadata.
fn tracked(object: &Value) -> Value {
    let mut object = object.clone();
    if let Some(map) = object.as_object_mut() {
        map.remove("apiVersion");
        map.remove("kind");
        if let Some(meta) = map.get_mut("metadata").and_then(Value::as_object_mut) {
            for field in [
                "name",
                "namespace",
                "uid",
                "resourceVersion",
                "generation",
                "creationTimestamp",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "managedFields",
                "selfLink",
            ] {
                meta.remove(field);
            }
            if meta.is_empty() {
                map.remove("metadata");
            }
        }
    }
    object
}

/// Whether two values are the same to the API server: JSON numbers compare by value
/// (`0.0` and `0` are one float64 to kube-apiserver, so applying a CRD whose schema says
/// `minimum: 0.0` over one stored as `0` changes nothing and conflicts with no one).
fn same_json(a: Option<&Value>, b: Option<&Value>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => same_value(a, b),
        _ => false,
    }
}

fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x == y || x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same_value(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_value(v, w)))
        }
        _ => a == b,
    }
}

/// A failed apply: the conflicting fields, with their owners.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflicts(pub Vec<(String, String)>);

/// A FieldsV1 path as conflicts print it: `.spec.replicas`, `.spec.ports[name="a"]`.
pub fn path_text(path: &[String]) -> String {
    let mut text = String::new();
    for step in path {
        if let Some(field) = step.strip_prefix("f:") {
            text.push('.');
            text.push_str(field);
        } else if let Some(key) = step.strip_prefix("k:") {
            let parts: Vec<String> = serde_json::from_str::<Map<String, Value>>(key)
                .map(|m| m.iter().map(|(k, v)| format!("{k}={v}")).collect())
                .unwrap_or_default();
            text.push_str(&format!("[{}]", parts.join(",")));
        } else if let Some(value) = step.strip_prefix("v:") {
            text.push_str(&format!("[={value}]"));
        }
    }
    text
}

impl Conflicts {
    /// The 409 message: `Apply failed with 1 conflict: conflict with "m" using v1: .spec.a`.
    pub fn message(&self) -> String {
        if let [(manager, path)] = self.0.as_slice() {
            return format!("Apply failed with 1 conflict: conflict with {manager}: {path}");
        }
        let mut by_manager: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (manager, path) in &self.0 {
            by_manager.entry(manager).or_default().push(path);
        }
        let mut text = format!("Apply failed with {} conflicts:", self.0.len());
        for (manager, paths) in by_manager {
            text.push_str(&format!(" conflicts with {manager}:"));
            for path in paths {
                text.push_str(&format!("\n- {path}"));
            }
        }
        text
    }
}

/// Applies `body` for `manager` to `live` (`None`: the object does not exist yet). Returns
/// the new object with its managedFields, or the conflicts.
pub fn apply(
    live: Option<&Value>,
    body: &Value,
    manager: &str,
    subresource: Option<&str>,
    force: bool,
    now: &str,
    ctx: Context<'_>,
) -> Result<Value, Conflicts> {
    let api_version = body
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let mut object = live.cloned().unwrap_or_else(|| json!({}));
    let mut managers = live.map(entries).unwrap_or_default();
    let applied = Fields::of(&tracked(body), ctx);
    let mine = |e: &Entry| {
        e.manager == manager && e.operation == "Apply" && e.subresource.as_deref() == subresource
    };
    // Conflicts: fields another manager owns whose applied value differs from the live one.
    let mut conflicts = Vec::new();
    for path in applied.leaves() {
        let new_value = value_at(body, &path);
        let live_value = live.and_then(|l| value_at(l, &path));
        // An empty map sets nothing: it is a struct, not a value.
        if same_json(new_value, live_value)
            || new_value.is_some_and(|v| v.as_object().is_some_and(Map::is_empty))
        {
            continue;
        }
        for entry in managers.iter().filter(|e| !mine(e)) {
            if entry.fields.owns(&path) || entry.fields.touches(&path) {
                conflicts.push((entry.describe(), path_text(&path)));
            }
        }
    }
    if !conflicts.is_empty() && !force {
        conflicts.sort();
        conflicts.dedup();
        return Err(Conflicts(conflicts));
    }
    if force {
        for entry in managers.iter_mut().filter(|e| !mine(e)) {
            for path in applied.leaves() {
                entry.fields.remove(&path);
            }
        }
    }
    // Fields this manager applied before and omits now go, unless someone else owns them.
    let previous = managers
        .iter()
        .find(|e| mine(e))
        .map(|e| e.fields.clone())
        .unwrap_or_default();
    let mut removed: Vec<Vec<String>> = previous
        .leaves()
        .into_iter()
        .filter(|p| !applied.touches(p))
        .filter(|p| {
            !managers
                .iter()
                .filter(|e| !mine(e))
                .any(|e| e.fields.touches(p))
        })
        .collect();
    removed.sort_by_key(|p| std::cmp::Reverse(p.len()));
    merge(&mut object, body, ctx);
    for path in &removed {
        remove_at(&mut object, path);
    }
    match managers.iter_mut().find(|e| mine(e)) {
        Some(entry) => {
            if entry.fields != applied || entry.api_version != api_version {
                entry.fields = applied;
                entry.api_version = api_version;
                entry.time = now.to_owned();
            }
        }
        None => managers.push(Entry {
            manager: manager.to_owned(),
            operation: "Apply".into(),
            api_version,
            time: now.to_owned(),
            subresource: subresource.map(str::to_owned),
            fields: applied,
        }),
    }
    set_entries(&mut object, &managers);
    Ok(object)
}

/// Records an `Update` by `manager`: the fields that differ between `old` (`None` for a
/// create) and `new` move to it. Returns `new` with its managedFields.
pub fn update(
    old: Option<&Value>,
    mut new: Value,
    manager: &str,
    subresource: Option<&str>,
    now: &str,
    ctx: Context<'_>,
) -> Value {
    let api_version = new
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    // What the writer sent for managedFields: `[{}]` clears them; otherwise the stored ones.
    let cleared = new
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .is_some_and(|a| a.len() == 1 && a[0].as_object().is_some_and(Map::is_empty));
    let mut managers = if cleared {
        Vec::new()
    } else {
        old.map(entries).unwrap_or_default()
    };
    let now_fields = Fields::of(&tracked(&new), ctx);
    if old.is_none() && managers.is_empty() {
        // A create: every field is the creator's.
        if !now_fields.is_empty() {
            managers.push(Entry::update(
                manager,
                api_version,
                now,
                subresource,
                now_fields,
            ));
        }
        set_entries(&mut new, &managers);
        return new;
    }
    let changed: Vec<Vec<String>> = now_fields
        .leaves()
        .into_iter()
        .filter(|p| !same_json(old.and_then(|o| value_at(o, p)), value_at(&new, p)))
        .collect();
    // Fields removed by this write leave their owners.
    let gone: Vec<Vec<String>> = old
        .map(|o| Fields::of(&tracked(o), ctx).leaves())
        .unwrap_or_default()
        .into_iter()
        .filter(|p| value_at(&new, p).is_none())
        .collect();
    for entry in &mut managers {
        for path in changed.iter().chain(&gone) {
            if !(entry.manager == manager && entry.operation == "Update") {
                entry.fields.remove(path);
            }
        }
    }
    if !changed.is_empty() {
        let slot = managers.iter_mut().find(|e| {
            e.manager == manager
                && e.operation == "Update"
                && e.api_version == api_version
                && e.subresource.as_deref() == subresource
        });
        match slot {
            Some(entry) => {
                for path in &changed {
                    entry.fields.insert(path);
                }
                entry.time = now.to_owned();
            }
            None => {
                let mut fields = Fields::default();
                for path in &changed {
                    fields.insert(path);
                }
                managers.push(Entry::update(
                    manager,
                    api_version,
                    now,
                    subresource,
                    fields,
                ));
            }
        }
    }
    set_entries(&mut new, &managers);
    new
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUILTIN: Context<'static> = Context {
        schema: None,
        builtin: true,
    };

    #[test]
    fn field_sets_follow_fieldsv1() {
        let fields = Fields::of(
            &json!({"metadata": {"labels": {"a": "1"}, "finalizers": ["x"]},
                    "spec": {"containers": [{"name": "c", "image": "i"}], "tolerations": [{"k": 1}]}}),
            BUILTIN,
        );
        assert_eq!(
            fields.to_json(),
            json!({"f:metadata": {"f:labels": {"f:a": {}}, "f:finalizers": {"v:\"x\"": {}}},
                   "f:spec": {"f:containers": {"k:{\"name\":\"c\"}": {".": {}, "f:image": {}, "f:name": {}}},
                              "f:tolerations": {}}})
        );
        assert_eq!(
            path_text(&[
                "f:spec".into(),
                "f:containers".into(),
                "k:{\"name\":\"c\"}".into(),
                "f:image".into()
            ]),
            ".spec.containers[name=\"c\"].image"
        );
    }

    #[test]
    fn apply_conflicts_force_and_removal() {
        let now = "2026-01-01T00:00:00Z";
        let body = |replicas: i64, extra: bool| {
            let mut b = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
                "spec": {"replicas": replicas}});
            if extra {
                b["spec"]["paused"] = json!(true);
            }
            b
        };
        let first = apply(None, &body(1, true), "a", None, false, now, BUILTIN).unwrap();
        assert_eq!(first["spec"], json!({"replicas": 1, "paused": true}));
        // Another manager applying the same value shares it; a different value conflicts.
        let shared = apply(
            Some(&first),
            &body(1, false),
            "b",
            None,
            false,
            now,
            BUILTIN,
        )
        .unwrap();
        let err = apply(
            Some(&shared),
            &body(2, false),
            "b",
            None,
            false,
            now,
            BUILTIN,
        )
        .unwrap_err();
        assert_eq!(
            err.message(),
            "Apply failed with 1 conflict: conflict with \"a\": .spec.replicas"
        );
        let forced = apply(
            Some(&shared),
            &body(2, false),
            "b",
            None,
            true,
            now,
            BUILTIN,
        )
        .unwrap();
        assert_eq!(forced["spec"]["replicas"], 2);
        let a = entries(&forced)
            .into_iter()
            .find(|e| e.manager == "a")
            .unwrap();
        assert!(
            !a.fields.touches(&["f:spec".into(), "f:replicas".into()]),
            "force takes the field"
        );
        // a stops applying `paused`: nobody else owns it, so it goes.
        let a_body = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": {}});
        let dropped = apply(Some(&forced), &a_body, "a", None, false, now, BUILTIN).unwrap();
        assert!(dropped["spec"].get("paused").is_none());
        assert_eq!(dropped["spec"]["replicas"], 2, "b still owns replicas");
    }

    #[test]
    fn updates_move_changed_fields_to_their_manager() {
        let now = "2026-01-01T00:00:00Z";
        let applied = apply(None, &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1", "b": "1"}}), "apply", None, false, now, BUILTIN).unwrap();
        let mut edited = applied.clone();
        edited["data"]["a"] = json!("2");
        let after = update(Some(&applied), edited, "editor", None, now, BUILTIN);
        let es = entries(&after);
        let editor = es.iter().find(|e| e.manager == "editor").unwrap();
        assert!(editor.fields.owns(&["f:data".into(), "f:a".into()]));
        let apply_entry = es.iter().find(|e| e.manager == "apply").unwrap();
        assert!(!apply_entry.fields.touches(&["f:data".into(), "f:a".into()]));
        assert!(apply_entry.fields.owns(&["f:data".into(), "f:b".into()]));
    }
}
