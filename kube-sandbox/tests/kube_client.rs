//! kube-rs's own client, watcher and reflector against the sandbox, in process (no socket).
// Test set-up panics on failure by design: that is the test failing.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, DynamicObject, GroupVersionKind};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, ResourceExt};
use kube_sandbox::{Config, Sandbox};
use serde_json::json;

fn client(sandbox: &Sandbox) -> Client {
    Client::new(sandbox.client_service(), "default")
}

fn config_map(name: &str, data: &str) -> ConfigMap {
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "labels": {"app": "demo"}},
        "data": {"k": data}
    }))
    .unwrap()
}

fn error_of(err: kube::Error) -> (u16, String, String) {
    match err {
        kube::Error::Api(status) => (status.code, status.reason.clone(), status.message.clone()),
        other => panic!("not an API error: {other}"),
    }
}

#[tokio::test]
async fn the_client_reads_version_and_crud_works_with_real_status_errors() {
    let sandbox = Sandbox::default();
    let client = client(&sandbox);
    let version = client.apiserver_version().await.unwrap();
    assert_eq!(version.major, "1");
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let names: Vec<String> = namespaces
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .iter()
        .map(|n| n.name_any())
        .collect();
    assert_eq!(
        names,
        ["default", "kube-node-lease", "kube-public", "kube-system"]
    );

    let maps: Api<ConfigMap> = Api::default_namespaced(client.clone());
    let created = maps
        .create(&PostParams::default(), &config_map("a", "1"))
        .await
        .unwrap();
    assert!(created.metadata.uid.is_some() && created.metadata.creation_timestamp.is_some());
    let (code, reason, message) = error_of(
        maps.create(&PostParams::default(), &config_map("a", "1"))
            .await
            .unwrap_err(),
    );
    assert_eq!(
        (code, reason.as_str(), message.as_str()),
        (409, "AlreadyExists", "configmaps \"a\" already exists")
    );

    // A stale resourceVersion is refused with the real Conflict text.
    let mut stale = created.clone();
    let mut fresh = created.clone();
    fresh.data = Some([("k".to_owned(), "2".to_owned())].into());
    let updated = maps
        .replace("a", &PostParams::default(), &fresh)
        .await
        .unwrap();
    assert_ne!(updated.resource_version(), created.resource_version());
    stale.data = Some([("k".to_owned(), "3".to_owned())].into());
    let (code, reason, message) = error_of(
        maps.replace("a", &PostParams::default(), &stale)
            .await
            .unwrap_err(),
    );
    assert_eq!((code, reason.as_str()), (409, "Conflict"));
    assert!(
        message.contains("the object has been modified"),
        "{message}"
    );

    // A no-op write changes nothing, not even the resourceVersion.
    let again = maps
        .replace("a", &PostParams::default(), &updated)
        .await
        .unwrap();
    assert_eq!(again.resource_version(), updated.resource_version());

    // Merge patch (JSON patches are kubectl's test, `--type=json`).
    let patched = maps
        .patch(
            "a",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"j": "x"}})),
        )
        .await
        .unwrap();
    assert_eq!(patched.data.as_ref().unwrap()["j"], "x");
    let (code, _, message) = error_of(maps.get("nope").await.unwrap_err());
    assert_eq!(
        (code, message.as_str()),
        (404, "configmaps \"nope\" not found")
    );
    let elsewhere: Api<ConfigMap> = Api::namespaced(client.clone(), "missing");
    let (code, _, message) = error_of(
        elsewhere
            .create(&PostParams::default(), &config_map("b", "1"))
            .await
            .unwrap_err(),
    );
    assert_eq!(
        (code, message.as_str()),
        (404, "namespaces \"missing\" not found")
    );

    let gone = maps.delete("a", &DeleteParams::default()).await.unwrap();
    assert!(gone.is_right(), "a ConfigMap delete answers with a Status");
    assert!(maps.get_opt("a").await.unwrap().is_none());
}

