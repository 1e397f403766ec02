//! Mutating and validating webhook configurations: read into [`Hook`]s, and checked on
//! write with kube-apiserver's rules for them (so a configuration the sandbox could not call
//! is refused with the field at fault, never stored and ignored).

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine as _;
use serde_json::Value;

use crate::selector::LabelSelector;
use crate::status::Cause;

/// Where a webhook is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Endpoint {
    /// `clientConfig.url`: an `https://` URL.
    Url(String),
    /// `clientConfig.service`: a Service, reached through the sandbox's routes.
    Service {
        namespace: String,
        name: String,
        path: String,
        port: u16,
    },
}

/// One `rules[]` entry.
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    operations: Vec<String>,
    groups: Vec<String>,
    versions: Vec<String>,
    resources: Vec<String>,
    scope: String,
}

/// What a request looks like to a rule.
#[derive(Debug)]
pub(crate) struct RuleInput<'a> {
    pub(crate) operation: &'a str,
    pub(crate) group: &'a str,
    pub(crate) version: &'a str,
    pub(crate) resource: &'a str,
    pub(crate) subresource: Option<&'a str>,
    pub(crate) namespaced: bool,
}

fn listed(list: &[String], value: &str) -> bool {
    list.iter().any(|entry| entry == "*" || entry == value)
}

impl Rule {
    /// kube-apiserver's rule match: operation, group, version, resource (with the
    /// subresource forms `pods/status`, `pods/*`, `*/status`, `*/*`, and `*` for every
    /// main resource) and scope.
    pub(crate) fn matches(&self, input: &RuleInput<'_>) -> bool {
        let resource = self.resources.iter().any(|entry| {
            let (res, sub) = entry.split_once('/').unwrap_or((entry, ""));
            let res_ok = res == "*" || res == input.resource;
            let sub_ok = match input.subresource {
                None => sub.is_empty(),
                Some(s) => sub == "*" || sub == s,
            };
            res_ok && sub_ok
        });
        let scope = match self.scope.as_str() {
            "Cluster" => !input.namespaced,
            "Namespaced" => input.namespaced,
            _ => true,
        };
        listed(&self.operations, input.operation)
            && listed(&self.groups, input.group)
            && listed(&self.versions, input.version)
            && resource
            && scope
    }
}

/// One `matchConditions[]` entry, compiled.
#[derive(Debug)]
pub(crate) struct Condition {
    pub(crate) name: String,
    pub(crate) program: cel::Program,
}

/// One webhook of a configuration, ready to call.
#[derive(Debug)]
pub(crate) struct Hook {
    /// The configuration's name (hooks run in configuration-name order).
    pub(crate) configuration: String,
    pub(crate) name: String,
    pub(crate) endpoint: Endpoint,
    /// `clientConfig.caBundle`, decoded: the PEM certificates the server must chain to.
    pub(crate) ca_bundle: Vec<u8>,
    pub(crate) rules: Vec<Rule>,
    /// `None` selects everything.
    pub(crate) namespace_selector: Option<LabelSelector>,
    pub(crate) object_selector: Option<LabelSelector>,
    pub(crate) conditions: Vec<Condition>,
    /// `failurePolicy: Ignore`.
    pub(crate) ignore_failures: bool,
    pub(crate) timeout: Duration,
    /// `reinvocationPolicy: IfNeeded` (mutating only).
    pub(crate) reinvoke: bool,
}

/// The variables a match condition may use.
const VARIABLES: [&str; 3] = ["object", "oldObject", "request"];

