//! The objects the operator deploys for its `SriovOperatorConfig`: the config daemon and
//! device plugin DaemonSets, and the two admission webhooks (the operator's own and the
//! network-resources injector) with their Deployments, Services and webhook
//! configurations. Pure: the operator config and the operator's [`ComponentSettings`] in,
//! manifests to apply and names to remove out.
//!
//! Upstream renders the same objects from Go templates; names, labels, selectors, flags and
//! environment match it where users or other tools rely on them (`kubectl -n … logs
//! ds/sriov-network-config-daemon`, monitoring selectors on `app`). Differences, each in
//! `docs/compatibility.md`:
//! - the webhooks run as Deployments of two replicas that *prefer* control-plane nodes,
//!   where upstream's DaemonSets *require* them (and so never run on clusters whose control
//!   plane takes no pods, such as managed Kubernetes);
//! - ServiceAccounts and RBAC are not rendered here: they are static and live in `deploy/`,
//!   so the operator needs no permission to create roles;
//! - a component whose image variable is not set is not rendered, and the reason is an
//!   error of the render (upstream renders an empty image that the API server refuses).
//!
//! The manifests are JSON values in the shape the API server stores (typed decoding is
//! checked by the tests); [`derived_from`] decides whether a live object already holds
//! everything a manifest says, and [`keep_ca_bundles`] keeps a webhook's CA bundle that
//! another tool (cert-manager, OpenShift's service CA) injected.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use serde_json::{Value, json};

use crate::api::{ConfigurationMode, FeatureGates, SriovOperatorConfig, gates};
use crate::labels::Labels;
use crate::render::device_plugin::NODE_LABEL;

/// The config daemon's DaemonSet (and its container and ServiceAccount).
pub const CONFIG_DAEMON: &str = "sriov-network-config-daemon";
/// The device plugin's DaemonSet (and its container and ServiceAccount).
pub const DEVICE_PLUGIN: &str = "sriov-device-plugin";
/// The operator webhook's Deployment.
pub const OPERATOR_WEBHOOK: &str = "operator-webhook";
/// The operator webhook's Service.
pub const OPERATOR_WEBHOOK_SERVICE: &str = "operator-webhook-service";
/// The operator webhook's ServiceAccount.
pub const OPERATOR_WEBHOOK_ACCOUNT: &str = "operator-webhook-sa";
/// The name of both the mutating and the validating configuration of the operator webhook.
pub const OPERATOR_WEBHOOK_CONFIG: &str = "sriov-operator-webhook-config";
/// The injector's Deployment (and its ServiceAccount).
pub const INJECTOR: &str = "network-resources-injector";
/// The injector's Service.
pub const INJECTOR_SERVICE: &str = "network-resources-injector-service";
/// The injector's mutating configuration.
pub const INJECTOR_CONFIG: &str = "network-resources-injector-config";
/// Label on the cluster-scoped objects the operator creates (they cannot have an owner).
pub const CREATED_BY_LABEL: &str = "created-by";
/// Value of [`CREATED_BY_LABEL`].
pub const CREATED_BY: &str = "sriov-network-operator";
/// Pod-template label of the device plugin that says whether the wait-for-config init
/// container is there: flipping the gate changes the template, so the pods roll.
pub const INIT_CONTAINER_LABEL: &str = "init-container-enabled";
/// The port both webhooks listen on in their pods.
pub const WEBHOOK_PORT: i32 = 6443;

/// `CLUSTER_TYPE`: plain Kubernetes or OpenShift.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClusterType {
    /// Any Kubernetes distribution.
    #[default]
    Kubernetes,
    /// OpenShift: the service CA signs the webhooks' certificates.
    OpenShift,
}

impl ClusterType {
    /// Reads `CLUSTER_TYPE` (`kubernetes` or `openshift`, any case; empty is Kubernetes).
    pub fn parse(text: &str) -> Result<Self, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "" | "kubernetes" => Ok(Self::Kubernetes),
            "openshift" => Ok(Self::OpenShift),
            other => Err(format!(
                "CLUSTER_TYPE {other:?} is neither \"kubernetes\" nor \"openshift\""
            )),
        }
    }

    /// The value the daemons get in their `CLUSTER_TYPE`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Kubernetes => "kubernetes",
            Self::OpenShift => "openshift",
        }
    }
}

/// The images of the deployed components (upstream's variables in brackets). A component
/// whose image is unset is not deployed; the render says which variable is missing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Images {
    /// The config daemon (`SRIOV_NETWORK_CONFIG_DAEMON_IMAGE`); its binary also runs the
    /// device plugin's wait-for-config init container.
    pub config_daemon: Option<String>,
    /// The device plugin (`SRIOV_DEVICE_PLUGIN_IMAGE`).
    pub device_plugin: Option<String>,
    /// The SR-IOV CNI plugin, copied to each node (`SRIOV_CNI_IMAGE`).
    pub sriov_cni: Option<String>,
    /// The InfiniBand SR-IOV CNI plugin (`SRIOV_INFINIBAND_CNI_IMAGE`).
    pub ib_sriov_cni: Option<String>,
    /// The OVS CNI plugin, optional (`OVS_CNI_IMAGE`).
    pub ovs_cni: Option<String>,
    /// The RDMA CNI plugin, optional (`RDMA_CNI_IMAGE`).
    pub rdma_cni: Option<String>,
    /// The network-resources injector (`NETWORK_RESOURCES_INJECTOR_IMAGE`).
    pub injector: Option<String>,
    /// The operator webhook (`SRIOV_NETWORK_WEBHOOK_IMAGE`).
    pub webhook: Option<String>,
}