fn crd() -> serde_json::Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "foos.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced",
            "names": {"plural": "foos", "singular": "foo", "kind": "Foo", "shortNames": ["fo"]},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}
    })
}

#[tokio::test]
async fn a_crd_serves_its_kind_with_a_status_subresource_and_generations() {
    let sandbox = Sandbox::default();
    sandbox.create(&crd()).unwrap();
    let client = client(&sandbox);
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk("example.com", "v1", "Foo"));
    let foos: Api<DynamicObject> = Api::default_namespaced_with(client.clone(), &resource);
    let foo: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "example.com/v1", "kind": "Foo",
        "metadata": {"name": "f"}, "spec": {"size": 1}, "status": {"ignored": true}
    }))
    .unwrap();
    let created = foos.create(&PostParams::default(), &foo).await.unwrap();
    assert_eq!(created.metadata.generation, Some(1));
    assert!(
        created.data.get("status").is_none(),
        "status is dropped on create"
    );

    // Spec changes bump the generation; labels and status do not.
    let spec = foos
        .patch(
            "f",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"size": 2}})),
        )
        .await
        .unwrap();
    assert_eq!(spec.metadata.generation, Some(2));
    let labelled = foos
        .patch(
            "f",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"a": "b"}}})),
        )
        .await
        .unwrap();
    assert_eq!(labelled.metadata.generation, Some(2));
    let status = foos
        .patch_status(
            "f",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"ready": true}, "spec": {"size": 9}})),
        )
        .await
        .unwrap();
    assert_eq!(status.data["status"]["ready"], true);
    assert_eq!(status.data["spec"]["size"], 2, "/status ignores the spec");
    assert_eq!(status.metadata.generation, Some(2));
    // Writing status through the main endpoint is ignored.
    let main = foos
        .patch(
            "f",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"ready": false}})),
        )
        .await
        .unwrap();
    assert_eq!(main.data["status"]["ready"], true);

    // A PUT without resourceVersion is refused for custom resources.
    let mut no_rv = main.clone();
    no_rv.metadata.resource_version = None;
    let (code, reason, message) = error_of(
        foos.replace("f", &PostParams::default(), &no_rv)
            .await
            .unwrap_err(),
    );
    assert_eq!((code, reason.as_str()), (422, "Invalid"));
    assert!(
        message.contains("must be specified for an update"),
        "{message}"
    );

    // A finalizer holds the object until it is removed.
    foos.patch(
        "f",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": ["example.com/hold"]}})),
    )
    .await
    .unwrap();
    let deleting = foos.delete("f", &DeleteParams::default()).await.unwrap();
    let held = deleting.left().expect("the object, being deleted");
    assert!(held.metadata.deletion_timestamp.is_some());
    foos.patch(
        "f",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .unwrap();
    assert!(foos.get_opt("f").await.unwrap().is_none());

    // Deleting the CRD stops serving its kind.
    let crds: Api<DynamicObject> = Api::all_with(
        client.clone(),
        &ApiResource::from_gvk(&GroupVersionKind::gvk(
            "apiextensions.k8s.io",
            "v1",
            "CustomResourceDefinition",
        )),
    );
    crds.delete("foos.example.com", &DeleteParams::default())
        .await
        .unwrap();
    let (code, _, _) = error_of(foos.list(&ListParams::default()).await.unwrap_err());
    assert_eq!(code, 404);
}