/// The variables `expr` reads that no comprehension inside it binds.
fn free_variables(
    expr: &cel::common::ast::IdedExpr,
    bound: &mut Vec<String>,
    out: &mut std::collections::BTreeSet<String>,
) {
    use cel::common::ast::{EntryExpr, Expr, IdedExpr};
    fn entry(e: &EntryExpr) -> Vec<&IdedExpr> {
        match e {
            EntryExpr::StructField(field) => vec![&field.value],
            EntryExpr::MapEntry(entry) => vec![&entry.key, &entry.value],
        }
    }
    match &expr.expr {
        Expr::Ident(name) => {
            if !name.starts_with('@') && !bound.iter().any(|b| b == name) {
                out.insert(name.clone());
            }
        }
        Expr::Call(call) => {
            if let Some(target) = &call.target {
                free_variables(target, bound, out);
            }
            for arg in &call.args {
                free_variables(arg, bound, out);
            }
        }
        Expr::Comprehension(comp) => {
            free_variables(&comp.iter_range, bound, out);
            free_variables(&comp.accu_init, bound, out);
            let before = bound.len();
            bound.push(comp.iter_var.clone());
            bound.extend(comp.iter_var2.clone());
            bound.push(comp.accu_var.clone());
            for inner in [&comp.loop_cond, &comp.loop_step, &comp.result] {
                free_variables(inner, bound, out);
            }
            bound.truncate(before);
        }
        Expr::List(list) => {
            for element in &list.elements {
                free_variables(element, bound, out);
            }
        }
        Expr::Map(map) => {
            for e in &map.entries {
                for inner in entry(&e.expr) {
                    free_variables(inner, bound, out);
                }
            }
        }
        Expr::Struct(structure) => {
            for e in &structure.entries {
                for inner in entry(&e.expr) {
                    free_variables(inner, bound, out);
                }
            }
        }
        Expr::Select(select) => free_variables(&select.operand, bound, out),
        Expr::Literal(_) | Expr::Unspecified => {}
    }
}

/// The hooks of one configuration object and what is wrong with it.
pub(crate) fn read(object: &Value) -> (Vec<Hook>, Vec<Cause>) {
    let mutating =
        object.get("kind").and_then(Value::as_str) == Some("MutatingWebhookConfiguration");
    let configuration = crate::meta::meta_str(object, "name")
        .unwrap_or_default()
        .to_owned();
    let mut causes = Vec::new();
    let mut hooks = Vec::new();
    let mut names = BTreeMap::new();
    let webhooks = object
        .get("webhooks")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    for (i, webhook) in webhooks.iter().enumerate() {
        let mut check = Checker {
            prefix: format!("webhooks[{i}]"),
            causes: &mut causes,
        };
        let start = check.causes.len();
        let name = crate::meta::text(webhook, "name");
        if name.is_empty() {
            check.required("name", "");
        } else if name.split('.').count() < 3
            || name
                .split('.')
                .any(|s| crate::meta::label_error(s).is_some())
        {
            check.invalid(
                "name",
                name,
                "should be a domain with at least three segments separated by dots",
            );
        } else if names.insert(name.to_owned(), i).is_some() {
            check.cause(
                "name",
                "FieldValueDuplicate",
                format!("Duplicate value: {name:?}"),
            );
        }
        if let Some(hook) = read_hook(webhook, mutating, &configuration, name, &mut check)
            && check.causes.len() == start
        {
            hooks.push(hook);
        }
    }
    (hooks, causes)
}

/// Collects causes under one `webhooks[i]` prefix.
struct Checker<'a> {
    prefix: String,
    causes: &'a mut Vec<Cause>,
}

impl Checker<'_> {
    fn cause(&mut self, field: &str, reason: &str, message: String) {
        self.causes.push(Cause {
            reason: reason.to_owned(),
            message,
            field: format!("{}.{field}", self.prefix),
        });
    }

    fn required(&mut self, field: &str, detail: &str) {
        let message = if detail.is_empty() {
            "Required value".to_owned()
        } else {
            format!("Required value: {detail}")
        };
        self.cause(field, "FieldValueRequired", message);
    }

    fn invalid(&mut self, field: &str, value: &str, detail: &str) {
        self.cause(
            field,
            "FieldValueInvalid",
            format!("Invalid value: {value:?}: {detail}"),
        );
    }

    fn unsupported(&mut self, field: &str, value: &str, supported: &[&str]) {
        let list: Vec<String> = supported.iter().map(|s| format!("{s:?}")).collect();
        self.cause(
            field,
            "FieldValueNotSupported",
            format!(
                "Unsupported value: {value:?}: supported values: {}",
                list.join(", ")
            ),
        );
    }

    /// An enumerated string with a default.
    fn choice<'v>(
        &mut self,
        webhook: &'v Value,
        field: &str,
        supported: &[&'v str],
        default: &'v str,
    ) -> &'v str {
        match webhook.get(field).and_then(Value::as_str) {
            None => default,
            Some(v) if supported.contains(&v) => v,
            Some(v) => {
                self.unsupported(field, v, supported);
                default
            }
        }
    }
}

