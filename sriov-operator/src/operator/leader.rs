//! Leader election over a `coordination.k8s.io/v1` Lease, with client-go's semantics:
//! a candidate takes the lease when it is free or its holder has not renewed it for a
//! whole `lease_duration` *as seen on the candidate's own clock* (the time it last saw the
//! record change, never the holder's timestamps, so clock skew between nodes does not
//! matter); the holder renews every `retry_period`, and if it has not renewed successfully
//! for `renew_deadline` (shorter than `lease_duration`) it stops at once, before any
//! candidate can take over. Every write carries the lease's resource version, so two
//! candidates never both succeed.
//!
//! Written here rather than taken from kube-lease-manager (the one kube-5 lease crate):
//! its watch loop keeps reporting leadership while renewals fail with API errors, so a
//! partitioned holder would go on writing after its lease expired.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::{ObjectMeta, PostParams};
use kube::{Api, Client};
use tokio::time::Instant;

/// The lease upstream's operator elects its leader with (in the operator namespace); using
/// the same one keeps an upstream operator and this one from both leading.
pub const LEASE_NAME: &str = "a56def2a.openshift.io";

/// How the election runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseConfig {
    /// The Lease's name.
    pub name: String,
    /// The Lease's namespace.
    pub namespace: String,
    /// This replica's identity (the pod name, unique among replicas).
    pub identity: String,
    /// How long a lease not renewed stays held (upstream: 137 s).
    pub lease_duration: Duration,
    /// How long the holder keeps leading without a successful renewal (upstream: 107 s).
    pub renew_deadline: Duration,
    /// How often candidates try and the holder renews (upstream: 26 s).
    pub retry_period: Duration,
}

impl LeaseConfig {
    /// Upstream's timings for `identity` in `namespace`.
    pub fn new(namespace: &str, identity: &str) -> Self {
        Self {
            name: LEASE_NAME.to_owned(),
            namespace: namespace.to_owned(),
            identity: identity.to_owned(),
            lease_duration: Duration::from_secs(137),
            renew_deadline: Duration::from_secs(107),
            retry_period: Duration::from_secs(26),
        }
    }

    /// Checks the timings' order (`retry_period < renew_deadline < lease_duration`).
    pub fn check(&self) -> Result<(), String> {
        if self.identity.is_empty() {
            return Err("the leader-election identity is empty".into());
        }
        let secs = |d: Duration| format!("{} s", d.as_secs_f64());
        if self.retry_period.is_zero() || self.retry_period >= self.renew_deadline {
            return Err(format!(
                "the retry period ({}) must be above zero and below the renew deadline ({})",
                secs(self.retry_period),
                secs(self.renew_deadline)
            ));
        }
        if self.renew_deadline >= self.lease_duration {
            return Err(format!(
                "the renew deadline ({}) must be below the lease duration ({})",
                secs(self.renew_deadline),
                secs(self.lease_duration)
            ));
        }
        Ok(())
    }
}

/// The parts of a lease record whose change means its holder is alive.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Record {
    holder: Option<String>,
    renew: Option<String>,
    transitions: Option<i32>,
}

fn record(spec: Option<&LeaseSpec>) -> Record {
    Record {
        holder: spec.and_then(|s| s.holder_identity.clone()),
        renew: spec.and_then(|s| s.renew_time.as_ref().map(|t| t.0.to_string())),
        transitions: spec.and_then(|s| s.lease_transitions),
    }
}

/// One replica's side of the election.
pub struct Elector {
    api: Api<Lease>,
    config: LeaseConfig,
    observed: Option<(Record, Instant)>,
    last_renewal: Option<Instant>,
}

impl Elector {
    /// An elector for `config` (not yet a candidate).
    pub fn new(client: Client, config: LeaseConfig) -> Self {
        Self {
            api: Api::namespaced(client, &config.namespace),
            config,
            observed: None,
            last_renewal: None,
        }
    }

    fn seconds(d: Duration) -> i32 {
        i32::try_from(d.as_secs().max(1)).unwrap_or(i32::MAX)
    }