#[tokio::test]
async fn a_watcher_behind_a_short_history_relists_and_converges() {
    let sandbox = Sandbox::new(Config {
        history: 3,
        ..Config::default()
    });
    let client = client(&sandbox);
    let maps: Api<ConfigMap> = Api::default_namespaced(client.clone());
    let (reader, writer) = kube::runtime::reflector::store();
    let stream =
        kube::runtime::reflector(writer, watcher(maps.clone(), watcher::Config::default()))
            .applied_objects()
            .boxed();
    // Errors (the 410) are items of the stream; the watcher re-lists on the next poll.
    let handle = tokio::spawn(async move { stream.for_each(|_| async {}).await });
    reader.wait_until_ready().await.unwrap();
    // Far more changes than the history holds, made without yielding to the watcher's
    // task, so it falls behind the history while connected.
    for i in 0..30 {
        sandbox
            .create(&serde_json::to_value(config_map(&format!("m{i}"), "1")).unwrap())
            .unwrap();
    }
    for i in 0..30 {
        if i % 3 == 0 {
            maps.delete(&format!("m{i}"), &DeleteParams::default())
                .await
                .unwrap();
        }
    }
    let converged = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            if reader.state().len() == 20 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(
        converged.is_ok(),
        "store has {} objects",
        reader.state().len()
    );
    let mut names: Vec<String> = reader.state().iter().map(|m| m.name_any()).collect();
    names.sort();
    assert!(
        names
            .iter()
            .all(|n| n.trim_start_matches('m').parse::<u32>().unwrap() % 3 != 0)
    );
    assert!(
        sandbox.expired_watches() > 0,
        "the watcher fell behind the 3-event history at least once and re-listed"
    );
    handle.abort();
}

#[tokio::test]
async fn watches_resume_from_a_resource_version_filter_by_selector_and_expire() {
    let sandbox = Sandbox::new(Config {
        history: 4,
        ..Config::default()
    });
    let client = client(&sandbox);
    let pods: Api<Pod> = Api::default_namespaced(client.clone());
    let pod = |name: &str, node: &str| -> Pod {
        serde_json::from_value(json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name}, "spec": {"nodeName": node, "containers": [{"name": "c", "image": "i"}]}}))
        .unwrap()
    };
    pods.create(&PostParams::default(), &pod("a", "n1"))
        .await
        .unwrap();
    let list = pods.list(&ListParams::default()).await.unwrap();
    let from = list.metadata.resource_version.clone().unwrap();
    pods.create(&PostParams::default(), &pod("b", "n2"))
        .await
        .unwrap();
    pods.create(&PostParams::default(), &pod("c", "n1"))
        .await
        .unwrap();
    let wp = kube::api::WatchParams::default()
        .fields("spec.nodeName=n1")
        .timeout(2);
    let events: Vec<_> = pods
        .watch(&wp, &from)
        .await
        .unwrap()
        .take(1)
        .collect()
        .await;
    match &events[0] {
        Ok(kube::api::WatchEvent::Added(p)) => assert_eq!(p.name_any(), "c"),
        other => panic!("expected c being added: {other:?}"),
    }
    // Push the history past `from`: the watch gets an ERROR event with 410.
    for i in 0..6 {
        pods.create(&PostParams::default(), &pod(&format!("x{i}"), "n3"))
            .await
            .unwrap();
    }
    let events: Vec<_> = pods
        .watch(&kube::api::WatchParams::default().timeout(2), &from)
        .await
        .unwrap()
        .collect()
        .await;
    match &events[..] {
        [Ok(kube::api::WatchEvent::Error(e))] => assert_eq!(e.code, 410),
        other => panic!("expected one 410 error event: {other:?}"),
    }
}