/// How the webhooks get their serving certificates and the API server their CA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookTls {
    /// cert-manager issues the certificates and injects the CA
    /// (`ADMISSION_CONTROLLERS_CERTIFICATES_CERT_MANAGER_ENABLED`).
    pub cert_manager: bool,
    /// Secret with the operator webhook's `tls.crt`/`tls.key`
    /// (`ADMISSION_CONTROLLERS_CERTIFICATES_OPERATOR_SECRET_NAME`).
    pub operator_secret: String,
    /// Secret with the injector's certificate
    /// (`ADMISSION_CONTROLLERS_CERTIFICATES_INJECTOR_SECRET_NAME`).
    pub injector_secret: String,
    /// CA that signed the operator webhook's certificate, PEM
    /// (`ADMISSION_CONTROLLERS_CERTIFICATES_OPERATOR_CA_CRT`, base64 there).
    pub operator_ca: Option<Vec<u8>>,
    /// CA that signed the injector's certificate
    /// (`ADMISSION_CONTROLLERS_CERTIFICATES_INJECTOR_CA_CRT`).
    pub injector_ca: Option<Vec<u8>>,
}

impl Default for WebhookTls {
    fn default() -> Self {
        Self {
            cert_manager: false,
            operator_secret: "operator-webhook-cert".to_owned(),
            injector_secret: "network-resources-injector-cert".to_owned(),
            operator_ca: None,
            injector_ca: None,
        }
    }
}

/// What the rendering needs to know about the operator's own deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentSettings {
    /// The operator namespace; every namespaced object goes there.
    pub namespace: String,
    /// The device plugin's resource prefix (`RESOURCE_PREFIX`).
    pub resource_prefix: String,
    /// `CLUSTER_TYPE`.
    pub cluster_type: ClusterType,
    /// The components' images.
    pub images: Images,
    /// Where the CNI init containers copy the plugins on the host (`SRIOV_CNI_BIN_PATH`,
    /// default `/var/lib/cni/bin`).
    pub cni_bin_path: String,
    /// `DEV_MODE`: the daemons and webhook skip the supported-NIC checks.
    pub dev_mode: bool,
    /// `USE_EXTERNAL_DRAINER`: another operator drains nodes; passed to the daemons.
    pub use_external_drainer: bool,
    /// Pull secrets for every pod (`IMAGE_PULL_SECRETS`, comma-separated).
    pub image_pull_secrets: Vec<String>,
    /// `RELEASEVERSION`, recorded as an annotation when set.
    pub release_version: Option<String>,
    /// The webhooks' certificates.
    pub webhook_tls: WebhookTls,
}

impl Default for ComponentSettings {
    fn default() -> Self {
        Self {
            namespace: crate::api::DEFAULT_OPERATOR_NAMESPACE.to_owned(),
            resource_prefix: "openshift.io".to_owned(),
            cluster_type: ClusterType::Kubernetes,
            images: Images::default(),
            cni_bin_path: "/var/lib/cni/bin".to_owned(),
            dev_mode: false,
            use_external_drainer: false,
            image_pull_secrets: Vec::new(),
            release_version: None,
            webhook_tls: WebhookTls::default(),
        }
    }
}

/// The kinds of object the render produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// `apps/v1` DaemonSet.
    DaemonSet,
    /// `apps/v1` Deployment.
    Deployment,
    /// `v1` Service.
    Service,
    /// `admissionregistration.k8s.io/v1` MutatingWebhookConfiguration.
    MutatingWebhookConfiguration,
    /// `admissionregistration.k8s.io/v1` ValidatingWebhookConfiguration.
    ValidatingWebhookConfiguration,
}

impl Kind {
    /// Every kind, in the order objects are applied (Services before the webhook
    /// configurations that point at them).
    pub const ALL: [Kind; 5] = [
        Kind::DaemonSet,
        Kind::Deployment,
        Kind::Service,
        Kind::MutatingWebhookConfiguration,
        Kind::ValidatingWebhookConfiguration,
    ];

    /// The kind's `kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DaemonSet => "DaemonSet",
            Self::Deployment => "Deployment",
            Self::Service => "Service",
            Self::MutatingWebhookConfiguration => "MutatingWebhookConfiguration",
            Self::ValidatingWebhookConfiguration => "ValidatingWebhookConfiguration",
        }
    }

    /// The kind's `apiVersion`.
    pub fn api_version(self) -> &'static str {
        match self {
            Self::DaemonSet | Self::Deployment => "apps/v1",
            Self::Service => "v1",
            Self::MutatingWebhookConfiguration | Self::ValidatingWebhookConfiguration => {
                "admissionregistration.k8s.io/v1"
            }
        }
    }

    /// Whether objects of the kind live in a namespace (the others cannot have an owner
    /// and are removed by the operator config's finalizer).
    pub fn namespaced(self) -> bool {
        matches!(self, Self::DaemonSet | Self::Deployment | Self::Service)
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One object to apply.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    /// Its kind.
    pub kind: Kind,
    /// Its name (namespaced kinds live in the operator namespace).
    pub name: String,
    /// The whole object, `apiVersion` and `kind` included.
    pub object: Value,
}

/// Everything the operator config asks for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Components {
    /// Objects to create or bring up to date, in apply order.
    pub apply: Vec<Manifest>,
    /// Objects of disabled components, to delete if they exist.
    pub remove: Vec<(Kind, String)>,
    /// Why a component could not be rendered (it is neither applied nor removed): the
    /// operator config is not Ready while there are any.
    pub errors: Vec<String>,
    /// Settings that have no effect, worth telling the user about.
    pub warnings: Vec<String>,
}

/// Every object of the webhook components, in apply order: what the finalizer removes and
/// what a disabled component's removal covers.
fn webhook_objects(injector: bool) -> Vec<(Kind, &'static str)> {
    if injector {
        vec![
            (Kind::Deployment, INJECTOR),
            (Kind::Service, INJECTOR_SERVICE),
            (Kind::MutatingWebhookConfiguration, INJECTOR_CONFIG),
        ]
    } else {
        vec![
            (Kind::Deployment, OPERATOR_WEBHOOK),
            (Kind::Service, OPERATOR_WEBHOOK_SERVICE),
            (Kind::MutatingWebhookConfiguration, OPERATOR_WEBHOOK_CONFIG),
            (
                Kind::ValidatingWebhookConfiguration,
                OPERATOR_WEBHOOK_CONFIG,
            ),
        ]
    }
}