    /// One attempt to take or renew the lease: `Ok(true)` when this replica holds it
    /// afterwards.
    async fn try_acquire_or_renew(&mut self) -> Result<bool, kube::Error> {
        let now = MicroTime(k8s_openapi::jiff::Timestamp::now());
        let me = &self.config.identity;
        let duration = Self::seconds(self.config.lease_duration);
        let Some(mut lease) = self.api.get_opt(&self.config.name).await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.config.name.clone()),
                    namespace: Some(self.config.namespace.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(me.clone()),
                    lease_duration_seconds: Some(duration),
                    acquire_time: Some(now.clone()),
                    renew_time: Some(now),
                    lease_transitions: Some(0),
                    ..LeaseSpec::default()
                }),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(true),
                Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
                Err(e) => Err(e),
            };
        };
        let seen = record(lease.spec.as_ref());
        let changed = self.observed.as_ref().is_none_or(|(r, _)| *r != seen);
        if changed {
            self.observed = Some((seen.clone(), Instant::now()));
        }
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        let holder = spec.holder_identity.clone().filter(|h| !h.is_empty());
        let theirs_for = spec
            .lease_duration_seconds
            .and_then(|s| u64::try_from(s).ok())
            .map_or(self.config.lease_duration, Duration::from_secs);
        let observed_at = self
            .observed
            .as_ref()
            .map_or_else(Instant::now, |(_, at)| *at);
        let held_by_other =
            holder.as_ref().is_some_and(|h| h != me) && observed_at.elapsed() < theirs_for;
        if held_by_other {
            return Ok(false);
        }
        if holder.as_ref() != Some(me) {
            spec.acquire_time = Some(now.clone());
            spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
        }
        spec.holder_identity = Some(me.clone());
        spec.lease_duration_seconds = Some(duration);
        spec.renew_time = Some(now);
        match self
            .api
            .replace(&self.config.name, &PostParams::default(), &lease)
            .await
        {
            Ok(stored) => {
                self.observed = Some((record(stored.spec.as_ref()), Instant::now()));
                Ok(true)
            }
            Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Waits until this replica holds the lease.
    pub async fn acquire(&mut self) {
        let mut told = false;
        loop {
            let started = Instant::now();
            let attempt = self.try_acquire_or_renew().await;
            if attempt.is_ok() {
                // A candidate that reaches the API server is ready (to take over).
                super::metrics::global().set_ready();
            }
            match attempt {
                Ok(true) => {
                    self.last_renewal = Some(started);
                    tracing::info!(identity = %self.config.identity, lease = %self.config.name, "became the leader");
                    return;
                }
                Ok(false) => {
                    if !told {
                        let holder = self
                            .observed
                            .as_ref()
                            .and_then(|(r, _)| r.holder.clone())
                            .unwrap_or_default();
                        tracing::info!(%holder, lease = %self.config.name, "waiting for the leader lease");
                        told = true;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %super::with_causes(&e), "leader election: trying the lease failed")
                }
            }
            tokio::time::sleep(self.config.retry_period).await;
        }
    }

    /// Keeps the lease renewed; resolves as soon as leadership is lost: another replica
    /// holds it, or no renewal has succeeded for `renew_deadline`.
    pub async fn hold(&mut self) {
        loop {
            tokio::time::sleep(self.config.retry_period).await;
            let last = self.last_renewal.unwrap_or_else(Instant::now);
            let deadline = last + self.config.renew_deadline;
            let started = Instant::now();
            match tokio::time::timeout_at(deadline, self.try_acquire_or_renew()).await {
                Ok(Ok(true)) => self.last_renewal = Some(started),
                Ok(Ok(false)) => {
                    tracing::error!(identity = %self.config.identity, "lost the leader lease to another replica");
                    return;
                }
                Ok(Err(e)) => {
                    tracing::warn!(error = %super::with_causes(&e), "leader election: renewing the lease failed");
                    if Instant::now() >= deadline {
                        tracing::error!(identity = %self.config.identity, "could not renew the leader lease in time");
                        return;
                    }
                }
                Err(_) => {
                    tracing::error!(identity = %self.config.identity, "could not renew the leader lease in time");
                    return;
                }
            }
        }
    }

    /// Gives the lease up (on shutdown) so another replica need not wait for it to expire:
    /// the holder is cleared, only if it is still this replica.
    pub async fn release(&mut self) {
        let Ok(Some(mut lease)) = self.api.get_opt(&self.config.name).await else {
            return;
        };
        let Some(spec) = lease.spec.as_mut() else {
            return;
        };
        if spec.holder_identity.as_deref() != Some(self.config.identity.as_str()) {
            return;
        }
        spec.holder_identity = None;
        spec.lease_duration_seconds = Some(1);
        spec.renew_time = Some(MicroTime(k8s_openapi::jiff::Timestamp::now()));
        match self
            .api
            .replace(&self.config.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => tracing::info!(identity = %self.config.identity, "released the leader lease"),
            Err(e) => {
                tracing::warn!(error = %super::with_causes(&e), "releasing the leader lease failed")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timings_must_be_ordered() {
        let mut config = LeaseConfig::new("ns", "pod-a");
        assert_eq!(config.check(), Ok(()));
        config.renew_deadline = config.lease_duration;
        assert!(config.check().is_err_and(|e| e.contains("renew deadline")));
        config = LeaseConfig::new("ns", "pod-a");
        config.retry_period = Duration::ZERO;
        assert!(config.check().is_err_and(|e| e.contains("retry period")));
        assert!(LeaseConfig::new("ns", "").check().is_err());
    }
}
