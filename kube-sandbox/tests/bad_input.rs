//! Bad requests get kube-apiserver's Status codes and messages, and the server keeps
//! serving: malformed bodies, the wrong type for the path, oversized bodies, unknown
//! resources, bad parameters. YAML bodies (what curl users send) are read like JSON.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use http::Request;
use kube_sandbox::Sandbox;
use serde_json::{Value, json};
use tower::ServiceExt;

async fn send(
    sandbox: &Sandbox,
    method: &str,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (u16, Value) {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", content_type)
        .body(axum::body::Body::from(body))
        .unwrap();
    let response = sandbox.router().oneshot(request).await.unwrap();
    let code = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (code, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// Method, path, content type, body; the expected code and a part of the message.
type Case = (
    &'static str,
    &'static str,
    &'static str,
    Vec<u8>,
    u16,
    &'static str,
);

const CMS: &str = "/api/v1/namespaces/default/configmaps";

#[tokio::test]
async fn bad_requests_are_answered_with_their_status_and_nothing_breaks() {
    let sandbox = Sandbox::default();
    let json_type = "application/json";
    let cases: Vec<Case> = vec![
        (
            "POST",
            CMS,
            json_type,
            b"{not json".to_vec(),
            400,
            "ConfigMap in version \"v1\" cannot be handled as a ConfigMap: key must be a string",
        ),
        (
            "POST",
            CMS,
            json_type,
            b"[1, 2]".to_vec(),
            400,
            "the body is not a JSON object",
        ),
        (
            "POST",
            CMS,
            json_type,
            br#"{"apiVersion": "apps/v1", "kind": "ConfigMap", "metadata": {"name": "a"}}"#
                .to_vec(),
            400,
            "the API version in the data (apps/v1) does not match the expected API version (v1)",
        ),
        (
            "POST",
            CMS,
            json_type,
            br#"{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "a"}}"#.to_vec(),
            400,
            "the kind in the data (Secret) does not match the expected kind (ConfigMap)",
        ),
        (
            "POST",
            CMS,
            json_type,
            vec![b' '; kube_sandbox::MAX_BODY + 1],
            413,
            "Request entity too large: limit is 3145728",
        ),
        (
            "GET",
            "/api/v1/namespaces/default/gizmos",
            json_type,
            vec![],
            404,
            "the server could not find the requested resource",
        ),
        (
            "GET",
            "/apis/example.com/v1/widgets",
            json_type,
            vec![],
            404,
            "the server could not find the requested resource",
        ),
        (
            "POST",
            CMS,
            "application/yaml",
            b"kind: [unclosed".to_vec(),
            400,
            "the body is not valid YAML",
        ),
        (
            "GET",
            "/api/v1/configmaps?labelSelector=a%20in%20(",
            json_type,
            vec![],
            400,
            "unable to parse requirement",
        ),
        (
            "GET",
            "/api/v1/pods?fieldSelector=spec.colour%3Dred",
            json_type,
            vec![],
            400,
            "field label not supported: spec.colour",
        ),
        (
            "PATCH",
            "/api/v1/namespaces/default/configmaps/missing",
            "application/merge-patch+json",
            b"{}".to_vec(),
            404,
            "configmaps \"missing\" not found",
        ),
        (
            "PATCH",
            "/api/v1/namespaces/default/configmaps/missing",
            "text/plain",
            b"{}".to_vec(),
            415,
            "the body of the request was in an unknown format",
        ),
        (
            "POST",
            "/api/v1/namespaces/default/configmaps?dryRun=Some",
            json_type,
            br#"{"metadata": {"name": "a"}}"#.to_vec(),
            422,
            "dryRun: Unsupported value",
        ),
    ];
    for (method, path, content_type, body, code, text) in cases {
        let (got, status) = send(&sandbox, method, path, content_type, body).await;
        assert_eq!(got, code, "{method} {path}: {status}");
        assert_eq!(status["kind"], "Status", "{status}");
        assert_eq!(status["status"], "Failure");
        assert_eq!(status["code"], code);
        let message = status["message"].as_str().unwrap_or_default();
        assert!(message.contains(text), "{method} {path}: {message}");
    }
    // Still serving; and a YAML body is read like JSON.
    let yaml = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-yaml\ndata:\n  k: v\n";
    let (code, created) = send(&sandbox, "POST", CMS, "application/yaml", yaml.to_vec()).await;
    assert_eq!(code, 201, "{created}");
    assert_eq!(created["data"]["k"], "v");
    let apply = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-yaml\ndata:\n  k: w\n";
    let (code, applied) = send(
        &sandbox,
        "PATCH",
        &format!("{CMS}/from-yaml?fieldManager=curl&force=true"),
        "application/apply-patch+yaml",
        apply.to_vec(),
    )
    .await;
    assert_eq!(code, 200, "{applied}");
    assert_eq!(applied["data"], json!({"k": "w"}));
}
