//! Admission webhooks called over real TLS (certificates generated per test), as
//! kube-apiserver calls them: selection by rules, namespace and object selectors and CEL
//! conditions; JSON patches in both encodings; denials; failure policies; re-invocation.
#![allow(clippy::expect_used, clippy::unwrap_used)]

#[path = "support/webhook.rs"]
mod webhook;

use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::{Client, core::DynamicObject};
use kube_sandbox::Sandbox;
use serde_json::{Value, json};
use webhook::{Certificates, Webhook};

fn client(sandbox: &Sandbox) -> Client {
    Client::new(sandbox.client_service(), "default")
}

fn config_map(name: &str, data: Value) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name}, "data": data})).unwrap()
}

fn error_of(err: kube::Error) -> (u16, String) {
    match err {
        kube::Error::Api(status) => (status.code, status.message.clone()),
        other => panic!("not an API error: {other}"),
    }
}

/// A webhook entry calling `client` for `operations` on configmaps.
fn hook(name: &str, client: Value, operations: &[&str], extra: Value) -> Value {
    let mut hook = json!({
        "name": name,
        "clientConfig": client,
        "rules": [{"operations": operations, "apiGroups": [""], "apiVersions": ["v1"], "resources": ["configmaps"]}],
        "sideEffects": "None",
        "admissionReviewVersions": ["v1"],
    });
    for (k, v) in extra.as_object().unwrap() {
        hook[k] = v.clone();
    }
    hook
}

async fn register(client: &Client, kind: &str, name: &str, hooks: Vec<Value>) {
    let plural = format!("{}s", kind.to_ascii_lowercase());
    let resource = kube::api::ApiResource {
        group: "admissionregistration.k8s.io".into(),
        version: "v1".into(),
        api_version: "admissionregistration.k8s.io/v1".into(),
        kind: kind.into(),
        plural,
    };
    let api: Api<DynamicObject> = Api::all_with(client.clone(), &resource);
    let object: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": kind,
        "metadata": {"name": name}, "webhooks": hooks,
    }))
    .unwrap();
    api.patch(
        name,
        &PatchParams::apply("test").force(),
        &Patch::Apply(&object),
    )
    .await
    .unwrap();
}

async fn namespace(client: &Client, name: &str, labels: Value) {
    let api: Api<Namespace> = Api::all(client.clone());
    let ns = serde_json::from_value(json!({"metadata": {"name": name, "labels": labels}})).unwrap();
    api.create(&PostParams::default(), &ns).await.unwrap();
}

