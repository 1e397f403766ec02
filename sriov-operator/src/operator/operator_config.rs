//! The operator-config controller: the `default` SriovOperatorConfig in the operator
//! namespace → the config daemon and device plugin DaemonSets and the two webhooks
//! (rendered by `sriov_core::render::components`), with upstream's flow: a finalizer that
//! removes the cluster-scoped webhook configurations when the config is deleted (the
//! namespaced objects carry an owner reference, so the garbage collector removes them), a
//! disabled component's objects deleted, an injected `caBundle` kept, and a `Ready`
//! condition written at the end of every reconcile (only when it changes).
//!
//! Writes are server-side applies under the operator's field manager, made only when the
//! live object does not already hold everything rendered, or was last applied from a
//! different render (an annotation records a fingerprint of it), so a resync with nothing
//! changed writes nothing, and a user's edit of a rendered field is put back.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhookConfiguration, ValidatingWebhookConfiguration,
};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{ApiResource, DeleteParams, DynamicObject, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Api, Client, ResourceExt};
use serde_json::{Value, json};
use sriov_core::api::{Condition, OPERATOR_CONFIG_NAME, SriovOperatorConfig, set_condition};
use sriov_core::render::components::{self, Kind};

use super::settings::Settings;

/// The finalizer the default operator config carries.
pub const FINALIZER: &str = "operatorconfig.finalizers.sriovnetwork.openshift.io";
/// Annotation on each applied object: the fingerprint of the render it was applied from.
pub const FINGERPRINT_ANNOTATION: &str = "sriovnetwork.openshift.io/rendered-fingerprint";
/// How often a reconciled config is looked at again with no change (upstream: 5 min).
pub const RESYNC: Duration = Duration::from_secs(5 * 60);

/// A request the controller could not make (the reconcile is retried).
pub use super::RequestError as ReconcileError;
use super::failed;

/// What one reconcile wrote, for tests and logs.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    /// `Kind/name` of each object applied.
    pub applied: Vec<String>,
    /// `Kind/name` of each object deleted.
    pub removed: Vec<String>,
    /// Whether the finalizer was added or removed.
    pub finalizer_written: bool,
    /// Whether the status was written.
    pub status_written: bool,
}

impl Report {
    /// How many write requests the reconcile made.
    pub fn writes(&self) -> usize {
        self.applied.len()
            + self.removed.len()
            + usize::from(self.finalizer_written)
            + usize::from(self.status_written)
    }
}

fn api_resource(kind: Kind) -> ApiResource {
    match kind {
        Kind::DaemonSet => ApiResource::erase::<DaemonSet>(&()),
        Kind::Deployment => ApiResource::erase::<Deployment>(&()),
        Kind::Service => ApiResource::erase::<Service>(&()),
        Kind::MutatingWebhookConfiguration => {
            ApiResource::erase::<MutatingWebhookConfiguration>(&())
        }
        Kind::ValidatingWebhookConfiguration => {
            ApiResource::erase::<ValidatingWebhookConfiguration>(&())
        }
    }
}

fn dynamic_api(client: &Client, namespace: &str, kind: Kind) -> Api<DynamicObject> {
    let resource = api_resource(kind);
    if kind.namespaced() {
        Api::namespaced_with(client.clone(), namespace, &resource)
    } else {
        Api::all_with(client.clone(), &resource)
    }
}

/// Applies `object` unless the live one already holds it.
async fn apply(
    client: &Client,
    settings: &Settings,
    kind: Kind,
    name: &str,
    mut object: Value,
) -> Result<Applied, ReconcileError> {
    let what = || format!("{kind} {name}");
    let api = dynamic_api(client, &settings.namespace, kind);
    let live = api
        .get_opt(name)
        .await
        .map_err(failed(what()))?
        .and_then(|o| serde_json::to_value(o).ok());
    if let (true, Some(live)) = (
        matches!(
            kind,
            Kind::MutatingWebhookConfiguration | Kind::ValidatingWebhookConfiguration
        ),
        &live,
    ) {
        components::keep_ca_bundles(&mut object, live);
    }
    let unverifiable = object["webhooks"].as_array().is_some_and(|hooks| {
        hooks.iter().any(|h| {
            h["clientConfig"]["caBundle"]
                .as_str()
                .is_none_or(str::is_empty)
        })
    });
    let print = components::fingerprint(&object);
    object["metadata"]["annotations"][FINGERPRINT_ANNOTATION] = json!(print);
    let same = live.as_ref().is_some_and(|live| {
        live["metadata"]["annotations"][FINGERPRINT_ANNOTATION] == json!(print)
            && components::derived_from(&object, live)
    });
    if !same {
        api.patch(
            name,
            &PatchParams::apply(&settings.field_manager).force(),
            &Patch::Apply(&object),
        )
        .await
        .map_err(failed(what()))?;
    }
    Ok(Applied {
        written: !same,
        unverifiable,
    })
}

