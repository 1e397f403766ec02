//! The objects, one global `resourceVersion` counter, and the bounded event history that
//! watches replay from.
//!
//! Everything sits behind one mutex: a write takes the lock, bumps the counter, stores the
//! object and appends the event to the history and to the broadcast channel, so every
//! watcher sees events in counter order with no gap. A watch registers under the same lock
//! ([`State::subscribe`]), taking the history it needs and a receiver for what follows.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use serde_json::Value;
use tokio::sync::broadcast;

use crate::resources::{Registry, ResourceKey};

/// What happened to an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// Created.
    Added,
    /// Changed.
    Modified,
    /// Removed (the object is its last state, with the deletion's resourceVersion).
    Deleted,
}

impl EventType {
    /// The watch event's `type`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Added => "ADDED",
            Self::Modified => "MODIFIED",
            Self::Deleted => "DELETED",
        }
    }
}

/// One change, as history keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The resourceVersion it produced.
    pub rv: u64,
    /// What happened.
    pub kind: EventType,
    /// The resource.
    pub resource: ResourceKey,
    /// The object after the change (before it, for a deletion), with `rv` set.
    pub object: Arc<Value>,
    /// The object before the change (for selector transitions), when it existed.
    pub previous: Option<Arc<Value>>,
    /// The watch line for each event type, serialized once for every watcher that serves
    /// the object at its stored apiVersion (indexed by `EventType as usize`).
    pub lines: [std::sync::OnceLock<bytes::Bytes>; 3],
}

impl EventType {
    /// Index into [`Event::lines`].
    pub fn index(self) -> usize {
        match self {
            Self::Added => 0,
            Self::Modified => 1,
            Self::Deleted => 2,
        }
    }
}

/// `(namespace, name)`; namespace `""` for cluster-scoped objects.
pub type ObjectKey = (String, String);

/// The server's state.
#[derive(Debug)]
pub struct State {
    /// The last resourceVersion handed out.
    pub rv: u64,
    /// The objects, per resource.
    pub objects: BTreeMap<ResourceKey, BTreeMap<ObjectKey, Arc<Value>>>,
    /// What is served.
    pub registry: Registry,
    history: VecDeque<Arc<Event>>,
    history_limit: usize,
    /// The newest resourceVersion no longer in the history (watches from before it get 410).
    compacted: u64,
    sender: broadcast::Sender<Arc<Event>>,
    /// How many watches were told their resourceVersion is too old (410).
    pub expired_watches: u64,
}

/// What a new watch starts from: the retained events after its resourceVersion and a
/// receiver for everything later.
#[derive(Debug)]
pub struct Subscription {
    /// Events after the requested resourceVersion, oldest first.
    pub backlog: Vec<Arc<Event>>,
    /// Everything after the backlog.
    pub receiver: broadcast::Receiver<Arc<Event>>,
}

impl State {
    /// An empty store keeping `history_limit` events (at least 1).
    pub fn new(history_limit: usize) -> Self {
        let history_limit = history_limit.max(1);
        // A watcher further behind than the history is treated like one whose
        // resourceVersion fell out of it: it gets 410 and re-lists.
        let (sender, _) = broadcast::channel(history_limit);
        Self {
            rv: 0,
            objects: BTreeMap::new(),
            registry: Registry::new(),
            history: VecDeque::with_capacity(history_limit.min(4096)),
            history_limit,
            compacted: 0,
            sender,
            expired_watches: 0,
        }
    }

    /// Hands out the next resourceVersion.
    pub fn next_rv(&mut self) -> u64 {
        self.rv += 1;
        self.rv
    }

    /// One object.
    pub fn get(&self, resource: &ResourceKey, key: &ObjectKey) -> Option<&Arc<Value>> {
        self.objects.get(resource)?.get(key)
    }

    /// Every object of a resource, by key order.
    pub fn list(&self, resource: &ResourceKey) -> impl Iterator<Item = (&ObjectKey, &Arc<Value>)> {
        self.objects.get(resource).into_iter().flatten()
    }

    /// Stores `object` (whose `metadata.resourceVersion` is `rv`) and records the event.
    pub fn put(
        &mut self,
        resource: &ResourceKey,
        key: ObjectKey,
        object: Value,
        rv: u64,
    ) -> Arc<Value> {
        let object = Arc::new(object);
        let previous = self
            .objects
            .entry(resource.clone())
            .or_default()
            .insert(key, Arc::clone(&object));
        let kind = if previous.is_some() {
            EventType::Modified
        } else {
            EventType::Added
        };
        self.record(Event {
            rv,
            kind,
            resource: resource.clone(),
            object: Arc::clone(&object),
            previous,
            lines: Default::default(),
        });
        object
    }

    /// Removes an object; `last` is its final state carrying the deletion's `rv`.
    pub fn remove(&mut self, resource: &ResourceKey, key: &ObjectKey, last: Value, rv: u64) {
        let previous = self.objects.get_mut(resource).and_then(|m| m.remove(key));
        if let Some(map) = self.objects.get(resource)
            && map.is_empty()
        {
            self.objects.remove(resource);
        }
        self.record(Event {
            rv,
            kind: EventType::Deleted,
            resource: resource.clone(),
            object: Arc::new(last),
            previous,
            lines: Default::default(),
        });
    }

    fn record(&mut self, event: Event) {
        let event = Arc::new(event);
        if self.history.len() == self.history_limit
            && let Some(dropped) = self.history.pop_front()
        {
            self.compacted = dropped.rv;
        }
        self.history.push_back(Arc::clone(&event));
        // No receivers is fine: nobody watches.
        let _ = self.sender.send(event);
    }

    /// Registers a watch from resourceVersion `from`: the retained events after it and a
    /// receiver for the rest; `Err(compacted)` when events after `from` are no longer
    /// retained.
    pub fn subscribe(&self, from: u64) -> Result<Subscription, u64> {
        if from < self.compacted {
            return Err(self.compacted);
        }
        Ok(Subscription {
            backlog: self
                .history
                .iter()
                .filter(|e| e.rv > from)
                .cloned()
                .collect(),
            receiver: self.sender.subscribe(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key() -> ResourceKey {
        ResourceKey {
            group: String::new(),
            plural: "configmaps".into(),
        }
    }

    #[test]
    fn the_history_is_bounded_and_old_watches_are_refused() {
        let mut state = State::new(2);
        for i in 0..3 {
            let rv = state.next_rv();
            state.put(&key(), ("ns".into(), format!("c{i}")), json!({"i": i}), rv);
        }
        // Events 2 and 3 are retained; 1 was dropped.
        assert_eq!(state.subscribe(0).unwrap_err(), 1);
        let from_one = state.subscribe(1).expect("rv 1 is the compaction point");
        assert_eq!(
            from_one.backlog.iter().map(|e| e.rv).collect::<Vec<_>>(),
            [2, 3]
        );
        let rv = state.next_rv();
        state.remove(&key(), &("ns".into(), "c0".into()), json!({"i": 0}), rv);
        let latest = state.subscribe(3).unwrap();
        assert_eq!(latest.backlog.len(), 1);
        assert_eq!(latest.backlog[0].kind, EventType::Deleted);
        assert!(state.get(&key(), &("ns".into(), "c0".into())).is_none());
    }
}