fn strings(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect()
}

/// A `LabelSelector` object: `None` for a missing or empty one (everything).
fn selector(value: Option<&Value>) -> Result<Option<LabelSelector>, String> {
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let empty = |k: &str| {
        value.get(k).is_none_or(|v| {
            v.as_object().is_some_and(|m| m.is_empty())
                || v.as_array().is_some_and(|a| a.is_empty())
        })
    };
    if empty("matchLabels") && empty("matchExpressions") {
        return Ok(None);
    }
    crate::api::eviction_selector(value)
        .map(Some)
        .ok_or_else(|| "not a valid label selector".to_owned())
}

fn read_hook(
    webhook: &Value,
    mutating: bool,
    configuration: &str,
    name: &str,
    check: &mut Checker<'_>,
) -> Option<Hook> {
    let before = check.causes.len();
    let client = webhook.get("clientConfig").cloned().unwrap_or(Value::Null);
    let endpoint = match (client.get("url"), client.get("service")) {
        (Some(url), None) => {
            let text = url.as_str().unwrap_or_default();
            if text.contains('#') {
                check.invalid(
                    "clientConfig.url",
                    text,
                    "fragments are not permitted in the URL",
                );
            }
            match text
                .split('#')
                .next()
                .unwrap_or_default()
                .parse::<http::Uri>()
            {
                Ok(uri) if uri.authority().is_some_and(|a| a.as_str().contains('@')) => {
                    check.invalid(
                        "clientConfig.url",
                        text,
                        "user information is not permitted in the URL",
                    );
                    None
                }
                Ok(uri) if uri.query().is_some() => {
                    check.invalid(
                        "clientConfig.url",
                        text,
                        "query parameters are not permitted in the URL",
                    );
                    None
                }
                Ok(uri) if uri.scheme_str() == Some("https") && uri.host().is_some() => {
                    Some(Endpoint::Url(text.to_owned()))
                }
                Ok(uri) if uri.scheme_str() != Some("https") => {
                    check.invalid(
                        "clientConfig.url",
                        text,
                        "'https' is the only allowed URL scheme",
                    );
                    None
                }
                _ => {
                    check.invalid("clientConfig.url", text, "must be a valid URL with a host");
                    None
                }
            }
        }
        (None, Some(service)) => {
            let field = |k: &str| service.get(k).and_then(Value::as_str).unwrap_or_default();
            if field("namespace").is_empty() {
                check.required(
                    "clientConfig.service.namespace",
                    "service namespace is required",
                );
            }
            if field("name").is_empty() {
                check.required("clientConfig.service.name", "service name is required");
            }
            let path = field("path");
            if !path.is_empty() && !path.starts_with('/') {
                check.invalid("clientConfig.service.path", path, "must start with a '/'");
            }
            let port = service.get("port").and_then(Value::as_i64).unwrap_or(443);
            let port = match u16::try_from(port) {
                Ok(p) if p > 0 => p,
                _ => {
                    check.invalid(
                        "clientConfig.service.port",
                        &port.to_string(),
                        "port is not valid: must be between 1 and 65535, inclusive",
                    );
                    443
                }
            };
            Some(Endpoint::Service {
                namespace: field("namespace").to_owned(),
                name: field("name").to_owned(),
                path: if path.is_empty() {
                    "/".into()
                } else {
                    path.to_owned()
                },
                port,
            })
        }
        _ => {
            check.required("clientConfig", "exactly one of url or service is required");
            None
        }
    };
    let ca_bundle = match client.get("caBundle").and_then(Value::as_str) {
        None => Vec::new(),
        Some(text) => base64::engine::general_purpose::STANDARD
            .decode(text)
            .unwrap_or_else(|e| {
                check.invalid(
                    "clientConfig.caBundle",
                    "<bytes>",
                    &format!("illegal base64 data: {e}"),
                );
                Vec::new()
            }),
    };
    let mut rules = Vec::new();
    for (j, rule) in webhook
        .get("rules")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let operations = strings(rule.get("operations"));
        if operations.is_empty() {
            check.required(&format!("rules[{j}].operations"), "");
        }
        for op in &operations {
            if !["CREATE", "UPDATE", "DELETE", "CONNECT", "*"].contains(&op.as_str()) {
                check.unsupported(
                    &format!("rules[{j}].operations"),
                    op,
                    &["*", "CONNECT", "CREATE", "DELETE", "UPDATE"],
                );
            }
        }
        let groups = strings(rule.get("apiGroups"));
        let versions = strings(rule.get("apiVersions"));
        let resources = strings(rule.get("resources"));
        for (field, list) in [
            ("apiGroups", &groups),
            ("apiVersions", &versions),
            ("resources", &resources),
        ] {
            if list.is_empty() {
                check.required(&format!("rules[{j}].{field}"), "");
            }
        }
        let field = format!("rules[{j}].resources");
        if resources.len() > 1 && resources.iter().any(|r| r == "*/*") {
            check.invalid(
                &field,
                &resources.join(","),
                "if '*/*' is present, must not specify other resources",
            );
        } else if resources.iter().any(|r| r == "*")
            && resources.iter().any(|r| r != "*" && !r.contains('/'))
        {
            check.invalid(
                &field,
                &resources.join(","),
                "if '*' is present, must not specify other resources without subresources",
            );
        }
        let scope = match rule.get("scope").and_then(Value::as_str) {
            None => "*".to_owned(),
            Some(s @ ("Cluster" | "Namespaced" | "*")) => s.to_owned(),
            Some(other) => {
                check.unsupported(
                    &format!("rules[{j}].scope"),
                    other,
                    &["*", "Cluster", "Namespaced"],
                );
                "*".to_owned()
            }
        };
        rules.push(Rule {
            operations,
            groups,
            versions,
            resources,
            scope,
        });
    }
    let mut selectors = [None, None];
    for (slot, field) in selectors
        .iter_mut()
        .zip(["namespaceSelector", "objectSelector"])
    {
        match selector(webhook.get(field)) {
            Ok(s) => *slot = s,
            Err(e) => check.invalid(field, &webhook[field].to_string(), &e),
        }
    }
    let [namespace_selector, object_selector] = selectors;
    let mut conditions = Vec::new();
    let entries = webhook
        .get("matchConditions")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    if entries.len() > 64 {
        check.cause(
            "matchConditions",
            "FieldValueTooMany",
            format!("Too many: {}: must have at most 64 items", entries.len()),
        );
    }
    for (j, entry) in entries.iter().enumerate() {
        let cname = crate::meta::text(entry, "name");
        let expression = crate::meta::text(entry, "expression");
        if cname.is_empty() {
            check.required(&format!("matchConditions[{j}].name"), "");
        } else if conditions.iter().any(|c: &Condition| c.name == cname) {
            check.cause(
                &format!("matchConditions[{j}].name"),
                "FieldValueDuplicate",
                format!("Duplicate value: {cname:?}"),
            );
        }
        if expression.is_empty() {
            check.required(&format!("matchConditions[{j}].expression"), "");
            continue;
        }
        match cel::Program::compile(expression) {
            Ok(program) => {
                let mut free = std::collections::BTreeSet::new();
                free_variables(program.expression(), &mut Vec::new(), &mut free);
                let field = format!("matchConditions[{j}].expression");
                if let Some(name) = free.iter().find(|v| !VARIABLES.contains(&v.as_str())) {
                    let detail = if name == "authorizer" {
                        "the sandbox does not provide the authorizer variable".to_owned()
                    } else {
                        format!(
                            "compilation failed: undeclared reference to '{name}' (the variables are object, oldObject and request)"
                        )
                    };
                    check.invalid(&field, expression, &detail);
                } else {
                    conditions.push(Condition {
                        name: cname.to_owned(),
                        program,
                    });
                }
            }
            Err(e) => check.invalid(
                &format!("matchConditions[{j}].expression"),
                expression,
                &format!("compilation failed: {e}"),
            ),
        }
    }
    let failure = check.choice(webhook, "failurePolicy", &["Fail", "Ignore"], "Fail");
    check.choice(
        webhook,
        "matchPolicy",
        &["Exact", "Equivalent"],
        "Equivalent",
    );
    // v1 stores only webhooks without side effects (or none on dry runs), so every
    // webhook may be asked about a dry run (with `dryRun: true`).
    match webhook.get("sideEffects").and_then(Value::as_str) {
        None => check.required("sideEffects", "must specify one of None, NoneOnDryRun"),
        Some("None" | "NoneOnDryRun") => {}
        Some(other) => check.unsupported("sideEffects", other, &["None", "NoneOnDryRun"]),
    }
    let timeout = webhook
        .get("timeoutSeconds")
        .and_then(Value::as_i64)
        .unwrap_or(10);
    if !(1..=30).contains(&timeout) {
        check.invalid(
            "timeoutSeconds",
            &timeout.to_string(),
            "the timeout value must be between 1 and 30 seconds",
        );
    }
    let versions = strings(webhook.get("admissionReviewVersions"));
    if versions.is_empty() {
        check.required("admissionReviewVersions", "must specify one of v1, v1beta1");
    } else if !versions.iter().any(|v| v == "v1") {
        check.unsupported(
            "admissionReviewVersions",
            &versions.join(","),
            &["v1 (the sandbox sends admission.k8s.io/v1 only)"],
        );
    }
    let reinvoke = mutating
        && check.choice(
            webhook,
            "reinvocationPolicy",
            &["Never", "IfNeeded"],
            "Never",
        ) == "IfNeeded";
    if check.causes.len() > before {
        return None;
    }
    Some(Hook {
        configuration: configuration.to_owned(),
        name: name.to_owned(),
        endpoint: endpoint?,
        ca_bundle,
        rules,
        namespace_selector,
        object_selector,
        conditions,
        ignore_failures: failure == "Ignore",
        timeout: Duration::from_secs(u64::try_from(timeout).unwrap_or(10)),
        reinvoke,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn hook(extra: Value) -> Value {
        let mut webhook = json!({
            "name": "check.example.com",
            "clientConfig": {"url": "https://127.0.0.1:9443/validate", "caBundle": "LS0tLQ=="},
            "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["configmaps"]}],
            "sideEffects": "None",
            "admissionReviewVersions": ["v1"],
        });
        for (k, v) in extra.as_object().unwrap() {
            webhook[k] = v.clone();
        }
        json!({"kind": "ValidatingWebhookConfiguration", "metadata": {"name": "c"}, "webhooks": [webhook]})
    }

    #[test]
    fn a_complete_webhook_reads_with_its_defaults() {
        let (hooks, causes) = read(&hook(json!({})));
        assert!(causes.is_empty(), "{causes:?}");
        let h = &hooks[0];
        assert_eq!(
            h.endpoint,
            Endpoint::Url("https://127.0.0.1:9443/validate".into())
        );
        assert_eq!(h.ca_bundle, b"----");
        assert_eq!(h.timeout, Duration::from_secs(10));
        assert!(!h.ignore_failures && !h.reinvoke);
        assert!(h.namespace_selector.is_none() && h.object_selector.is_none());
    }

    #[test]
    fn each_mistake_is_named_by_its_field() {
        let cases = [
            (json!({"name": "short"}), "webhooks[0].name"),
            (
                json!({"clientConfig": {"url": "http://x/y"}}),
                "webhooks[0].clientConfig.url",
            ),
            (json!({"clientConfig": {}}), "webhooks[0].clientConfig"),
            (json!({"sideEffects": "Some"}), "webhooks[0].sideEffects"),
            (json!({"timeoutSeconds": 31}), "webhooks[0].timeoutSeconds"),
            (
                json!({"failurePolicy": "Maybe"}),
                "webhooks[0].failurePolicy",
            ),
            (
                json!({"admissionReviewVersions": []}),
                "webhooks[0].admissionReviewVersions",
            ),
            (
                json!({"matchConditions": [{"name": "a", "expression": "object.("}]}),
                "webhooks[0].matchConditions[0].expression",
            ),
            (
                json!({"rules": [{"operations": ["MAYBE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]}]}),
                "webhooks[0].rules[0].operations",
            ),
            (
                json!({"rules": [{"operations": ["*"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods", "*"]}]}),
                "webhooks[0].rules[0].resources",
            ),
            (
                json!({"clientConfig": {"url": "https://u:p@127.0.0.1/x"}}),
                "webhooks[0].clientConfig.url",
            ),
            (
                json!({"clientConfig": {"url": "https://127.0.0.1/x?a=1"}}),
                "webhooks[0].clientConfig.url",
            ),
            (
                json!({"clientConfig": {"url": "https://127.0.0.1/x#f"}}),
                "webhooks[0].clientConfig.url",
            ),
            (
                json!({"matchConditions": [{"name": "a", "expression": "foo == 1"}]}),
                "webhooks[0].matchConditions[0].expression",
            ),
        ];
        for (extra, field) in cases {
            let (hooks, causes) = read(&hook(extra.clone()));
            assert!(hooks.is_empty(), "{extra}");
            assert_eq!(causes[0].field, field, "{extra}: {causes:?}");
        }
    }

    #[test]
    fn conditions_may_bind_their_own_variables() {
        let expression = "has(object.metadata.labels) && object.metadata.labels.exists(k, k == 'a') && request.operation in ['CREATE'].map(o, o)";
        let (hooks, causes) = read(&hook(
            json!({"matchConditions": [{"name": "c", "expression": expression}]}),
        ));
        assert!(causes.is_empty(), "{causes:?}");
        assert_eq!(hooks[0].conditions.len(), 1);
    }

    #[test]
    fn rules_match_resources_subresources_and_scope() {
        let rule = |resources: &[&str], scope: &str| Rule {
            operations: vec!["*".into()],
            groups: vec!["".into()],
            versions: vec!["v1".into()],
            resources: resources.iter().map(|s| (*s).to_owned()).collect(),
            scope: scope.into(),
        };
        let pods = |sub| RuleInput {
            operation: "UPDATE",
            group: "",
            version: "v1",
            resource: "pods",
            subresource: sub,
            namespaced: true,
        };
        assert!(rule(&["pods"], "*").matches(&pods(None)));
        assert!(!rule(&["pods"], "*").matches(&pods(Some("status"))));
        assert!(rule(&["pods/status"], "*").matches(&pods(Some("status"))));
        assert!(rule(&["pods/*"], "*").matches(&pods(Some("eviction"))));
        assert!(rule(&["*/status"], "*").matches(&pods(Some("status"))));
        assert!(rule(&["*"], "*").matches(&pods(None)));
        assert!(!rule(&["*"], "*").matches(&pods(Some("status"))));
        assert!(rule(&["*/*"], "Namespaced").matches(&pods(Some("status"))));
        assert!(!rule(&["*/*"], "Cluster").matches(&pods(None)));
    }
}