#[tokio::test]
async fn server_side_apply_owns_fields_conflicts_forces_and_removes() {
    let sandbox = Sandbox::default();
    let client = client(&sandbox);
    let maps: Api<ConfigMap> = Api::default_namespaced(client.clone());
    let body = |data: serde_json::Value| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "s"}, "data": data});
    // No field manager: refused as kube-apiserver refuses it.
    let (code, _, message) = error_of(
        maps.patch(
            "s",
            &PatchParams::default(),
            &Patch::Apply(body(json!({"a": "1"}))),
        )
        .await
        .unwrap_err(),
    );
    assert_eq!(code, 422);
    assert!(
        message.contains("fieldManager: Required value"),
        "{message}"
    );

    let alice = PatchParams::apply("alice");
    let created = maps
        .patch(
            "s",
            &alice,
            &Patch::Apply(body(json!({"a": "1", "b": "1"}))),
        )
        .await
        .unwrap();
    let fields = created.metadata.managed_fields.clone().unwrap();
    assert_eq!(fields.len(), 1);
    assert_eq!(
        (fields[0].manager.as_deref(), fields[0].operation.as_deref()),
        (Some("alice"), Some("Apply"))
    );
    // The same apply again writes nothing.
    let again = maps
        .patch(
            "s",
            &alice,
            &Patch::Apply(body(json!({"a": "1", "b": "1"}))),
        )
        .await
        .unwrap();
    assert_eq!(again.resource_version(), created.resource_version());

    // Bob applying another value of alice's field conflicts, naming both.
    let bob = PatchParams::apply("bob");
    let (code, reason, message) = error_of(
        maps.patch("s", &bob, &Patch::Apply(body(json!({"a": "2"}))))
            .await
            .unwrap_err(),
    );
    assert_eq!((code, reason.as_str()), (409, "Conflict"));
    assert_eq!(
        message,
        "Apply failed with 1 conflict: conflict with \"alice\": .data.a"
    );
    let forced = maps
        .patch(
            "s",
            &bob.clone().force(),
            &Patch::Apply(body(json!({"a": "2"}))),
        )
        .await
        .unwrap();
    assert_eq!(forced.data.as_ref().unwrap()["a"], "2");

    // Alice stops applying b: nobody else owns it, so it goes; a stays (bob owns it).
    let dropped = maps
        .patch("s", &alice, &Patch::Apply(body(json!({}))))
        .await
        .unwrap();
    let data = dropped.data.clone().unwrap_or_default();
    assert_eq!(data.get("a").map(String::as_str), Some("2"));
    assert!(!data.contains_key("b"), "{data:?}");

    // An update by another writer takes the fields it changes.
    let edited = maps
        .patch(
            "s",
            &PatchParams {
                field_manager: Some("carol".into()),
                ..Default::default()
            },
            &Patch::Merge(json!({"data": {"a": "3"}})),
        )
        .await
        .unwrap();
    let managers: Vec<(String, String)> = edited
        .metadata
        .managed_fields
        .unwrap()
        .into_iter()
        .map(|m| {
            (
                m.manager.unwrap_or_default(),
                m.operation.unwrap_or_default(),
            )
        })
        .collect();
    assert!(
        managers.contains(&("carol".into(), "Update".into())),
        "{managers:?}"
    );
    assert!(
        !managers.iter().any(|(m, _)| m == "bob"),
        "bob lost his only field: {managers:?}"
    );
}

