//! The operator's controllers over a kube client: thin shells that read the cluster through
//! reflector stores, call the pure decisions of `sriov-core`, and write what differs.
//!
//! So far:
//! - the policy sync ([`node_policy`]): policies, nodes and pools → node states, the
//!   device-plugin ConfigMap and the nodes' device-plugin label, with stale node states
//!   kept for `STALE_NODE_STATE_CLEANUP_DELAY_MINUTES` and then deleted;
//! - the network controllers ([`networks`]): each network → its
//!   NetworkAttachmentDefinition.

use std::sync::Arc;

use kube::Client;

pub mod inputs;
pub mod networks;
pub mod node_policy;
pub mod settings;

pub use settings::Settings;

/// Runs the controllers until `shutdown` resolves.
pub async fn run(
    client: Client,
    settings: Settings,
    shutdown: impl std::future::Future<Output = ()> + Send,
) {
    let settings = Arc::new(settings);
    let trigger = Arc::new(tokio::sync::Notify::new());
    let (inputs, tasks) = inputs::start(&client, &settings.namespace, Arc::clone(&trigger));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let signal = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let policy = node_policy::run(
        client.clone(),
        Arc::clone(&settings),
        inputs,
        trigger,
        signal(stopped.clone()),
    );
    let networks = networks::run(client, settings, signal(stopped));
    let stopper = async move {
        shutdown.await;
        let _ = stop.send(true);
    };
    futures::future::join3(policy, networks, stopper).await;
    for task in tasks {
        task.abort();
    }
}