/// What applying one object did.
struct Applied {
    /// A write was made.
    written: bool,
    /// A webhook configuration whose webhooks have no CA bundle (yet): the API server
    /// cannot verify the webhook's certificate, so every call to it fails.
    unverifiable: bool,
}

/// Deletes an object if it exists.
async fn remove(
    client: &Client,
    settings: &Settings,
    kind: Kind,
    name: &str,
) -> Result<bool, ReconcileError> {
    let api = dynamic_api(client, &settings.namespace, kind);
    let what = || format!("{kind} {name}");
    if api
        .get_metadata_opt(name)
        .await
        .map_err(failed(what()))?
        .is_none()
    {
        return Ok(false);
    }
    match api.delete(name, &DeleteParams::default()).await {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(false),
        Err(e) => Err(failed(what())(e)),
    }
}

/// Sets the finalizers to `wanted`; the resource version makes the write fail (to be
/// retried) if the config changed meanwhile, so another controller's finalizer is never lost.
async fn write_finalizers(
    api: &Api<SriovOperatorConfig>,
    config: &SriovOperatorConfig,
    wanted: Vec<String>,
) -> Result<(), ReconcileError> {
    let patch = json!({"metadata": {
        "finalizers": wanted,
        "resourceVersion": config.metadata.resource_version,
    }});
    api.patch(
        &config.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await
    .map_err(failed("the operator config's finalizer"))?;
    Ok(())
}

async fn write_ready(
    api: &Api<SriovOperatorConfig>,
    config: &SriovOperatorConfig,
    ready: bool,
    reason: &str,
    message: &str,
) -> Result<bool, ReconcileError> {
    let now = Time(k8s_openapi::jiff::Timestamp::now());
    let current = config
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default();
    let condition = Condition::new(
        "Ready",
        ready,
        reason,
        message,
        config.metadata.generation,
        now,
    );
    let Some(conditions) = set_condition(current, condition) else {
        return Ok(false);
    };
    api.patch_status(
        &config.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&json!({"status": {"conditions": conditions}})),
    )
    .await
    .map_err(failed("the operator config's status"))?;
    Ok(true)
}

/// One reconcile of the default operator config (the controller calls it; tests may too).
pub async fn reconcile_config(
    client: &Client,
    settings: &Settings,
    config: &SriovOperatorConfig,
) -> Result<Report, ReconcileError> {
    let mut report = Report::default();
    let api: Api<SriovOperatorConfig> = Api::namespaced(client.clone(), &settings.namespace);
    let finalizers = config.finalizers();
    let has_finalizer = finalizers.iter().any(|f| f == FINALIZER);
    if config.metadata.deletion_timestamp.is_some() {
        if has_finalizer {
            for (kind, name) in components::cluster_scoped_objects() {
                if remove(client, settings, kind, name).await? {
                    report.removed.push(format!("{kind}/{name}"));
                }
            }
            let rest = finalizers
                .iter()
                .filter(|f| *f != FINALIZER)
                .cloned()
                .collect();
            write_finalizers(&api, config, rest).await?;
            report.finalizer_written = true;
        }
        return Ok(report);
    }
    if !has_finalizer {
        let mut wanted = finalizers.to_vec();
        wanted.push(FINALIZER.to_owned());
        write_finalizers(&api, config, wanted).await?;
        report.finalizer_written = true;
    }

    let rendered = components::render(config, &settings.components);
    let mut errors = rendered.errors.clone();
    let injected_elsewhere = settings.components.webhook_tls.cert_manager
        || settings.components.cluster_type == components::ClusterType::OpenShift;
    let outcome = async {
        for manifest in rendered.apply {
            let applied =
                apply(client, settings, manifest.kind, &manifest.name, manifest.object).await?;
            if applied.written {
                report
                    .applied
                    .push(format!("{}/{}", manifest.kind, manifest.name));
            }
            if applied.unverifiable && !injected_elsewhere {
                let which = if manifest.name == components::INJECTOR_CONFIG {
                    "INJECTOR"
                } else {
                    "OPERATOR"
                };
                errors.push(format!(
                    "{} {} has no caBundle, so the API server cannot call its webhook: set ADMISSION_CONTROLLERS_CERTIFICATES_{which}_CA_CRT (and the serving certificate's Secret), enable cert-manager, or inject the bundle",
                    manifest.kind, manifest.name
                ));
            }
        }
        for (kind, name) in &rendered.remove {
            if remove(client, settings, *kind, name).await? {
                report.removed.push(format!("{kind}/{name}"));
            }
        }
        Ok::<(), ReconcileError>(())
    }
    .await;
    let (ready, reason, message) = match (&outcome, errors.is_empty()) {
        (Err(e), _) => (false, "OperatorConfigSyncFailed", e.to_string()),
        (Ok(()), false) => (false, "OperatorConfigSyncFailed", errors.join("; ")),
        (Ok(()), true) => (
            true,
            "OperatorConfigReady",
            "SriovOperatorConfig reconciled successfully".to_owned(),
        ),
    };
    let written = write_ready(&api, config, ready, reason, &message).await;
    // Said loudly once, when the Ready condition changes (or cannot be written); every
    // reconcile after that (the config's own objects changing trigger several) repeats
    // them at debug.
    let loud = !matches!(written, Ok(false));
    for problem in rendered.warnings.iter().chain(&errors) {
        if loud {
            tracing::warn!(%problem, "operator config");
        } else {
            tracing::debug!(%problem, "operator config");
        }
    }
    report.status_written = written?;
    outcome.map(|()| report)
}

