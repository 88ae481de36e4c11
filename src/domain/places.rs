//! Places held in the database for attempts being checked (logins, code
//! guesses), and the rule that makes them safe to abandon: whatever the
//! database did for a place is finished even if the request that asked for
//! it is dropped meanwhile (the client went away mid-hash).
//!
//! Without that, a reservation committed while its request was being
//! dropped left a pending row nobody owned: it held one of the address's
//! places for a minute until it went stale, and a right password behind it
//! waited out its deadline and got 503 (CI saw it on a busy machine).

use super::error::{Error, Result};
use super::gates::Pass;
use super::ports::{Attempt, AttemptKey, AttemptReservation, Count, Store};
use std::future::Future;
use std::sync::Arc;

/// A place held for one attempt (`Accounts::hold_place`). Settled once the
/// check is done; if dropped first, given back uncounted at once rather
/// than held until it goes stale.
pub(super) struct Place {
    /// This process's place in line for the key, released with the place.
    _pass: Pass,
    held: Held,
}

impl Place {
    pub(super) fn new(pass: Pass, held: Held) -> Self {
        Place { _pass: pass, held }
    }

    /// The attempt failed (it now counts) or did not. Runs to its end even
    /// if the caller is dropped: a failure a client saw coming must still
    /// count, and a success must still forget.
    pub(super) async fn settle(self, failed: bool) -> Result<()> {
        let mut held = self.held;
        to_the_end(async move {
            held.settled = true;
            held.store
                .settle_attempt(held.id, &held.key(), failed)
                .await
        })
        .await
    }
}

/// The database's side of a place: its row and the key it counts under.
pub(super) struct Held {
    store: Arc<dyn Store>,
    id: i64,
    key: OwnedKey,
    settled: bool,
}

impl Held {
    fn key(&self) -> AttemptKey<'_> {
        self.key.borrowed()
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if self.settled {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (store, id, key) = (self.store.clone(), self.id, std::mem::take(&mut self.key));
        runtime.spawn(async move {
            if let Err(e) = store.settle_attempt(id, &key.borrowed(), false).await {
                tracing::warn!(error = %e, "an abandoned attempt's place was not given back");
            }
        });
    }
}

/// An `AttemptKey` that owns its text, to outlive the request it came from.
#[derive(Default)]
struct OwnedKey {
    scope: String,
    name: String,
    client: String,
}

impl OwnedKey {
    fn of(k: &AttemptKey<'_>) -> Self {
        OwnedKey {
            scope: k.scope.to_owned(),
            name: k.name.to_owned(),
            client: k.client.to_owned(),
        }
    }

    fn borrowed(&self) -> AttemptKey<'_> {
        AttemptKey {
            scope: &self.scope,
            name: &self.name,
            client: &self.client,
        }
    }
}

/// Ask the store for a place: a held place, or the failed counts it was
/// refused on. A place reserved after the caller left is given back by its
/// `Held` being dropped with the finished task's output.
pub(super) async fn reserve(
    store: &Arc<dyn Store>,
    r: &AttemptReservation<'_>,
) -> Result<Result<Held, (Count, Count)>> {
    let store = store.clone();
    let key = OwnedKey::of(&r.key);
    let (now, per_client, per_name, pending_since) =
        (r.now, r.per_client, r.per_name, r.pending_since);
    to_the_end(async move {
        let attempt = store
            .reserve_attempt(&AttemptReservation {
                key: key.borrowed(),
                now,
                per_client,
                per_name,
                pending_since,
            })
            .await?;
        Ok(match attempt {
            Attempt::Reserved(id) => Ok(Held {
                store,
                id,
                key,
                settled: false,
            }),
            Attempt::Refused {
                per_client,
                per_name,
            } => Err((per_client, per_name)),
        })
    })
    .await
}

/// Run `work` on the runtime to its end, whether or not the caller is
/// still waiting for it.
async fn to_the_end<T: Send + 'static>(
    work: impl Future<Output = Result<T>> + Send + 'static,
) -> Result<T> {
    tokio::spawn(work).await.unwrap_or_else(|e| {
        Err(if e.is_cancelled() {
            // The runtime is shutting down under it.
            Error::Unavailable("shutting down".into())
        } else {
            Error::internal(format!("attempt bookkeeping: {e}"))
        })
    })
}
