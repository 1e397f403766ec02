//! The network controllers: each SriovNetwork, SriovIBNetwork and OVSNetwork keeps one
//! NetworkAttachmentDefinition (rendered by `sriov_core::render::net_attach`) in its target
//! namespace, with upstream's ownership rules: a finalizer only in the operator namespace
//! (elsewhere the owner reference lets the garbage collector clean up), the
//! `last-network-namespace` annotation and the old NAD's removal when `networkNamespace`
//! changes, a NAD owned by another network never overwritten, a deleted NAD recreated, a
//! missing target namespace waited for, and a `Ready` condition with `observedGeneration`.
//!
//! Beyond upstream: the NAD is written by server-side apply, so annotations and labels
//! others put on it are kept (upstream replaces them), and a network's status is written
//! only when its condition changes.

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{DeleteParams, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Api, Client, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use sriov_core::api::{
    Condition, NetworkAttachmentDefinition, NetworkStatus, OVSNetwork, OWNER_REF_ANNOTATION,
    SriovIBNetwork, SriovNetwork, set_condition,
};

use super::settings::Settings;

/// The finalizer networks in the operator namespace carry.
pub const FINALIZER: &str = "netattdef.finalizers.sriovnetwork.openshift.io";
/// The annotation recording where the network's NAD was last written.
pub const LAST_NETWORK_NAMESPACE: &str =
    "operator.sriovnetwork.openshift.io/last-network-namespace";

/// What the network controllers share about a network kind.
pub trait NetworkKind:
    Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
    + Clone
    + Debug
    + DeserializeOwned
    + Serialize
    + Send
    + Sync
    + 'static
{
    /// `spec.networkNamespace`.
    fn network_namespace(&self) -> Option<&str>;
    /// The NAD this network renders to.
    fn render(
        &self,
        resource_prefix: &str,
    ) -> sriov_core::error::Result<NetworkAttachmentDefinition>;
    /// The status.
    fn status(&self) -> Option<&NetworkStatus>;
}

/// The three kinds differ only in how they render.
macro_rules! network_kind {
    ($kind:ty, $render:path) => {
        impl NetworkKind for $kind {
            fn network_namespace(&self) -> Option<&str> {
                self.spec.network_namespace.as_deref()
            }
            fn render(
                &self,
                prefix: &str,
            ) -> sriov_core::error::Result<NetworkAttachmentDefinition> {
                $render(self, prefix)
            }
            fn status(&self) -> Option<&NetworkStatus> {
                self.status.as_ref()
            }
        }
    };
}

network_kind!(SriovNetwork, sriov_core::render::net_attach::sriov_network);
network_kind!(
    SriovIBNetwork,
    sriov_core::render::net_attach::sriov_ib_network
);
network_kind!(OVSNetwork, sriov_core::render::net_attach::ovs_network);

/// Why a reconcile failed (it is retried).
pub use super::RequestError as ReconcileError;
use super::failed;

struct Context {
    client: Client,
    settings: Arc<Settings>,
}

/// The target namespace: `spec.networkNamespace`, else the network's own.
fn target<K: NetworkKind>(network: &K) -> String {
    network
        .network_namespace()
        .filter(|t| !t.is_empty())
        .map_or_else(|| network.namespace().unwrap_or_default(), str::to_owned)
}

/// Writes the `Ready` condition when it differs from the stored one
/// (`sriov_core::api::set_condition` decides, and keeps the transition time).
async fn set_ready<K: NetworkKind>(
    api: &Api<K>,
    network: &K,
    ready: bool,
    reason: &str,
    message: &str,
) -> Result<(), ReconcileError> {
    let current = network
        .status()
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default();
    let condition = Condition::new(
        "Ready",
        ready,
        reason,
        message,
        network.meta().generation,
        Time(k8s_openapi::jiff::Timestamp::now()),
    );
    let Some(conditions) = set_condition(current, condition) else {
        return Ok(());
    };
    api.patch_status(
        &network.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&json!({"status": {"conditions": conditions}})),
    )
    .await
    .map_err(failed(format!("status of {}", network.name_any())))?;
    Ok(())
}

async fn reconcile<K: NetworkKind>(
    network: Arc<K>,
    ctx: Arc<Context>,
) -> Result<Action, ReconcileError> {
    let started = std::time::Instant::now();
    let outcome = reconcile_network(network, ctx).await;
    super::metrics::global().observe(&K::kind(&()), started, outcome.is_ok());
    outcome
}