/// The cluster-scoped objects the operator creates: they have no owner, so deleting the
/// operator config must delete them (its finalizer).
pub fn cluster_scoped_objects() -> Vec<(Kind, &'static str)> {
    webhook_objects(false)
        .into_iter()
        .chain(webhook_objects(true))
        .filter(|(kind, _)| !kind.namespaced())
        .collect()
}

/// Renders what `config` asks for.
pub fn render(config: &SriovOperatorConfig, settings: &ComponentSettings) -> Components {
    let mut out = Components::default();
    let gates = FeatureGates::new(config.spec.feature_gates.as_ref());
    for gate in gates.unknown() {
        out.warnings.push(format!(
            "spec.featureGates.{gate}: not a feature gate of this operator; it has no effect"
        ));
    }
    if gates.enabled(gates::METRICS_EXPORTER) {
        out.warnings.push(format!(
            "spec.featureGates.{}: this operator has no metrics exporter component; nothing is deployed for it",
            gates::METRICS_EXPORTER
        ));
    }
    if config.spec.configuration_mode == Some(ConfigurationMode::Systemd)
        && settings.cluster_type == ClusterType::OpenShift
    {
        out.warnings.push(
            "spec.configurationMode: systemd on OpenShift needs a MachineConfig, which this operator does not render; the daemon's service must be installed by other means".to_owned(),
        );
    }
    let ctx = Context::new(config, settings, &gates);

    match ctx.config_daemon() {
        Ok(ds) => out.apply.push(ds),
        Err(e) => out.errors.push(e),
    }
    match ctx.device_plugin() {
        Ok(ds) => out.apply.push(ds),
        Err(e) => out.errors.push(e),
    }
    for injector in [false, true] {
        let enabled = if injector {
            config.spec.enable_injector
        } else {
            config.spec.enable_operator_webhook
        };
        if enabled != Some(true) {
            out.remove.extend(
                webhook_objects(injector)
                    .into_iter()
                    .map(|(kind, name)| (kind, name.to_owned())),
            );
            continue;
        }
        match ctx.webhook(injector) {
            Ok(objects) => out.apply.extend(objects),
            Err(e) => out.errors.push(e),
        }
    }
    out.apply.sort_by_key(|m| {
        Kind::ALL
            .iter()
            .position(|k| *k == m.kind)
            .unwrap_or(usize::MAX)
    });
    out
}

struct Context<'a> {
    config: &'a SriovOperatorConfig,
    settings: &'a ComponentSettings,
    gates: &'a FeatureGates,
    selector: Labels,
}

fn image<'a>(image: &'a Option<String>, variable: &str, what: &str) -> Result<&'a str, String> {
    image
        .as_deref()
        .filter(|i| !i.trim().is_empty())
        .ok_or_else(|| format!("{variable} is not set: the {what} cannot be deployed"))
}

fn host_path(name: &str, path: &str, kind: Option<&str>) -> Value {
    let mut source = json!({"path": path});
    if let Some(kind) = kind {
        source["type"] = json!(kind);
    }
    json!({"name": name, "hostPath": source})
}

fn field_env(name: &str, path: &str) -> Value {
    json!({"name": name, "valueFrom": {"fieldRef": {"fieldPath": path}}})
}

fn requests(cpu: &str, memory: &str) -> Value {
    json!({"requests": {"cpu": cpu, "memory": memory}})
}

impl<'a> Context<'a> {
    fn new(
        config: &'a SriovOperatorConfig,
        settings: &'a ComponentSettings,
        gates: &'a FeatureGates,
    ) -> Self {
        let selector = config
            .spec
            .config_daemon_node_selector
            .clone()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(crate::render::cluster::default_node_selector);
        Self {
            config,
            settings,
            gates,
            selector,
        }
    }

    fn metadata(&self, kind: Kind, name: &str, labels: Value) -> Value {
        let mut meta = json!({"name": name});
        if kind.namespaced() {
            meta["namespace"] = json!(self.settings.namespace);
            if let Some(owner) = crate::render::cluster::controller_reference(self.config) {
                meta["ownerReferences"] = json!([owner]);
            }
        }
        if labels.as_object().is_some_and(|l| !l.is_empty()) {
            meta["labels"] = labels;
        }
        if let Some(version) = &self.settings.release_version {
            meta["annotations"] = json!({"release.openshift.io/version": version});
        }
        meta
    }

    fn object(&self, kind: Kind, name: &str, labels: Value, body: Value) -> Manifest {
        let mut object = json!({
            "apiVersion": kind.api_version(),
            "kind": kind.as_str(),
            "metadata": self.metadata(kind, name, labels),
        });
        if let (Some(target), Value::Object(fields)) = (object.as_object_mut(), body) {
            target.extend(fields);
        }
        Manifest {
            kind,
            name: name.to_owned(),
            object,
        }
    }

    fn pull_secrets(&self) -> Option<Value> {
        let secrets = &self.settings.image_pull_secrets;
        (!secrets.is_empty())
            .then(|| Value::Array(secrets.iter().map(|name| json!({ "name": name })).collect()))
    }

    fn pod_spec(&self, mut spec: Value) -> Value {
        if let Some(secrets) = self.pull_secrets() {
            spec["imagePullSecrets"] = secrets;
        }
        spec
    }

    fn daemon_set(
        &self,
        name: &str,
        pod_labels: Value,
        pod_annotations: Value,
        spec: Value,
    ) -> Manifest {
        let mut template_meta = json!({"labels": pod_labels});
        if pod_annotations.as_object().is_some_and(|a| !a.is_empty()) {
            template_meta["annotations"] = pod_annotations;
        }
        self.object(
            Kind::DaemonSet,
            name,
            json!({}),
            json!({"spec": {
                "selector": {"matchLabels": {"app": name}},
                "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "33%"}},
                "template": {"metadata": template_meta, "spec": self.pod_spec(spec)},
            }}),
        )
    }

