//! Node states whose node the operator no longer manages (deleted, or no longer selected):
//! kept for a delay under the `keep-state-until` annotation, then deleted, as upstream does.
//! The caller passes the time; nothing here reads a clock.

use std::time::Duration;

use k8s_openapi::jiff::{SignedDuration, Timestamp};

use crate::api::{KEEP_STATE_UNTIL_ANNOTATION, SriovNetworkNodeState};

/// The delay when `STALE_NODE_STATE_CLEANUP_DELAY_MINUTES` is unset or unusable.
pub const DEFAULT_DELAY: Duration = Duration::from_secs(30 * 60);

/// The cleanup delay from the value of `STALE_NODE_STATE_CLEANUP_DELAY_MINUTES`: unset,
/// not a number or negative gives 30 minutes (upstream's rule); `0` deletes at once.
pub fn cleanup_delay(value: Option<&str>) -> Duration {
    match value.map(str::trim).map(str::parse::<i64>) {
        Some(Ok(minutes)) if minutes >= 0 => {
            Duration::from_secs(u64::try_from(minutes).unwrap_or(0).saturating_mul(60))
        }
        _ => DEFAULT_DELAY,
    }
}

/// What to do with a stale node state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stale {
    /// Record when it may go: set `keep-state-until` to this RFC 3339 time.
    KeepUntil(String),
    /// Its time has not come yet.
    Wait,
    /// Delete it.
    Delete,
}

/// The decision for `state`, stale at `now`, under `delay`. An annotation that does not
/// parse as a time is treated as absent (set again), never as "delete now".
pub fn decide(state: &SriovNetworkNodeState, now: Timestamp, delay: Duration) -> Stale {
    if delay.is_zero() {
        return Stale::Delete;
    }
    let until = state
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(KEEP_STATE_UNTIL_ANNOTATION))
        .and_then(|t| t.parse::<Timestamp>().ok());
    match until {
        Some(until) if until > now => Stale::Wait,
        Some(_) => Stale::Delete,
        None => {
            let delay = SignedDuration::try_from(delay).unwrap_or(SignedDuration::MAX);
            let until = now.checked_add(delay).unwrap_or(Timestamp::MAX);
            Stale::KeepUntil(until.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::SriovNetworkNodeStateSpec;

    fn state(until: Option<&str>) -> SriovNetworkNodeState {
        let mut state =
            SriovNetworkNodeState::new("worker-9", SriovNetworkNodeStateSpec::default());
        if let Some(until) = until {
            state.metadata.annotations =
                Some([(KEEP_STATE_UNTIL_ANNOTATION.to_owned(), until.to_owned())].into());
        }
        state
    }

    #[test]
    fn the_delay_reads_as_upstream_reads_it() {
        assert_eq!(cleanup_delay(None), DEFAULT_DELAY);
        assert_eq!(cleanup_delay(Some("abc")), DEFAULT_DELAY);
        assert_eq!(cleanup_delay(Some("-5")), DEFAULT_DELAY);
        assert_eq!(cleanup_delay(Some("0")), Duration::ZERO);
        assert_eq!(cleanup_delay(Some(" 5 ")), Duration::from_secs(300));
    }

    #[test]
    fn a_stale_state_is_marked_kept_then_deleted() {
        let now: Timestamp = "2026-12-01T10:00:00Z".parse().unwrap();
        let delay = Duration::from_secs(30 * 60);
        assert_eq!(
            decide(&state(None), now, delay),
            Stale::KeepUntil("2026-12-01T10:30:00Z".into())
        );
        assert_eq!(
            decide(&state(Some("2026-12-01T10:29:59Z")), now, delay),
            Stale::Wait
        );
        assert_eq!(
            decide(&state(Some("2026-12-01T10:00:00Z")), now, delay),
            Stale::Delete
        );
        assert_eq!(
            decide(&state(Some("2026-12-01T09:00:00Z")), now, delay),
            Stale::Delete
        );
        assert_eq!(
            decide(&state(Some("soon")), now, delay),
            Stale::KeepUntil("2026-12-01T10:30:00Z".into()),
            "an unreadable time is set again, not taken as expired"
        );
        assert_eq!(decide(&state(None), now, Duration::ZERO), Stale::Delete);
    }
}
