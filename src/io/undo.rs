//! Undo actions for changes the probe makes on a gateway (test port
//! mappings), kept where an interrupted run can still find them.
//!
//! A check registers the deletion of a mapping *before* it asks for the
//! mapping (the answer may be lost after the gateway made it), runs it
//! itself when done, and whatever is left when the run is interrupted
//! (Ctrl-C) is run by [`UndoLog::run_all`].

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

type UndoFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;
type Action = Box<dyn FnOnce() -> UndoFuture + Send>;

/// The pending undo actions of one run.
#[derive(Clone, Default)]
pub struct UndoLog {
    pending: Arc<Mutex<BTreeMap<u64, (String, Action)>>>,
    next: Arc<Mutex<u64>>,
}

/// A registered action, to run or forget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UndoKey(u64);

impl UndoLog {
    /// Records `action`, described as `what` (e.g. "UPnP mapping of UDP port
    /// 41000 on 10.0.1.1"), until it is run.
    pub fn register<F, Fut>(&self, what: impl Into<String>, action: F) -> UndoKey
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        let key = {
            let mut next = lock(&self.next);
            *next += 1;
            *next
        };
        let action: Action = Box::new(move || Box::pin(action()));
        lock(&self.pending).insert(key, (what.into(), action));
        UndoKey(key)
    }

    /// Runs the action behind `key` now, unless it already ran.
    pub async fn run(&self, key: UndoKey) -> Result<(), String> {
        let entry = lock(&self.pending).remove(&key.0);
        match entry {
            Some((_, action)) => action().await,
            None => Ok(()),
        }
    }

    /// Forgets the action behind `key`: the change it would undo never
    /// happened.
    pub fn forget(&self, key: UndoKey) {
        lock(&self.pending).remove(&key.0);
    }

    /// Runs every pending action, one after another; each result comes with
    /// its description.
    pub async fn run_all(&self) -> Vec<(String, Result<(), String>)> {
        let pending = std::mem::take(&mut *lock(&self.pending));
        let mut results = Vec::new();
        for (_, (what, action)) in pending {
            results.push((what, action().await));
        }
        results
    }
}

/// A poisoned lock only means another task panicked mid-update; the map is
/// still the best record of what to undo.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    fn counting(log: &UndoLog, counter: &Arc<AtomicU32>, what: &str) -> UndoKey {
        let counter = Arc::clone(counter);
        log.register(what, move || async move {
            counter.fetch_add(1, Ordering::SeqCst);
            Ok(())
        })
    }

    #[tokio::test]
    async fn an_action_runs_once_whoever_runs_it() {
        let log = UndoLog::default();
        let runs = Arc::new(AtomicU32::new(0));
        let key = counting(&log, &runs, "a");
        assert_eq!(log.run(key).await, Ok(()));
        assert_eq!(log.run(key).await, Ok(()));
        assert!(log.run_all().await.is_empty());
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn run_all_runs_what_is_left_and_skips_what_was_forgotten() {
        let log = UndoLog::default();
        let runs = Arc::new(AtomicU32::new(0));
        let done = counting(&log, &runs, "done");
        let forgotten = counting(&log, &runs, "forgotten");
        counting(&log, &runs, "left 1");
        let failing = log.clone();
        failing.register("left 2", || async { Err("gateway gone".to_string()) });
        log.run(done).await.unwrap();
        log.forget(forgotten);
        let results = log.run_all().await;
        assert_eq!(
            results,
            vec![
                ("left 1".to_string(), Ok(())),
                ("left 2".to_string(), Err("gateway gone".to_string()))
            ]
        );
        assert_eq!(runs.load(Ordering::SeqCst), 2);
    }
}