#[tokio::test]
async fn evictions_honour_disruption_budgets_as_the_eviction_subresource_does() {
    use k8s_openapi::api::policy::v1::PodDisruptionBudget;
    use kube::api::EvictParams;
    let sandbox = Sandbox::default();
    let client = client(&sandbox);
    let pods: Api<Pod> = Api::default_namespaced(client.clone());
    let budgets: Api<PodDisruptionBudget> = Api::default_namespaced(client.clone());
    let running = |name: &str| {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "i"}]},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}})
    };
    for name in ["p1", "p2"] {
        let pod: Pod = serde_json::from_value(running(name)).unwrap();
        pods.create(&PostParams::default(), &pod).await.unwrap();
        pods.patch_status(name, &PatchParams::default(), &Patch::Merge(running(name)))
            .await
            .unwrap();
    }
    let pending: Pod = serde_json::from_value(json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "waiting", "labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}})).unwrap();
    pods.create(&PostParams::default(), &pending).await.unwrap();
    let pdb: PodDisruptionBudget = serde_json::from_value(json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
        "metadata": {"name": "web"}, "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}}})).unwrap();
    budgets.create(&PostParams::default(), &pdb).await.unwrap();

    // A fresh budget (no status yet) blocks, asking for a retry.
    let (code, _, message) = error_of(pods.evict("p1", &EvictParams::default()).await.unwrap_err());
    assert_eq!(code, 429);
    assert_eq!(
        message,
        "Cannot evict pod as it would violate the pod's disruption budget."
    );
    // A pending pod goes whatever the budget says.
    let ok = pods
        .evict("waiting", &EvictParams::default())
        .await
        .unwrap();
    assert_eq!(
        ok.status,
        Some(kube::core::response::StatusSummary::Success)
    );
    assert!(pods.get_opt("waiting").await.unwrap().is_none());

    // The budget as the disruption controller would report it: nothing to spare, then one.
    let status = |allowed: i64| {
        Patch::Merge(
            json!({"status": {"observedGeneration": 1, "currentHealthy": 2, "desiredHealthy": 1, "expectedPods": 2, "disruptionsAllowed": allowed}}),
        )
    };
    budgets
        .patch_status("web", &PatchParams::default(), &status(0))
        .await
        .unwrap();
    let err = pods.evict("p1", &EvictParams::default()).await.unwrap_err();
    match err {
        kube::Error::Api(s) => {
            assert_eq!(s.code, 429);
            let text = serde_json::to_string(&s).unwrap();
            assert!(
                text.contains("The disruption budget web needs 1 healthy pods and has 2 currently"),
                "{text}"
            );
        }
        other => panic!("{other}"),
    }
    budgets
        .patch_status("web", &PatchParams::default(), &status(1))
        .await
        .unwrap();
    pods.evict("p1", &EvictParams::default()).await.unwrap();
    assert!(pods.get_opt("p1").await.unwrap().is_none());
    let after = budgets.get("web").await.unwrap();
    let pdb_status = after.status.unwrap();
    assert_eq!(
        pdb_status.disruptions_allowed, 0,
        "the eviction used the budget"
    );
    assert!(pdb_status.disrupted_pods.unwrap().contains_key("p1"));

    // Two budgets over one pod: a 201 carrying a Failure, and nothing deleted.
    let second: PodDisruptionBudget = serde_json::from_value(json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
        "metadata": {"name": "web-2"}, "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app": "web"}}}})).unwrap();
    budgets
        .create(&PostParams::default(), &second)
        .await
        .unwrap();
    let two = pods.evict("p2", &EvictParams::default()).await.unwrap();
    assert_eq!(
        two.status,
        Some(kube::core::response::StatusSummary::Failure)
    );
    assert!(two.message.contains("more than one PodDisruptionBudget"));
    assert!(pods.get_opt("p2").await.unwrap().is_some());
}