async fn reconcile_network<K: NetworkKind>(
    network: Arc<K>,
    ctx: Arc<Context>,
) -> Result<Action, ReconcileError> {
    let name = network.name_any();
    let namespace = network.namespace().unwrap_or_default();
    let operator_namespace = ctx.settings.namespace.as_str();
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &namespace);
    let target = target(&*network);
    let nads =
        |ns: &str| -> Api<NetworkAttachmentDefinition> { Api::namespaced(ctx.client.clone(), ns) };

    if network.network_namespace().is_some_and(|t| !t.is_empty()) && namespace != operator_namespace
    {
        let message = format!(
            "spec.networkNamespace cannot be set when the resource is not in the operator namespace ({operator_namespace})"
        );
        set_ready(
            &api,
            &*network,
            false,
            "NetworkAttachmentDefinitionInvalid",
            &message,
        )
        .await?;
        return Ok(Action::await_change());
    }
    let finalizers = network.finalizers();
    let has_finalizer = finalizers.iter().any(|f| f == FINALIZER);
    if network.meta().deletion_timestamp.is_some() {
        if has_finalizer {
            match nads(&target).delete(&name, &DeleteParams::default()).await {
                Ok(_) => {}
                Err(kube::Error::Api(e)) if e.code == 404 => {}
                Err(e) => return Err(failed(format!("NAD {target}/{name}"))(e)),
            }
            let kept: Vec<&String> = finalizers.iter().filter(|f| *f != FINALIZER).collect();
            let patch = json!({"metadata": {"finalizers": kept, "resourceVersion": network.resource_version()}});
            api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .map_err(failed(format!("finalizer of {name}")))?;
        }
        return Ok(Action::await_change());
    }
    if namespace == operator_namespace && !has_finalizer {
        let mut all: Vec<&str> = finalizers.iter().map(String::as_str).collect();
        all.push(FINALIZER);
        let patch =
            json!({"metadata": {"finalizers": all, "resourceVersion": network.resource_version()}});
        api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map_err(failed(format!("finalizer of {name}")))?;
        // The change brings the network back with its finalizer.
        return Ok(Action::await_change());
    }
    let rendered = match network.render(&ctx.settings.resource_prefix) {
        Ok(nad) => nad,
        Err(e) => {
            set_ready(
                &api,
                &*network,
                false,
                "NetworkAttachmentDefinitionInvalid",
                &e.to_string(),
            )
            .await?;
            return Ok(Action::await_change());
        }
    };
    // The target moved: the NAD in the old namespace goes.
    let last = network.annotations().get(LAST_NETWORK_NAMESPACE).cloned();
    if let Some(old) = last
        .as_deref()
        .filter(|old| !old.is_empty() && *old != target)
    {
        match nads(old).delete(&name, &DeleteParams::default()).await {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => return Err(failed(format!("NAD {old}/{name}"))(e)),
        }
        let patch = json!({"metadata": {"annotations": {LAST_NETWORK_NAMESPACE: ""}}});
        api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map_err(failed(format!("annotation of {name}")))?;
        return Ok(Action::await_change());
    }
    let existing = nads(&target)
        .get_opt(&name)
        .await
        .map_err(failed(format!("NAD {target}/{name}")))?;
    let wanted_owner = rendered.annotations().get(OWNER_REF_ANNOTATION).cloned();
    match &existing {
        None => {
            let namespaces: Api<Namespace> = Api::all(ctx.client.clone());
            let present = namespaces
                .get_opt(&target)
                .await
                .map_err(failed(format!("namespace {target}")))?
                .is_some();
            if !present {
                let message = format!("target namespace {target:?} does not exist");
                set_ready(&api, &*network, false, "NamespaceNotFound", &message).await?;
                return Ok(Action::await_change());
            }
        }
        Some(nad) => {
            let owner = nad
                .annotations()
                .get(OWNER_REF_ANNOTATION)
                .cloned()
                .unwrap_or_default();
            if !owner.is_empty() && Some(&owner) != wanted_owner.as_ref() {
                let message = format!(
                    "NetworkAttachmentDefinition '{target}/{name}' already exists and is owned by {owner}"
                );
                set_ready(
                    &api,
                    &*network,
                    false,
                    "NetworkAttachmentDefinitionInvalid",
                    &message,
                )
                .await?;
                return Ok(Action::await_change());
            }
        }
    }
    let same = existing.as_ref().is_some_and(|nad| {
        nad.spec == rendered.spec
            && rendered
                .annotations()
                .iter()
                .all(|(k, v)| nad.annotations().get(k) == Some(v))
            && rendered
                .metadata
                .owner_references
                .as_ref()
                .is_none_or(|refs| {
                    refs.iter()
                        .all(|r| nad.owner_references().iter().any(|o| o.uid == r.uid))
                })
    });
    if !same {
        let intent = json!({
            "apiVersion": "k8s.cni.cncf.io/v1", "kind": "NetworkAttachmentDefinition",
            "metadata": {"name": name, "namespace": target,
                "annotations": rendered.metadata.annotations,
                "ownerReferences": rendered.metadata.owner_references},
            "spec": rendered.spec,
        });
        nads(&target)
            .patch(
                &name,
                &PatchParams::apply(&ctx.settings.field_manager).force(),
                &Patch::Apply(&intent),
            )
            .await
            .map_err(failed(format!("NAD {target}/{name}")))?;
    }
    if last.as_deref() != Some(target.as_str()) {
        let patch = json!({"metadata": {"annotations": {LAST_NETWORK_NAMESPACE: target}}});
        api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map_err(failed(format!("annotation of {name}")))?;
    }
    set_ready(
        &api,
        &*network,
        true,
        "NetworkReady",
        "NetworkAttachmentDefinition is provisioned and ready",
    )
    .await?;
    Ok(Action::await_change())
}

