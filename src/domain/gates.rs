//! First come, first served among this process's attempts on one key.
//!
//! The database holds the places that count (every instance sees them,
//! `Accounts::hold_place`); an attempt that finds them all taken polls with
//! backoff. Polling alone is unfair: a newcomer polls at once while an old
//! waiter sleeps its longest interval, so under a storm of logins for one
//! name from one address the oldest waited past the deadline and got 503
//! (the benchmark's mixed line: 12 of ~550 right passwords). Here the
//! attempts of one process queue for as many local places as the database
//! has, in arrival order (tokio's semaphore is fair), before they ask it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Above this many keys, idle ones are swept when a new one comes.
const SWEEP_ABOVE: usize = 1024;

/// One queue per attempt key.
#[derive(Default)]
pub struct Gates {
    queues: Mutex<HashMap<String, Arc<Semaphore>>>,
}

/// A local place, held while the attempt is in flight.
pub struct Pass {
    /// None only if the queue was closed, which never happens: the database
    /// still decides then.
    _permit: Option<OwnedSemaphorePermit>,
}

impl Gates {
    /// Wait, in arrival order, for one of `places` local places on `key`.
    pub async fn enter(&self, key: String, places: usize) -> Pass {
        let queue = {
            let mut queues = self.queues.lock().unwrap_or_else(PoisonError::into_inner);
            if queues.len() > SWEEP_ABOVE && !queues.contains_key(&key) {
                // Nobody waits on or holds a place of these: the map's
                // reference is the only one left.
                queues.retain(|_, q| Arc::strong_count(q) > 1);
            }
            queues
                .entry(key)
                .or_insert_with(|| Arc::new(Semaphore::new(places.max(1))))
                .clone()
        };
        Pass {
            _permit: queue.acquire_owned().await.ok(),
        }
    }

    #[cfg(test)]
    fn keys(&self) -> usize {
        self.queues
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn waiters_enter_in_arrival_order_once_a_place_is_free() {
        let gates = Arc::new(Gates::default());
        let first = gates.enter("k".into(), 1).await;
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        for i in 0..5 {
            let (gates, tx) = (gates.clone(), tx.clone());
            tokio::spawn(async move {
                let pass = gates.enter("k".into(), 1).await;
                tx.send(i).unwrap();
                tokio::time::sleep(Duration::from_millis(5)).await;
                drop(pass);
            });
            // Each is queued before the next arrives.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(rx.try_recv().is_err(), "entered while the place was held");
        drop(first);
        let mut order = Vec::new();
        for _ in 0..5 {
            order.push(rx.recv().await.unwrap());
        }
        assert_eq!(order, [0, 1, 2, 3, 4]);
        // Another key has places of its own.
        let _other = gates.enter("other".into(), 1).await;
    }

    #[tokio::test]
    async fn idle_keys_are_swept_when_the_map_grows() {
        let gates = Gates::default();
        for i in 0..=SWEEP_ABOVE + 1 {
            drop(gates.enter(format!("k{i}"), 3).await);
        }
        assert!(gates.keys() < 10, "{} keys kept", gates.keys());
    }
}