#[tokio::test]
async fn the_controller_stand_ins_collect_garbage_clean_namespaces_and_finish_pods() {
    use k8s_openapi::api::policy::v1::PodDisruptionBudget;
    let bare = Sandbox::default();
    let sandbox = Sandbox::new(Config {
        controllers: true,
        ..Config::default()
    });
    let client = client(&sandbox);
    let maps: Api<ConfigMap> = Api::default_namespaced(client.clone());
    let owned_by = |name: &str, owner: &ConfigMap| -> ConfigMap {
        serde_json::from_value(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name,
            "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": owner.name_any(), "uid": owner.metadata.uid}]}}))
        .unwrap()
    };
    for (policy, survives) in [
        ("Background", false),
        ("Foreground", false),
        ("Orphan", true),
    ] {
        let owner = maps
            .create(
                &PostParams::default(),
                &config_map(&format!("owner-{policy}").to_lowercase(), "1"),
            )
            .await
            .unwrap();
        let dependent = format!("dep-{policy}").to_lowercase();
        maps.create(&PostParams::default(), &owned_by(&dependent, &owner))
            .await
            .unwrap();
        let dp = DeleteParams {
            propagation_policy: Some(match policy {
                "Background" => kube::api::PropagationPolicy::Background,
                "Foreground" => kube::api::PropagationPolicy::Foreground,
                _ => kube::api::PropagationPolicy::Orphan,
            }),
            ..DeleteParams::default()
        };
        maps.delete(&owner.name_any(), &dp).await.unwrap();
        assert!(
            maps.get_opt(&owner.name_any()).await.unwrap().is_none(),
            "{policy}: owner gone"
        );
        let left = maps.get_opt(&dependent).await.unwrap();
        assert_eq!(left.is_some(), survives, "{policy}");
        if let Some(orphan) = left {
            assert!(
                orphan
                    .metadata
                    .owner_references
                    .unwrap_or_default()
                    .is_empty(),
                "orphaned"
            );
        }
    }

    // A terminating namespace loses its objects, then goes.
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "doomed"}}),
            )
            .unwrap(),
        )
        .await
        .unwrap();
    let inside: Api<ConfigMap> = Api::namespaced(client.clone(), "doomed");
    inside
        .create(&PostParams::default(), &config_map("x", "1"))
        .await
        .unwrap();
    namespaces
        .delete("doomed", &DeleteParams::default())
        .await
        .unwrap();
    assert!(namespaces.get_opt("doomed").await.unwrap().is_none());
    assert!(
        inside
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );

    // A pod bound to a node is finished by the kubelet stand-in; bare, it stays terminating.
    let bound: Pod = serde_json::from_value(
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "b"},
        "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "i"}]}}),
    )
    .unwrap();
    for (server, gone) in [(&sandbox, true), (&bare, false)] {
        let pods: Api<Pod> =
            Api::default_namespaced(Client::new(server.client_service(), "default"));
        pods.create(&PostParams::default(), &bound).await.unwrap();
        pods.delete("b", &DeleteParams::default()).await.unwrap();
        let left = pods.get_opt("b").await.unwrap();
        assert_eq!(left.is_none(), gone);
        if let Some(pod) = left {
            assert!(pod.metadata.deletion_timestamp.is_some());
        }
    }

    // The disruption controller keeps a budget's status, so evictions need no test help.
    let pods: Api<Pod> = Api::default_namespaced(client.clone());
    for name in ["r1", "r2"] {
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": "db"}},
            "spec": {"containers": [{"name": "c", "image": "i"}]}});
        pods.create(
            &PostParams::default(),
            &serde_json::from_value(pod).unwrap(),
        )
        .await
        .unwrap();
        pods.patch_status(name, &PatchParams::default(), &Patch::Merge(json!({"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}}))).await.unwrap();
    }
    let budgets: Api<PodDisruptionBudget> = Api::default_namespaced(client.clone());
    budgets.create(&PostParams::default(), &serde_json::from_value(json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
        "metadata": {"name": "db"}, "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "db"}}}})).unwrap()).await.unwrap();
    let status = budgets.get("db").await.unwrap().status.unwrap();
    assert_eq!(
        (
            status.expected_pods,
            status.current_healthy,
            status.desired_healthy,
            status.disruptions_allowed
        ),
        (2, 2, 1, 1)
    );
    pods.evict("r1", &kube::api::EvictParams::default())
        .await
        .unwrap();
    let err = pods
        .evict("r2", &kube::api::EvictParams::default())
        .await
        .unwrap_err();
    assert_eq!(error_of(err).0, 429, "the budget allows one disruption");
}

#[tokio::test]
async fn events_recorded_through_events_k8s_io_read_as_core_events_and_back() {
    use k8s_openapi::api::core::v1::{Event as CoreEvent, ObjectReference};
    use k8s_openapi::api::events::v1::Event as NewEvent;
    use kube::runtime::events::{Event, EventType, Recorder, Reporter};
    let sandbox = Sandbox::default();
    let client = client(&sandbox);
    let reporter = Reporter {
        controller: "sriov-operator".into(),
        instance: Some("operator-0".into()),
    };
    let recorder = Recorder::new(client.clone(), reporter);
    let node = ObjectReference {
        api_version: Some("v1".into()),
        kind: Some("Node".into()),
        name: Some("worker-0".into()),
        namespace: Some("default".into()),
        ..Default::default()
    };
    let event = Event {
        type_: EventType::Normal,
        reason: "DrainStarted".into(),
        note: Some("draining worker-0".into()),
        action: "Drain".into(),
        secondary: None,
    };
    // The first publish creates; the repeat merge-patches the series.
    recorder.publish(&event, &node).await.unwrap();
    recorder.publish(&event, &node).await.unwrap();

    let core: Api<CoreEvent> = Api::default_namespaced(client.clone());
    let listed = core.list(&ListParams::default()).await.unwrap();
    assert_eq!(listed.items.len(), 1);
    let seen = &listed.items[0];
    assert_eq!(seen.message.as_deref(), Some("draining worker-0"));
    assert_eq!(seen.involved_object.name.as_deref(), Some("worker-0"));
    assert_eq!(seen.reporting_component.as_deref(), Some("sriov-operator"));
    assert_eq!(seen.series.as_ref().and_then(|s| s.count), Some(2));

    // Field selectors work in each view's own terms.
    let by_core = ListParams::default().fields("involvedObject.name=worker-0");
    assert_eq!(core.list(&by_core).await.unwrap().items.len(), 1);
    let new: Api<NewEvent> = Api::default_namespaced(client.clone());
    let by_new = ListParams::default().fields("regarding.name=worker-0");
    assert_eq!(new.list(&by_new).await.unwrap().items.len(), 1);
    let none = ListParams::default().fields("regarding.name=worker-1");
    assert!(new.list(&none).await.unwrap().items.is_empty());

    // A core Event is served by events.k8s.io with the new names, in a watch too.
    let mut stream = watcher(new.clone(), watcher::Config::default())
        .applied_objects()
        .boxed();
    let first = stream.next().await.unwrap().unwrap();
    assert_eq!(first.note.as_deref(), Some("draining worker-0"));
    core.create(
        &PostParams::default(),
        &serde_json::from_value(json!({"metadata": {"name": "old-style"},
            "involvedObject": {"kind": "Pod", "name": "p"}, "reason": "Started", "message": "from core",
            "type": "Normal", "source": {"component": "kubelet"}, "count": 1}))
        .unwrap(),
    )
    .await
    .unwrap();
    let second = tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(second.name_any(), "old-style");
    assert_eq!(second.note.as_deref(), Some("from core"));
    assert_eq!(second.regarding.and_then(|r| r.name).as_deref(), Some("p"));
    assert_eq!(second.deprecated_count, Some(1));
    assert_eq!(
        second
            .deprecated_source
            .and_then(|s| s.component)
            .as_deref(),
        Some("kubelet")
    );
}

#[tokio::test]
async fn metadata_only_reads_answer_partial_object_metadata() {
    let sandbox = Sandbox::default();
    let client = client(&sandbox);
    let cms: Api<ConfigMap> = Api::default_namespaced(client.clone());
    cms.create(&PostParams::default(), &config_map("m1", "big value"))
        .await
        .unwrap();
    let one = cms.get_metadata("m1").await.unwrap();
    assert_eq!(one.metadata.name.as_deref(), Some("m1"));
    assert_eq!(
        one.types.as_ref().map(|t| t.kind.as_str()),
        Some("PartialObjectMetadata")
    );
    let listed = cms.list_metadata(&ListParams::default()).await.unwrap();
    assert_eq!(listed.items.len(), 1);
    assert!(listed.metadata.resource_version.is_some());
    // kube-rs's metadata-only watcher: an Api of PartialObjectMeta.
    let metas: Api<kube::core::PartialObjectMeta<ConfigMap>> =
        Api::default_namespaced(client.clone());
    let mut stream = watcher(metas, watcher::Config::default())
        .applied_objects()
        .boxed();
    assert_eq!(stream.next().await.unwrap().unwrap().name_any(), "m1");
    cms.create(&PostParams::default(), &config_map("m2", "x"))
        .await
        .unwrap();
    let next = tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(next.name_any(), "m2");
}

/// Polls `check` until it holds (a convergence deadline, not a performance bound).
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..250 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("never happened: {what}");
}

#[tokio::test]
async fn a_controller_reconciles_changes_to_its_objects_and_to_what_they_own() {
    use k8s_openapi::api::core::v1::Secret;
    use kube::Resource;
    use kube::runtime::controller::{Action, Controller};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct Context {
        secrets: Api<Secret>,
        reconciles: AtomicUsize,
    }
    // Copies each ConfigMap's `k` into a Secret it owns (through `stringData`, which the
    // server stores as `data`), by server-side apply.
    async fn reconcile(parent: Arc<ConfigMap>, ctx: Arc<Context>) -> Result<Action, kube::Error> {
        ctx.reconciles.fetch_add(1, Ordering::SeqCst);
        let value = parent
            .data
            .as_ref()
            .and_then(|d| d.get("k"))
            .cloned()
            .unwrap_or_default();
        let owner = parent.controller_owner_ref(&()).unwrap();
        let secret: Secret = serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": parent.name_any(), "ownerReferences": [owner]},
            "stringData": {"copy": value},
        }))
        .unwrap();
        ctx.secrets
            .patch(
                &parent.name_any(),
                &PatchParams::apply("copier").force(),
                &Patch::Apply(&secret),
            )
            .await?;
        Ok(Action::await_change())
    }
    fn error_policy(_: Arc<ConfigMap>, _: &kube::Error, _: Arc<Context>) -> Action {
        Action::requeue(Duration::from_millis(50))
    }

    let sandbox = Sandbox::default();
    let client = client(&sandbox);
    let parents: Api<ConfigMap> = Api::default_namespaced(client.clone());
    let secrets: Api<Secret> = Api::default_namespaced(client.clone());
    let context = Arc::new(Context {
        secrets: secrets.clone(),
        reconciles: AtomicUsize::new(0),
    });
    let controller = Controller::new(parents.clone(), watcher::Config::default())
        .owns(secrets.clone(), watcher::Config::default())
        .run(reconcile, error_policy, Arc::clone(&context))
        .for_each(|_| async {});
    let task = tokio::spawn(controller);

    let copy = |secrets: Api<Secret>| async move {
        secrets
            .get_opt("parent")
            .await
            .unwrap()
            .and_then(|s| s.data)
            .and_then(|d| {
                d.get("copy")
                    .map(|b| String::from_utf8_lossy(&b.0).into_owned())
            })
    };
    parents
        .create(&PostParams::default(), &config_map("parent", "one"))
        .await
        .unwrap();
    eventually("the owned secret is created", || {
        let secrets = secrets.clone();
        async move { copy(secrets).await.as_deref() == Some("one") }
    })
    .await;
    // A change to the parent is reconciled.
    parents
        .patch(
            "parent",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"k": "two"}})),
        )
        .await
        .unwrap();
    eventually("the secret follows the parent", || {
        let secrets = secrets.clone();
        async move { copy(secrets).await.as_deref() == Some("two") }
    })
    .await;
    // A change to the owned object reconciles its owner, which puts it back.
    let before = context.reconciles.load(Ordering::SeqCst);
    secrets
        .delete("parent", &DeleteParams::default())
        .await
        .unwrap();
    eventually(
        "the deleted secret is recreated by its owner's reconcile",
        || {
            let secrets = secrets.clone();
            async move { copy(secrets).await.as_deref() == Some("two") }
        },
    )
    .await;
    assert!(context.reconciles.load(Ordering::SeqCst) > before);
    task.abort();
}