/// The log directive an operator config's `logLevel` stands for (upstream: 0 the basic
/// logs, 2 all of them): 0 `info`; 1 the stack's own debug logs; 2 its trace logs too.
/// Libraries (kube, hyper) stay at `info` either way. Out-of-range values (the CRD allows
/// 0 to 2) are taken as the nearest.
pub fn log_directive(level: i32) -> &'static str {
    match level {
        ..=0 => "info",
        1 => "info,sriov_operator=debug,sriov_core=debug,sriov_hw=debug",
        _ => "info,sriov_operator=trace,sriov_core=trace,sriov_hw=trace",
    }
}

/// Applies the config's `logLevel` to the operator's logger (an unset one leaves the
/// level the operator started with).
fn apply_log_level(settings: &Settings, config: &SriovOperatorConfig) {
    let Some(level) = config.spec.log_level else {
        return;
    };
    let directive = log_directive(level);
    match settings.log_level.set(directive) {
        Ok(true) => tracing::info!(
            log_level = level,
            directive,
            "log level from the operator config"
        ),
        Ok(false) => {}
        Err(e) => tracing::warn!(error = %e, "operator config logLevel"),
    }
}

struct Context {
    client: Client,
    settings: Arc<Settings>,
}

async fn reconcile(
    config: Arc<SriovOperatorConfig>,
    ctx: Arc<Context>,
) -> Result<Action, ReconcileError> {
    if config.name_any() != OPERATOR_CONFIG_NAME {
        return Ok(Action::await_change());
    }
    if config.metadata.deletion_timestamp.is_none() {
        apply_log_level(&ctx.settings, &config);
    }
    let started = std::time::Instant::now();
    let outcome = reconcile_config(&ctx.client, &ctx.settings, &config).await;
    super::metrics::global().observe("operator-config", started, outcome.is_ok());
    let report = outcome?;
    if report.writes() > 0 {
        tracing::info!(
            applied = ?report.applied,
            removed = ?report.removed,
            "operator config reconciled"
        );
    } else {
        tracing::debug!("operator config unchanged");
    }
    Ok(Action::requeue(RESYNC))
}

fn error_policy(_: Arc<SriovOperatorConfig>, error: &ReconcileError, _: Arc<Context>) -> Action {
    super::retry_after("operator config", error, Duration::from_secs(5))
}

/// Runs the operator-config controller until `shutdown` resolves.
pub async fn run(
    client: Client,
    settings: Arc<Settings>,
    shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let namespace = settings.namespace.clone();
    let configs: Api<SriovOperatorConfig> = Api::namespaced(client.clone(), &namespace);
    let owned = watcher::Config::default();
    let ours = watcher::Config::default().labels(&format!(
        "{}={}",
        components::CREATED_BY_LABEL,
        components::CREATED_BY
    ));
    let default_ref =
        ObjectRef::<SriovOperatorConfig>::new(OPERATOR_CONFIG_NAME).within(&namespace);
    let default_ref_too = default_ref.clone();
    let default_config = move |_: MutatingWebhookConfiguration| Some(default_ref.clone());
    let default_config_too = move |_: ValidatingWebhookConfiguration| Some(default_ref_too.clone());
    let controller = Controller::new(configs, watcher::Config::default())
        .trigger_backoff(super::WatchBackoff::default())
        .owns(
            Api::<DaemonSet>::namespaced(client.clone(), &settings.namespace),
            owned.clone(),
        )
        .owns(
            Api::<Deployment>::namespaced(client.clone(), &settings.namespace),
            owned.clone(),
        )
        .owns(
            Api::<Service>::namespaced(client.clone(), &settings.namespace),
            owned,
        )
        // Cluster-scoped, so without owners: found by label.
        .watches(
            Api::<MutatingWebhookConfiguration>::all(client.clone()),
            ours.clone(),
            default_config,
        )
        .watches(
            Api::<ValidatingWebhookConfiguration>::all(client.clone()),
            ours,
            default_config_too,
        );
    let stopping = super::stopped(shutdown.clone());
    let run = controller
        .graceful_shutdown_on(stopping)
        .run(
            reconcile,
            error_policy,
            Arc::new(Context { client, settings }),
        )
        .for_each(|_| futures::future::ready(()));
    super::until_stopped(run, shutdown).await;
}