    fn cni_init_container(&self, name: &str, image: &str, command: Option<Value>) -> Value {
        let mut container = json!({
            "name": name,
            "image": image,
            "securityContext": {"privileged": true},
            "resources": requests("10m", "10Mi"),
            "volumeMounts": [
                {"name": "cnibin", "mountPath": "/host/opt/cni/bin"},
                {"name": "os-release", "mountPath": "/host/etc/os-release", "readOnly": true},
            ],
        });
        match command {
            Some(command) => {
                container["command"] = json!(["/bin/sh", "-c"]);
                container["args"] = json!([command]);
            }
            None => container["args"] = json!(["--no-sleep"]),
        }
        container
    }

    fn config_daemon(&self) -> Result<Manifest, String> {
        let images = &self.settings.images;
        let daemon = image(
            &images.config_daemon,
            "SRIOV_NETWORK_CONFIG_DAEMON_IMAGE",
            "config daemon",
        )?;
        let cni = image(&images.sriov_cni, "SRIOV_CNI_IMAGE", "config daemon")?;
        let ib_cni = image(
            &images.ib_sriov_cni,
            "SRIOV_INFINIBAND_CNI_IMAGE",
            "config daemon",
        )?;
        let spec = &self.config.spec;
        let systemd = spec.configuration_mode == Some(ConfigurationMode::Systemd);

        let mut init = vec![
            self.cni_init_container("sriov-cni", cni, None),
            self.cni_init_container("sriov-infiniband-cni", ib_cni, None),
        ];
        if let Some(ovs) = images.ovs_cni.as_deref().filter(|i| !i.is_empty()) {
            init.push(self.cni_init_container(
                "ovs-cni",
                ovs,
                Some(json!("cp /ovs /host/opt/cni/bin/ovs && cp /ovs-mirror-producer /host/opt/cni/bin/ovs-mirror-producer && cp /ovs-mirror-consumer /host/opt/cni/bin/ovs-mirror-consumer")),
            ));
        }
        if let Some(rdma) = images.rdma_cni.as_deref().filter(|i| !i.is_empty()) {
            init.push(self.cni_init_container("rdma-cni", rdma, None));
        }
        if systemd {
            init.push(json!({
                "name": "sriov-service-copy",
                "image": daemon,
                "command": ["/bin/sh", "-c",
                    "set -e; mkdir -p /host/var/lib/sriov && cp /usr/bin/sriov-network-config-daemon /host/var/lib/sriov/sriov-network-config-daemon"],
                "securityContext": {"privileged": true},
                "resources": requests("10m", "10Mi"),
                "volumeMounts": [{"name": "host", "mountPath": "/host"}],
            }));
        }

        let mut args = vec![json!("start")];
        if systemd {
            args.push(json!("--use-systemd-service"));
        }
        if let Some(plugins) = spec.disable_plugins.as_ref().filter(|p| !p.is_empty()) {
            let names: Vec<String> = plugins
                .iter()
                .filter_map(|p| serde_json::to_value(p).ok())
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect();
            args.push(json!(format!("--disable-plugins={}", names.join(","))));
        }
        if self.gates.enabled(gates::PARALLEL_NIC_CONFIG) {
            args.push(json!("--parallel-nic-config"));
        }
        if self.gates.enabled(gates::MANAGE_SOFTWARE_BRIDGES) {
            args.push(json!("--manage-software-bridges"));
        }

        let mut env: Vec<(String, Value)> = vec![
            ("NODE_NAME".into(), field_env("NODE_NAME", "spec.nodeName")),
            (
                "NAMESPACE".into(),
                field_env("NAMESPACE", "metadata.namespace"),
            ),
            (
                "CLUSTER_TYPE".into(),
                json!({"name": "CLUSTER_TYPE", "value": self.settings.cluster_type.as_str()}),
            ),
            (
                "DEV_MODE".into(),
                json!({"name": "DEV_MODE", "value": if self.settings.dev_mode { "TRUE" } else { "FALSE" }}),
            ),
        ];
        if self.settings.use_external_drainer {
            env.push((
                "USE_EXTERNAL_DRAINER".into(),
                json!({"name": "USE_EXTERNAL_DRAINER", "value": "true"}),
            ));
        }
        // The user's variables, in name order; one that names ours replaces it (a
        // container with two variables of one name keeps the last, with a warning).
        for (name, value) in spec.config_daemon_env_vars.iter().flatten() {
            let var = json!({"name": name, "value": value});
            match env.iter_mut().find(|(n, _)| n == name) {
                Some(slot) => slot.1 = var,
                None => env.push((name.clone(), var)),
            }
        }
        let env: Vec<Value> = env.into_iter().map(|(_, v)| v).collect();

        let pod = json!({
            "hostNetwork": true,
            "hostPID": true,
            "nodeSelector": self.selector,
            "tolerations": [{"operator": "Exists"}],
            "serviceAccountName": CONFIG_DAEMON,
            "priorityClassName": "system-node-critical",
            "initContainers": init,
            "containers": [{
                "name": CONFIG_DAEMON,
                "image": daemon,
                "command": [CONFIG_DAEMON],
                "args": args,
                "env": env,
                "securityContext": {"privileged": true, "readOnlyRootFilesystem": true},
                "resources": requests("100m", "100Mi"),
                "volumeMounts": [
                    {"name": "host", "mountPath": "/host"},
                    {"name": "tmp", "mountPath": "/tmp"},
                ],
            }],
            "volumes": [
                host_path("host", "/", None),
                host_path("cnibin", &self.settings.cni_bin_path, None),
                host_path("os-release", "/etc/os-release", Some("File")),
                {"name": "tmp", "emptyDir": {}},
            ],
        });
        Ok(self.daemon_set(
            CONFIG_DAEMON,
            json!({"app": CONFIG_DAEMON, "component": "network", "type": "infra",
                "openshift.io/component": "network"}),
            json!({"kubectl.kubernetes.io/default-container": CONFIG_DAEMON,
                "openshift.io/required-scc": "privileged"}),
            pod,
        ))
    }

