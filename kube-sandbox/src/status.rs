//! The `Status` object every failure answers with, in kube-apiserver's shape: `status`
//! `Failure`, a `reason` clients match on, the message kubectl prints, and `details` naming
//! the object (the resource plural, or the kind for `Invalid`) and the failing fields.

use serde_json::{Value, json};

use crate::resources::ResourceType;

/// One failing field of an `Invalid` answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    /// `FieldValueRequired`, `FieldValueInvalid`, ...
    pub reason: String,
    /// What is wrong (`Required value`).
    pub message: String,
    /// The field path (`spec.replicas`).
    pub field: String,
}

/// A failed request: its HTTP code, reason, message and details.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// HTTP status code.
    pub code: u16,
    /// The `reason` (`NotFound`); empty for internal errors.
    pub reason: std::borrow::Cow<'static, str>,
    /// The message.
    pub message: String,
    /// `details`, when the error names an object.
    pub details: Option<Box<Value>>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.code, self.reason, self.message)
    }
}

impl std::error::Error for ApiError {}

fn details(resource: &ResourceType, name: &str, kind: &str) -> Value {
    json!({"name": name, "group": resource.group, "kind": kind})
}

impl ApiError {
    /// An error without details.
    pub fn new(
        code: u16,
        reason: impl Into<std::borrow::Cow<'static, str>>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            code,
            reason: reason.into(),
            message: message.into(),
            details: None,
        }
    }

    /// 404 for an object: `pods "x" not found`.
    pub fn not_found(resource: &ResourceType, name: &str) -> Self {
        Self {
            details: Some(Box::new(details(resource, name, &resource.plural))),
            ..Self::new(
                404,
                "NotFound",
                format!("{} {name:?} not found", resource.qualified()),
            )
        }
    }

    /// 404 for a path the server does not serve.
    pub fn no_such_resource() -> Self {
        Self::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
    }

    /// 404 for a namespaced write into a missing namespace.
    pub fn namespace_not_found(namespace: &str) -> Self {
        Self {
            details: Some(Box::new(json!({"name": namespace, "kind": "namespaces"}))),
            ..Self::new(
                404,
                "NotFound",
                format!("namespaces {namespace:?} not found"),
            )
        }
    }

    /// 409 for a create of an existing name.
    pub fn already_exists(resource: &ResourceType, name: &str) -> Self {
        Self {
            details: Some(Box::new(details(resource, name, &resource.plural))),
            ..Self::new(
                409,
                "AlreadyExists",
                format!("{} {name:?} already exists", resource.qualified()),
            )
        }
    }

    /// 409 for a stale `resourceVersion`.
    pub fn conflict(resource: &ResourceType, name: &str) -> Self {
        Self {
            details: Some(Box::new(details(resource, name, &resource.plural))),
            ..Self::new(
                409,
                "Conflict",
                format!(
                    "Operation cannot be fulfilled on {} {name:?}: the object has been modified; please apply your changes to the latest version and try again",
                    resource.qualified()
                ),
            )
        }
    }

    /// 422 with one cause per field: `Pod "x" is invalid: <f>: <m>` (several in brackets).
    pub fn invalid(resource: &ResourceType, name: &str, causes: Vec<Cause>) -> Self {
        let texts: Vec<String> = causes
            .iter()
            .map(|c| format!("{}: {}", c.field, c.message))
            .collect();
        let body = match texts.as_slice() {
            [one] => one.clone(),
            many => format!("[{}]", many.join(", ")),
        };
        let mut d = details(resource, name, &resource.qualified_kind());
        d["kind"] = json!(resource.qualified_kind());
        d["group"] = json!(resource.group);
        d["causes"] = causes
            .iter()
            .map(|c| json!({"reason": c.reason, "message": c.message, "field": c.field}))
            .collect();
        Self {
            details: Some(Box::new(d)),
            ..Self::new(
                422,
                "Invalid",
                format!("{} {name:?} is invalid: {body}", resource.qualified_kind()),
            )
        }
    }

    /// 400 for a request the server cannot read.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    /// 405 for a verb the resource does not support.
    pub fn method_not_allowed(verb: &str, resource: &ResourceType) -> Self {
        Self::new(
            405,
            "MethodNotAllowed",
            format!(
                "{verb} is not supported on resources of kind {:?}",
                resource.qualified()
            ),
        )
    }

    /// 410 for a watch or list from before the retained history.
    pub fn expired(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }

    /// The `Status` body.
    pub fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(details) = &self.details {
            status["details"] = (**details).clone();
        }
        status
    }
}

/// The `Status` a delete answers with when the object is gone at once (CRs and most kinds).
pub fn deleted(resource: &ResourceType, name: &str, uid: &str) -> Value {
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": {"name": name, "group": resource.group, "kind": resource.plural, "uid": uid},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pods() -> ResourceType {
        crate::resources::builtins()
            .into_iter()
            .find(|r| r.plural == "pods")
            .expect("pods are built in")
    }

    #[test]
    fn not_found_names_the_resource_as_kubectl_prints_it() {
        let status = ApiError::not_found(&pods(), "nope").to_status();
        assert_eq!(status["message"], "pods \"nope\" not found");
        assert_eq!(status["reason"], "NotFound");
        assert_eq!(status["code"], 404);
        assert_eq!(status["status"], "Failure");
        assert_eq!(status["details"]["kind"], "pods");
    }

    #[test]
    fn invalid_lists_its_causes_under_the_kind() {
        let err = ApiError::invalid(
            &pods(),
            "p",
            vec![
                Cause {
                    reason: "FieldValueRequired".into(),
                    message: "Required value".into(),
                    field: "spec.containers".into(),
                },
                Cause {
                    reason: "FieldValueInvalid".into(),
                    message: "Invalid value: \"x\"".into(),
                    field: "metadata.name".into(),
                },
            ],
        );
        assert_eq!(
            err.message,
            "Pod \"p\" is invalid: [spec.containers: Required value, metadata.name: Invalid value: \"x\"]"
        );
        let status = err.to_status();
        assert_eq!(status["details"]["kind"], "Pod");
        assert_eq!(
            status["details"]["causes"][0]["reason"],
            "FieldValueRequired"
        );
    }
}