fn error_policy<K: NetworkKind>(_: Arc<K>, error: &ReconcileError, _: Arc<Context>) -> Action {
    super::retry_after(&K::kind(&()), error, Duration::from_secs(5))
}

/// Runs the controller of one network kind until `shutdown` resolves.
async fn run_kind<K: NetworkKind + Unpin>(
    client: Client,
    settings: Arc<Settings>,
    shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let stopping = super::stopped(shutdown.clone());
    let controller = Controller::new(Api::<K>::all(client.clone()), watcher::Config::default())
        .trigger_backoff(super::WatchBackoff::default());
    let networks = controller.store();
    let by_target = networks.clone();
    let operator_namespace = settings.namespace.clone();
    let context = Arc::new(Context {
        client: client.clone(),
        settings,
    });
    let run = controller
        // A NAD's change (or deletion) wakes the network of its name there and in the
        // operator namespace.
        .watches(
            Api::<NetworkAttachmentDefinition>::all(client.clone()),
            watcher::Config::default(),
            move |nad| {
                let name = nad.name_any();
                let mut refs = vec![ObjectRef::<K>::new(&name).within(&operator_namespace)];
                if let Some(ns) = nad.namespace().filter(|ns| *ns != operator_namespace) {
                    refs.push(ObjectRef::new(&name).within(&ns));
                }
                refs
            },
        )
        // A namespace that appears wakes the networks waiting for it.
        .watches(
            Api::<Namespace>::all(client),
            watcher::Config::default(),
            move |namespace| {
                let name = namespace.name_any();
                by_target
                    .state()
                    .into_iter()
                    .filter(|n| n.network_namespace() == Some(name.as_str()))
                    .map(|n| ObjectRef::from_obj(&*n))
                    .collect::<Vec<_>>()
            },
        )
        .graceful_shutdown_on(stopping)
        .run(reconcile::<K>, error_policy::<K>, context)
        .for_each(|_| futures::future::ready(()));
    super::until_stopped(run, shutdown).await;
}

/// Runs the three network controllers until `shutdown` resolves.
pub async fn run(
    client: Client,
    settings: Arc<Settings>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let kinds = futures::future::join3(
        run_kind::<SriovNetwork>(client.clone(), Arc::clone(&settings), stopped.clone()),
        run_kind::<SriovIBNetwork>(client.clone(), Arc::clone(&settings), stopped.clone()),
        run_kind::<OVSNetwork>(client, settings, stopped),
    );
    let stopper = async move {
        shutdown.await;
        let _ = stop.send(true);
    };
    futures::future::join(kinds, stopper).await;
}