    fn device_plugin(&self) -> Result<Manifest, String> {
        let images = &self.settings.images;
        let plugin = image(
            &images.device_plugin,
            "SRIOV_DEVICE_PLUGIN_IMAGE",
            "device plugin",
        )?;
        let wait = self
            .gates
            .enabled(gates::BLOCK_DEVICE_PLUGIN_UNTIL_CONFIGURED);
        let cdi = self.config.spec.use_cdi == Some(true);

        let mut selector = if self
            .config
            .spec
            .config_daemon_node_selector
            .as_ref()
            .is_some_and(|s| !s.is_empty())
        {
            self.selector.clone()
        } else {
            Labels::from([("kubernetes.io/os".to_owned(), "linux".to_owned())])
        };
        selector.insert(NODE_LABEL.to_owned(), "Enabled".to_owned());

        let mut args = vec![
            json!("--log-level=10"),
            json!(format!(
                "--resource-prefix={}",
                self.settings.resource_prefix
            )),
            json!("--config-file=/etc/pcidp/$(NODE_NAME)"),
        ];
        let mut mounts = vec![
            json!({"name": "devicesock", "mountPath": "/var/lib/kubelet/device-plugins"}),
            json!({"name": "config-volume", "mountPath": "/etc/pcidp/", "readOnly": true}),
            json!({"name": "device-info", "mountPath": "/var/run/k8s.cni.cncf.io/devinfo/dp"}),
        ];
        let mut volumes = vec![
            host_path("devicesock", "/var/lib/kubelet/device-plugins", None),
            // Every shard of the configuration in one directory: the pod's file is there
            // whether the entries fit in one ConfigMap or are spread over several.
            json!({"name": "config-volume", "projected": {"sources":
                (0..crate::render::device_plugin::SHARDS)
                    .map(|i| json!({"configMap": {
                        "name": crate::render::device_plugin::shard_name(i),
                        "optional": true,
                    }}))
                    .collect::<Vec<_>>()}}),
            host_path(
                "device-info",
                "/var/run/k8s.cni.cncf.io/devinfo/dp",
                Some("DirectoryOrCreate"),
            ),
        ];
        if cdi {
            args.push(json!("--use-cdi"));
            mounts.push(json!({"name": "dynamic-cdi", "mountPath": "/var/run/cdi"}));
            volumes.push(host_path(
                "dynamic-cdi",
                "/var/run/cdi",
                Some("DirectoryOrCreate"),
            ));
        }
        let mut pod = json!({
            "hostNetwork": true,
            "nodeSelector": selector,
            "tolerations": [{"operator": "Exists"}],
            "serviceAccountName": DEVICE_PLUGIN,
            "priorityClassName": "system-node-critical",
            "containers": [{
                "name": DEVICE_PLUGIN,
                "image": plugin,
                "args": args,
                "env": [field_env("NODE_NAME", "spec.nodeName")],
                "securityContext": {"privileged": true, "readOnlyRootFilesystem": true},
                "resources": requests("10m", "50Mi"),
                "volumeMounts": mounts,
            }],
            "volumes": volumes,
        });
        if wait {
            let daemon = image(
                &images.config_daemon,
                "SRIOV_NETWORK_CONFIG_DAEMON_IMAGE",
                "device plugin's wait-for-config init container",
            )?;
            pod["initContainers"] = json!([{
                "name": "sriov-device-plugin-init",
                "image": daemon,
                "command": [CONFIG_DAEMON],
                "args": ["wait-for-config", "--pod-name=$(POD_NAME)", "--pod-namespace=$(POD_NAMESPACE)"],
                "env": [field_env("POD_NAME", "metadata.name"),
                    field_env("POD_NAMESPACE", "metadata.namespace")],
                "securityContext": {"readOnlyRootFilesystem": true},
                "resources": requests("10m", "10Mi"),
            }]);
        }
        Ok(self.daemon_set(
            DEVICE_PLUGIN,
            json!({"app": DEVICE_PLUGIN, "component": "network", "type": "infra",
                "openshift.io/component": "network", INIT_CONTAINER_LABEL: wait.to_string()}),
            json!({}),
            pod,
        ))
    }