async fn served(certificates: &Certificates) -> Webhook {
    webhook::start(certificates).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutating_then_validating_webhooks_over_tls_patch_deny_and_select() {
    let certificates = Certificates::new(&["webhook.hooks.svc", "127.0.0.1"]);
    let webhook = served(&certificates).await;
    let sandbox = Sandbox::default();
    let c = client(&sandbox);
    // The validating webhook is reached as a Service, routed to the test server.
    sandbox.route_service("hooks", "webhook", 443, webhook.address);
    register(
        &c,
        "MutatingWebhookConfiguration",
        "label",
        vec![hook(
            "label.example.com",
            json!({"url": webhook.url("/mutate"), "caBundle": certificates.ca_bundle()}),
            &["CREATE", "UPDATE"],
            json!({"objectSelector": {"matchExpressions": [{"key": "skip-admission", "operator": "DoesNotExist"}]}}),
        )],
    )
    .await;
    register(
        &c,
        "ValidatingWebhookConfiguration",
        "check",
        vec![hook(
            "check.example.com",
            json!({"service": {"namespace": "hooks", "name": "webhook", "path": "/validate"}, "caBundle": certificates.ca_bundle()}),
            &["CREATE", "UPDATE", "DELETE"],
            json!({"namespaceSelector": {"matchLabels": {"admission": "on"}}}),
        )],
    )
    .await;
    namespace(&c, "guarded", json!({"admission": "on"})).await;
    namespace(&c, "open", json!({})).await;
    let guarded: Api<ConfigMap> = Api::namespaced(c.clone(), "guarded");
    let open: Api<ConfigMap> = Api::namespaced(c.clone(), "open");

    // Mutated (kube-rs's byte-array patch), then allowed; the webhook saw a full request.
    let created = guarded
        .create(&PostParams::default(), &config_map("a", json!({"k": "v"})))
        .await
        .unwrap();
    assert_eq!(created.metadata.labels.unwrap()["admitted"], "yes");
    let seen = webhook.requests_to("/mutate");
    let request = &seen[0]["request"];
    assert_eq!(request["operation"], "CREATE");
    assert_eq!(
        request["kind"],
        json!({"group": "", "version": "v1", "kind": "ConfigMap"})
    );
    assert_eq!(request["resource"]["resource"], "configmaps");
    assert_eq!(
        (request["name"].as_str(), request["namespace"].as_str()),
        (Some("a"), Some("guarded"))
    );
    assert_eq!(request["options"]["kind"], "CreateOptions");
    assert!(request["oldObject"].is_null());
    // The validating webhook saw the mutated object.
    let validated = webhook.requests_to("/validate");
    assert_eq!(
        validated[0]["request"]["object"]["metadata"]["labels"]["admitted"],
        "yes"
    );

    // Denied, with the webhook's message, and nothing stored.
    let (code, message) = error_of(
        guarded
            .create(
                &PostParams::default(),
                &config_map("b", json!({"forbidden": "x"})),
            )
            .await
            .unwrap_err(),
    );
    assert_eq!(code, 400);
    assert_eq!(
        message,
        r#"admission webhook "check.example.com" denied the request: key "forbidden" is not allowed"#
    );
    assert!(guarded.get_opt("b").await.unwrap().is_none());

    // The namespace selector leaves the open namespace alone; the object selector skips a
    // labelled object.
    open.create(
        &PostParams::default(),
        &config_map("b", json!({"forbidden": "x"})),
    )
    .await
    .unwrap();
    let mut skipped = config_map("s", json!({}));
    skipped.metadata.labels = Some([("skip-admission".to_owned(), "1".to_owned())].into());
    let skipped = open.create(&PostParams::default(), &skipped).await.unwrap();
    assert!(!skipped.metadata.labels.unwrap().contains_key("admitted"));

    // An update is an UPDATE with the old object; an update adding the key is denied.
    let patch = json!({"data": {"forbidden": "now"}});
    let (code, _) = error_of(
        guarded
            .patch("a", &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .unwrap_err(),
    );
    assert_eq!(code, 400);
    let last = webhook.requests_to("/validate").pop().unwrap();
    assert_eq!(last["request"]["operation"], "UPDATE");
    assert_eq!(last["request"]["oldObject"]["data"], json!({"k": "v"}));
    assert_eq!(last["request"]["options"]["kind"], "UpdateOptions");

    // DELETE is asked with the old object, and a denial keeps the object.
    guarded
        .create(&PostParams::default(), &config_map("keep", json!({})))
        .await
        .unwrap();
    let (code, message) = error_of(
        guarded
            .delete("keep", &DeleteParams::default())
            .await
            .unwrap_err(),
    );
    assert_eq!(
        (code, message.as_str()),
        (
            400,
            r#"admission webhook "check.example.com" denied the request: keep stays"#
        )
    );
    assert!(guarded.get_opt("keep").await.unwrap().is_some());
    let last = webhook.requests_to("/validate").pop().unwrap();
    assert_eq!(last["request"]["operation"], "DELETE");
    assert!(last["request"]["object"].is_null());
    guarded.delete("a", &DeleteParams::default()).await.unwrap();

    // A dry run is asked with dryRun: true and stores nothing.
    guarded
        .create(
            &PostParams {
                dry_run: true,
                ..Default::default()
            },
            &config_map("dry", json!({})),
        )
        .await
        .unwrap();
    assert_eq!(
        webhook.requests_to("/validate").pop().unwrap()["request"]["dryRun"],
        true
    );
    assert!(guarded.get_opt("dry").await.unwrap().is_none());

    // Writes of the configurations themselves are never sent to webhooks.
    let before = webhook.requests.lock().unwrap().len();
    register(&c, "ValidatingWebhookConfiguration", "check", vec![]).await;
    assert_eq!(webhook.requests.lock().unwrap().len(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failure_policies_decide_when_a_webhook_cannot_be_called() {
    let certificates = Certificates::new(&["127.0.0.1"]);
    let webhook = served(&certificates).await;
    let sandbox = Sandbox::default();
    let c = client(&sandbox);
    let cms: Api<ConfigMap> = Api::default_namespaced(c.clone());
    // A port nothing listens on.
    let down = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let other_ca = Certificates::new(&["127.0.0.1"]);
    let cases = [
        (
            json!({"url": format!("https://{down}/validate"), "caBundle": certificates.ca_bundle()}),
            json!({}),
            format!(
                "failed to call webhook: Post \"https://{down}/validate?timeout=10s\": dial tcp {down}: connect:"
            ),
        ),
        (
            json!({"url": webhook.url("/validate"), "caBundle": other_ca.ca_bundle()}),
            json!({}),
            "tls: failed to verify certificate".to_owned(),
        ),
        (
            json!({"url": webhook.url("/slow"), "caBundle": certificates.ca_bundle()}),
            json!({"timeoutSeconds": 1}),
            format!(
                "Post \"{}?timeout=1s\": context deadline exceeded",
                webhook.url("/slow")
            ),
        ),
        (
            json!({"url": webhook.url("/garbage"), "caBundle": certificates.ca_bundle()}),
            json!({}),
            "received invalid webhook response:".to_owned(),
        ),
        (
            json!({"service": {"namespace": "hooks", "name": "nowhere"}, "caBundle": certificates.ca_bundle()}),
            json!({}),
            "has no route in the sandbox".to_owned(),
        ),
    ];
    for (i, (endpoint, extra, expected)) in cases.into_iter().enumerate() {
        let name = format!("case{i}.example.com");
        register(
            &c,
            "ValidatingWebhookConfiguration",
            "failing",
            vec![hook(&name, endpoint.clone(), &["CREATE"], extra.clone())],
        )
        .await;
        let (code, message) = error_of(
            cms.create(
                &PostParams::default(),
                &config_map(&format!("fail{i}"), json!({})),
            )
            .await
            .unwrap_err(),
        );
        assert_eq!(code, 500, "{message}");
        assert!(
            message.starts_with(&format!(
                "Internal error occurred: failed calling webhook \"{name}\": "
            )),
            "{message}"
        );
        assert!(message.contains(&expected), "case {i}: {message}");
        // failurePolicy: Ignore lets the same write through.
        let mut ignoring = extra;
        ignoring["failurePolicy"] = json!("Ignore");
        register(
            &c,
            "ValidatingWebhookConfiguration",
            "failing",
            vec![hook(&name, endpoint, &["CREATE"], ignoring)],
        )
        .await;
        cms.create(
            &PostParams::default(),
            &config_map(&format!("fail{i}"), json!({})),
        )
        .await
        .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn match_conditions_reinvocation_and_configuration_checks() {
    let certificates = Certificates::new(&["127.0.0.1"]);
    let webhook = served(&certificates).await;
    let sandbox = Sandbox::default();
    let c = client(&sandbox);
    let cms: Api<ConfigMap> = Api::default_namespaced(c.clone());
    let ca = certificates.ca_bundle();

    // A CEL condition skips the webhook for one name.
    register(
        &c,
        "ValidatingWebhookConfiguration",
        "check",
        vec![hook(
            "check.example.com",
            json!({"url": webhook.url("/validate"), "caBundle": ca}),
            &["CREATE"],
            json!({"matchConditions": [
                {"name": "not-exempt", "expression": "object.metadata.name != 'exempt'"},
                {"name": "creates", "expression": "request.operation == 'CREATE'"}]}),
        )],
    )
    .await;
    cms.create(
        &PostParams::default(),
        &config_map("exempt", json!({"forbidden": "x"})),
    )
    .await
    .unwrap();
    let (code, _) = error_of(
        cms.create(
            &PostParams::default(),
            &config_map("other", json!({"forbidden": "x"})),
        )
        .await
        .unwrap_err(),
    );
    assert_eq!(code, 400);
    assert_eq!(
        webhook.requests_to("/validate").len(),
        1,
        "the exempt create was not sent"
    );

    // A condition that cannot be evaluated fails the request under Fail, skips under Ignore.
    let broken = |policy: &str| {
        hook(
            "broken.example.com",
            json!({"url": webhook.url("/validate"), "caBundle": ca}),
            &["CREATE"],
            json!({"failurePolicy": policy, "matchConditions": [{"name": "spec", "expression": "object.spec.size > 1"}]}),
        )
    };
    register(
        &c,
        "ValidatingWebhookConfiguration",
        "check",
        vec![broken("Fail")],
    )
    .await;
    let (code, message) = error_of(
        cms.create(&PostParams::default(), &config_map("x", json!({})))
            .await
            .unwrap_err(),
    );
    assert_eq!(code, 403, "{message}");
    assert!(
        message.starts_with(
            r#"configmaps "x" is forbidden: failed to evaluate match condition "spec""#
        ),
        "{message}"
    );
    register(
        &c,
        "ValidatingWebhookConfiguration",
        "check",
        vec![broken("Ignore")],
    )
    .await;
    cms.create(&PostParams::default(), &config_map("x", json!({})))
        .await
        .unwrap();
    register(&c, "ValidatingWebhookConfiguration", "check", vec![]).await;

    // Two mutating configurations, in name order: "a" (IfNeeded) runs again after "b"
    // changed the object, so one create calls /mutate twice and carries both changes.
    register(
        &c,
        "MutatingWebhookConfiguration",
        "a",
        vec![hook(
            "label.example.com",
            json!({"url": webhook.url("/mutate"), "caBundle": ca}),
            &["CREATE"],
            json!({"reinvocationPolicy": "IfNeeded"}),
        )],
    )
    .await;
    register(
        &c,
        "MutatingWebhookConfiguration",
        "b",
        vec![hook(
            "annotate.example.com",
            json!({"url": webhook.url("/annotate"), "caBundle": ca}),
            &["CREATE"],
            json!({}),
        )],
    )
    .await;
    let created = cms
        .create(&PostParams::default(), &config_map("twice", json!({})))
        .await
        .unwrap();
    assert_eq!(created.metadata.labels.unwrap()["admitted"], "yes");
    assert_eq!(created.metadata.annotations.unwrap()["seen"], "base64");
    let calls: Vec<Value> = webhook
        .requests_to("/mutate")
        .into_iter()
        .filter(|r| r["request"]["name"] == "twice")
        .collect();
    assert_eq!(calls.len(), 2);
    assert_eq!(
        calls[1]["request"]["object"]["metadata"]["annotations"]["seen"],
        "base64"
    );

    // A configuration the server could not call is refused, naming the field.
    let resource = kube::api::ApiResource {
        group: "admissionregistration.k8s.io".into(),
        version: "v1".into(),
        api_version: "admissionregistration.k8s.io/v1".into(),
        kind: "ValidatingWebhookConfiguration".into(),
        plural: "validatingwebhookconfigurations".into(),
    };
    let api: Api<DynamicObject> = Api::all_with(c.clone(), &resource);
    let bad: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": "bad"},
        "webhooks": [hook("bad.example.com", json!({"url": "http://127.0.0.1/x"}), &["CREATE"],
            json!({"matchConditions": [{"name": "c", "expression": "object.("}]}))],
    }))
    .unwrap();
    let err = api.create(&PostParams::default(), &bad).await.unwrap_err();
    let kube::Error::Api(status) = err else {
        panic!("not an API error")
    };
    assert_eq!(status.code, 422);
    assert!(
        status.message.contains("webhooks[0].clientConfig.url"),
        "{}",
        status.message
    );
    assert!(
        status
            .message
            .contains("webhooks[0].matchConditions[0].expression"),
        "{}",
        status.message
    );
}