    /// The operator webhook (`injector` false) or the injector: Deployment, Service and
    /// webhook configurations.
    fn webhook(&self, injector: bool) -> Result<Vec<Manifest>, String> {
        let images = &self.settings.images;
        let tls = &self.settings.webhook_tls;
        let (name, service, image, secret, ca, account) = if injector {
            (
                INJECTOR,
                INJECTOR_SERVICE,
                image(
                    &images.injector,
                    "NETWORK_RESOURCES_INJECTOR_IMAGE",
                    "network-resources injector",
                )?,
                &tls.injector_secret,
                &tls.injector_ca,
                INJECTOR,
            )
        } else {
            (
                OPERATOR_WEBHOOK,
                OPERATOR_WEBHOOK_SERVICE,
                image(
                    &images.webhook,
                    "SRIOV_NETWORK_WEBHOOK_IMAGE",
                    "operator webhook",
                )?,
                &tls.operator_secret,
                &tls.operator_ca,
                OPERATOR_WEBHOOK_ACCOUNT,
            )
        };
        let openshift = self.settings.cluster_type == ClusterType::OpenShift;
        let (command, args) = if injector {
            (
                "network-resources-injector",
                json!([
                    format!("--port={WEBHOOK_PORT}"),
                    "--tls-cert-file=/etc/tls/tls.crt",
                    "--tls-private-key-file=/etc/tls/tls.key",
                    "--health-check-port=8444",
                    "--network-resource-name-keys=k8s.v1.cni.cncf.io/resourceName",
                ]),
            )
        } else {
            (
                "sriov-network-webhook",
                json!([
                    "start",
                    format!("--port={WEBHOOK_PORT}"),
                    "--tls-cert-file=/etc/tls/tls.crt",
                    "--tls-private-key-file=/etc/tls/tls.key",
                ]),
            )
        };
        let control_plane = [
            "node-role.kubernetes.io/control-plane",
            "node-role.kubernetes.io/master",
        ];
        let pod = self.pod_spec(json!({
            "securityContext": {"runAsNonRoot": true},
            "serviceAccountName": account,
            "priorityClassName": "system-cluster-critical",
            "nodeSelector": {"kubernetes.io/os": "linux"},
            "affinity": {
                "nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution":
                    control_plane.iter().map(|key| json!({"weight": 50, "preference":
                        {"matchExpressions": [{"key": key, "operator": "Exists"}]}})).collect::<Vec<_>>()},
                "podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{
                    "weight": 100,
                    "podAffinityTerm": {"labelSelector": {"matchLabels": {"app": name}},
                        "topologyKey": "kubernetes.io/hostname"}}]},
            },
            "tolerations": control_plane.iter().map(|key| json!({"key": key, "operator": "Exists", "effect": "NoSchedule"}))
                .chain([json!({"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoSchedule"})])
                .collect::<Vec<_>>(),
            "containers": [{
                "name": "webhook-server",
                "image": image,
                "command": [command],
                "args": args,
                "env": [field_env("NAMESPACE", "metadata.namespace"),
                    {"name": "DEV_MODE", "value": if self.settings.dev_mode { "TRUE" } else { "FALSE" }}],
                "ports": [{"name": "webhook", "containerPort": WEBHOOK_PORT}],
                "securityContext": {"readOnlyRootFilesystem": true, "allowPrivilegeEscalation": false,
                    "capabilities": {"drop": ["ALL"]}},
                "resources": requests("10m", "50Mi"),
                "volumeMounts": [{"name": "tls", "mountPath": "/etc/tls", "readOnly": true}],
            }],
            "volumes": [{"name": "tls", "secret": {"secretName": secret}}],
        }));
        let deployment = self.object(
            Kind::Deployment,
            name,
            json!({"app": name}),
            json!({"spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": name}},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 1}},
                "template": {"metadata": {"labels": {"app": name}}, "spec": pod},
            }}),
        );
        let mut svc = self.object(
            Kind::Service,
            service,
            json!({"app": name}),
            json!({"spec": {
                "selector": {"app": name},
                "ports": [{"name": "webhook", "port": 443, "targetPort": WEBHOOK_PORT, "protocol": "TCP"}],
            }}),
        );
        if openshift {
            svc.object["metadata"]["annotations"]["service.beta.openshift.io/serving-cert-secret-name"] =
                json!(secret);
        }

        let client = |path: &str| {
            let mut config = json!({"service": {"name": service, "namespace": self.settings.namespace, "path": path}});
            let ours = !openshift && !tls.cert_manager;
            if let Some(ca) = ca
                .as_ref()
                .filter(|_| ours)
                .and_then(|ca| serde_json::to_value(ByteString(ca.clone())).ok())
            {
                config["caBundle"] = ca;
            }
            config
        };
        let hook = |hook_name: &str, path: &str, rules: Value, fail: bool| {
            json!({
                "name": hook_name,
                "sideEffects": "None",
                "admissionReviewVersions": ["v1", "v1beta1"],
                "failurePolicy": if fail { "Fail" } else { "Ignore" },
                "clientConfig": client(path),
                "rules": rules,
            })
        };
        let rule = |operations: &[&str], group: &str, resources: &[&str]| json!({"operations": operations, "apiGroups": [group], "apiVersions": ["v1"], "resources": resources});
        let config_object = |kind: Kind, config_name: &str, webhooks: Vec<Value>| {
            let mut object = self.object(
                kind,
                config_name,
                json!({CREATED_BY_LABEL: CREATED_BY}),
                json!({"webhooks": webhooks}),
            );
            let meta = &mut object.object["metadata"];
            if openshift {
                meta["annotations"]["service.beta.openshift.io/inject-cabundle"] = json!("true");
            } else if tls.cert_manager {
                meta["annotations"]["cert-manager.io/inject-ca-from"] =
                    json!(format!("{}/{}", self.settings.namespace, secret));
            }
            object
        };
        let mut out = vec![deployment, svc];
        if injector {
            let strict = self.gates.enabled(gates::RESOURCE_INJECTOR_MATCH_CONDITION);
            let mut webhook = hook(
                "network-resources-injector-config.k8s.io",
                "/mutate",
                json!([rule(&["CREATE"], "", &["pods"])]),
                strict,
            );
            if strict {
                webhook["matchConditions"] = json!([{
                    "name": "include-networks-annotation",
                    "expression": "has(object.metadata.annotations) && \"k8s.v1.cni.cncf.io/networks\" in object.metadata.annotations",
                }]);
            }
            out.push(config_object(
                Kind::MutatingWebhookConfiguration,
                INJECTOR_CONFIG,
                vec![webhook],
            ));
        } else {
            let group = crate::api::GROUP;
            let all = ["CREATE", "UPDATE", "DELETE"];
            out.push(config_object(
                Kind::MutatingWebhookConfiguration,
                OPERATOR_WEBHOOK_CONFIG,
                vec![hook(
                    "operator-webhook.sriovnetwork.openshift.io",
                    "/mutating-custom-resource",
                    json!([rule(
                        &["CREATE", "UPDATE"],
                        group,
                        &["sriovnetworknodepolicies"]
                    )]),
                    true,
                )],
            ));
            out.push(config_object(
                Kind::ValidatingWebhookConfiguration,
                OPERATOR_WEBHOOK_CONFIG,
                vec![hook(
                    "operator-webhook.sriovnetwork.openshift.io",
                    "/validating-custom-resource",
                    json!([
                        rule(&all, group, &["sriovnetworknodepolicies"]),
                        rule(&all, group, &["sriovoperatorconfigs"]),
                        rule(&all, group, &["sriovnetworkpoolconfigs"]),
                        rule(
                            &["CREATE", "UPDATE"],
                            group,
                            &["sriovnetworks", "sriovibnetworks", "ovsnetworks"]
                        ),
                    ]),
                    true,
                )],
            ));
        }
        Ok(out)
    }
}

/// Whether `live` already holds everything `wanted` says: every field of `wanted` is in
/// `live` with the same value (objects compared field by field, recursively, so fields the
/// server defaulted or another manager added do not count; lists element by element and of
/// the same length, so an element added or removed does). Fields removed from `wanted`
/// since it was last applied are not seen: the operator also compares a hash of what it
/// last applied for that.
pub fn derived_from(wanted: &Value, live: &Value) -> bool {
    match (wanted, live) {
        (Value::Object(w), Value::Object(l)) => w.iter().all(|(key, value)| match l.get(key) {
            Some(live_value) => derived_from(value, live_value),
            None => value.is_null(),
        }),
        (Value::Array(w), Value::Array(l)) => {
            w.len() == l.len() && w.iter().zip(l).all(|(a, b)| derived_from(a, b))
        }
        // A number may come back as another JSON spelling of the same value.
        (Value::Number(w), Value::Number(l)) => w.as_f64() == l.as_f64(),
        _ => wanted == live,
    }
}

/// For each webhook of `rendered` without a `caBundle`, copies the `caBundle` of the
/// same-named webhook of `live` (one that cert-manager or OpenShift's service CA
/// injected), as upstream does: applying without it would remove it.
pub fn keep_ca_bundles(rendered: &mut Value, live: &Value) {
    let live_bundles: BTreeMap<&str, &Value> = live["webhooks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|w| Some((w["name"].as_str()?, w.get("clientConfig")?.get("caBundle")?)))
        .collect();
    for webhook in rendered["webhooks"].as_array_mut().into_iter().flatten() {
        let Some(name) = webhook["name"].as_str().map(str::to_owned) else {
            continue;
        };
        let Some(client) = webhook
            .get_mut("clientConfig")
            .and_then(Value::as_object_mut)
        else {
            continue;
        };
        let empty = client
            .get("caBundle")
            .is_none_or(|ca| ca.as_str().is_none_or(str::is_empty));
        if let (true, Some(ca)) = (empty, live_bundles.get(name.as_str())) {
            client.insert("caBundle".to_owned(), (*ca).clone());
        }
    }
}

/// A stable 64-bit FNV-1a hash of a manifest, as 16 hex digits: recorded on each applied
/// object so a later render that only *removes* fields is still seen as a change.
pub fn fingerprint(object: &Value) -> String {
    format!("{:016x}", super::fnv1a(object.to_string().bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::SriovOperatorConfigSpec;

    fn settings() -> ComponentSettings {
        ComponentSettings {
            images: Images {
                config_daemon: Some("daemon:1".into()),
                device_plugin: Some("dp:1".into()),
                sriov_cni: Some("cni:1".into()),
                ib_sriov_cni: Some("ib-cni:1".into()),
                injector: Some("injector:1".into()),
                webhook: Some("webhook:1".into()),
                ..Images::default()
            },
            ..ComponentSettings::default()
        }
    }

    fn config(spec: SriovOperatorConfigSpec) -> SriovOperatorConfig {
        let mut config = SriovOperatorConfig::new("default", spec);
        config.metadata.namespace = Some("sriov-network-operator".into());
        config.metadata.uid = Some("uid-1".into());
        config
    }

    fn find<'a>(c: &'a Components, kind: Kind, name: &str) -> &'a Value {
        &c.apply
            .iter()
            .find(|m| m.kind == kind && m.name == name)
            .unwrap_or_else(|| panic!("{kind} {name} rendered"))
            .object
    }

    #[test]
    fn defaults_deploy_both_daemon_sets_and_remove_both_webhooks() {
        let c = render(&config(SriovOperatorConfigSpec::default()), &settings());
        let names: Vec<_> = c.apply.iter().map(|m| (m.kind, m.name.as_str())).collect();
        assert_eq!(
            names,
            [
                (Kind::DaemonSet, CONFIG_DAEMON),
                (Kind::DaemonSet, DEVICE_PLUGIN)
            ]
        );
        assert_eq!(c.remove.len(), 7);
        assert!(c.errors.is_empty() && c.warnings.is_empty(), "{c:?}");
        let dp = find(&c, Kind::DaemonSet, DEVICE_PLUGIN);
        assert_eq!(
            dp["spec"]["template"]["spec"]["nodeSelector"],
            json!({"kubernetes.io/os": "linux", NODE_LABEL: "Enabled"})
        );
        // blockDevicePluginUntilConfigured is on by default.
        assert_eq!(
            dp["spec"]["template"]["spec"]["initContainers"][0]["args"][0],
            "wait-for-config"
        );
        assert_eq!(
            dp["spec"]["template"]["metadata"]["labels"][INIT_CONTAINER_LABEL],
            "true"
        );
        let daemon = find(&c, Kind::DaemonSet, CONFIG_DAEMON);
        assert_eq!(
            daemon["metadata"]["ownerReferences"][0]["uid"], "uid-1",
            "owned by the operator config"
        );
    }

    #[test]
    fn node_selector_env_vars_and_gates_reach_the_daemon() {
        let spec = SriovOperatorConfigSpec {
            config_daemon_node_selector: Some(BTreeMap::from([("sriov".into(), "yes".into())])),
            config_daemon_env_vars: Some(BTreeMap::from([
                ("DEV_MODE".into(), "TRUE".into()),
                ("EXTRA".into(), "1".into()),
            ])),
            feature_gates: Some(BTreeMap::from([
                (gates::PARALLEL_NIC_CONFIG.into(), true),
                (gates::BLOCK_DEVICE_PLUGIN_UNTIL_CONFIGURED.into(), false),
            ])),
            use_cdi: Some(true),
            ..SriovOperatorConfigSpec::default()
        };
        let c = render(&config(spec), &settings());
        let daemon = &find(&c, Kind::DaemonSet, CONFIG_DAEMON)["spec"]["template"]["spec"];
        assert_eq!(daemon["nodeSelector"], json!({"sriov": "yes"}));
        let container = &daemon["containers"][0];
        assert_eq!(container["args"], json!(["start", "--parallel-nic-config"]));
        let env: Vec<&str> = container["env"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["name"].as_str())
            .collect();
        assert_eq!(
            env,
            [
                "NODE_NAME",
                "NAMESPACE",
                "CLUSTER_TYPE",
                "DEV_MODE",
                "EXTRA"
            ]
        );
        assert_eq!(
            container["env"][3]["value"], "TRUE",
            "the user's value wins"
        );
        let dp = find(&c, Kind::DaemonSet, DEVICE_PLUGIN);
        let pod = &dp["spec"]["template"]["spec"];
        assert_eq!(
            pod["nodeSelector"],
            json!({"sriov": "yes", NODE_LABEL: "Enabled"})
        );
        assert!(pod.get("initContainers").is_none());
        assert_eq!(
            dp["spec"]["template"]["metadata"]["labels"][INIT_CONTAINER_LABEL],
            "false"
        );
        assert!(
            pod["containers"][0]["args"]
                .as_array()
                .is_some_and(|a| a.contains(&json!("--use-cdi")))
        );
    }

    #[test]
    fn injector_gate_picks_the_failure_policy() {
        let spec = |strict: bool| SriovOperatorConfigSpec {
            enable_injector: Some(true),
            feature_gates: Some(BTreeMap::from([(
                gates::RESOURCE_INJECTOR_MATCH_CONDITION.into(),
                strict,
            )])),
            ..SriovOperatorConfigSpec::default()
        };
        for strict in [false, true] {
            let c = render(&config(spec(strict)), &settings());
            let hook =
                &find(&c, Kind::MutatingWebhookConfiguration, INJECTOR_CONFIG)["webhooks"][0];
            assert_eq!(
                hook["failurePolicy"],
                if strict { "Fail" } else { "Ignore" }
            );
            assert_eq!(hook.get("matchConditions").is_some(), strict);
            assert!(
                c.remove
                    .contains(&(Kind::Deployment, OPERATOR_WEBHOOK.to_owned()))
            );
            assert!(!c.remove.contains(&(Kind::Deployment, INJECTOR.to_owned())));
        }
    }

    #[test]
    fn ca_bundle_from_settings_or_kept_from_the_live_object() {
        let spec = SriovOperatorConfigSpec {
            enable_operator_webhook: Some(true),
            ..SriovOperatorConfigSpec::default()
        };
        let mut with_ca = settings();
        with_ca.webhook_tls.operator_ca = Some(b"ca-bundle-1\n".to_vec());
        let c = render(&config(spec.clone()), &with_ca);
        let hook = &find(
            &c,
            Kind::ValidatingWebhookConfiguration,
            OPERATOR_WEBHOOK_CONFIG,
        )["webhooks"][0];
        assert_eq!(hook["clientConfig"]["caBundle"], "Y2EtYnVuZGxlLTEK");

        let c = render(&config(spec), &settings());
        let mut rendered = find(
            &c,
            Kind::ValidatingWebhookConfiguration,
            OPERATOR_WEBHOOK_CONFIG,
        )
        .clone();
        assert!(
            rendered["webhooks"][0]["clientConfig"]
                .get("caBundle")
                .is_none()
        );
        let mut live = rendered.clone();
        live["webhooks"][0]["clientConfig"]["caBundle"] = json!("aW5qZWN0ZWQ=");
        keep_ca_bundles(&mut rendered, &live);
        assert_eq!(
            rendered["webhooks"][0]["clientConfig"]["caBundle"],
            "aW5qZWN0ZWQ="
        );
        // A rendered bundle is never replaced by the live one.
        let mut ours = rendered.clone();
        ours["webhooks"][0]["clientConfig"]["caBundle"] = json!("b3Vycw==");
        keep_ca_bundles(&mut ours, &live);
        assert_eq!(ours["webhooks"][0]["clientConfig"]["caBundle"], "b3Vycw==");
    }

    #[test]
    fn a_missing_image_is_an_error_naming_its_variable() {
        let mut s = settings();
        s.images.sriov_cni = None;
        let c = render(&config(SriovOperatorConfigSpec::default()), &s);
        assert_eq!(c.apply.len(), 1, "the device plugin still renders");
        assert_eq!(
            c.errors,
            ["SRIOV_CNI_IMAGE is not set: the config daemon cannot be deployed"]
        );
    }

    #[test]
    fn unknown_and_inert_gates_are_warnings() {
        let spec = SriovOperatorConfigSpec {
            feature_gates: Some(BTreeMap::from([
                ("paralelNicConfig".into(), true),
                (gates::METRICS_EXPORTER.into(), true),
            ])),
            ..SriovOperatorConfigSpec::default()
        };
        let c = render(&config(spec), &settings());
        assert_eq!(c.warnings.len(), 2, "{:?}", c.warnings);
        assert!(c.warnings[0].contains("spec.featureGates.paralelNicConfig"));
    }

    #[test]
    fn derived_from_ignores_added_fields_but_not_changed_or_removed_elements() {
        let wanted = json!({"a": {"b": 1, "c": [1, 2]}, "d": null});
        assert!(derived_from(
            &wanted,
            &json!({"a": {"b": 1.0, "c": [1, 2], "x": 3}})
        ));
        assert!(!derived_from(&wanted, &json!({"a": {"b": 2, "c": [1, 2]}})));
        assert!(!derived_from(&wanted, &json!({"a": {"b": 1, "c": [1]}})));
        assert!(!derived_from(&wanted, &json!({"a": {"c": [1, 2]}})));
        assert!(!derived_from(
            &wanted,
            &json!({"a": {"b": 1, "c": [1, 2]}, "d": 4})
        ));
        assert_ne!(fingerprint(&json!({"a": 1})), fingerprint(&json!({"a": 2})));
        assert_eq!(fingerprint(&json!({"a": 1})), fingerprint(&json!({"a": 1})));
    }

    #[test]
    fn cluster_type_parses_like_upstream() {
        assert_eq!(ClusterType::parse(""), Ok(ClusterType::Kubernetes));
        assert_eq!(ClusterType::parse("OpenShift"), Ok(ClusterType::OpenShift));
        assert!(ClusterType::parse("k3s").is_err_and(|e| e.contains("\"k3s\"")));
    }
}
