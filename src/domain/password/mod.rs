//! Password hashes: argon2id for every new hash, checks of the old formats
//! imported users bring along, all of it on a bounded pool of hash workers.
//!
//! - `argon2id`: today's hashes and any argon2 PHC string, in a reused block.
//! - `legacy`: Django's pbkdf2, bcrypt and scrypt formats, GoTrue's bcrypt.
//! - `format`: which format a stored hash is in, and the verdict on a password.
//! - `pool`: the worker threads and their bounded queue.

mod argon2id;
mod format;
mod legacy;
mod pool;

pub use format::{classify, Stored, Verdict};

use super::error::{Error, Result};
use super::secret::Secret;
use argon2id::Memory;
use pool::Pool;
use std::sync::Arc;

/// Checks and hashes passwords on `workers` dedicated threads. Cloning is
/// cheap; the threads stop when the last clone is dropped.
#[derive(Clone)]
pub struct PasswordHasher {
    pool: Arc<Pool>,
    /// A hash of a random password, checked when there is no usable hash
    /// (unknown user, phone-only user, unusable or unknown format) so that
    /// such a login costs the same one hash as a wrong password.
    dummy: Arc<str>,
}

impl PasswordHasher {
    /// `workers`: hashes that run at once (about one per core, each holding
    /// 19 MiB); `queue`: checks that may wait for a worker before further
    /// ones are refused as `Unavailable`. Blocks for one hash (the dummy).
    pub fn new(workers: usize, queue: usize) -> Result<Self> {
        let pool = Pool::start(workers, queue).map_err(Error::internal)?;
        // Made in a block of its own, freed at once (back to the OS: see
        // pool.rs), so an idle server holds no argon2 memory at all.
        let random = hex::encode(rand::random::<[u8; 16]>());
        let dummy =
            argon2id::hash(&mut Memory::default(), random.as_bytes()).map_err(Error::Internal)?;
        Ok(Self {
            pool: Arc::new(pool),
            dummy: dummy.into(),
        })
    }

    /// Password checks (and rehashes) waiting for a worker: the
    /// `accountd_password_hash_waiting` gauge.
    pub fn waiting(&self) -> usize {
        self.pool.waiting()
    }

    /// Run `f` on a hash worker. A full queue is `Unavailable` at once: under
    /// a storm of logins, waiting longer only makes every answer late.
    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Memory) -> T + Send + 'static,
    ) -> Result<T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        // Held while this future waits: dropped with it when the request is.
        let caller = Arc::new(());
        let work: pool::Work = Box::new(move |memory| {
            // The caller gave up (client gone): spend nothing on it.
            if tx.is_closed() {
                return;
            }
            let _ = tx.send(f(memory));
        });
        self.pool
            .submit(pool::Job::for_caller(work, &caller))
            .map_err(|_| Error::Unavailable("the password hash queue is full".into()))?;
        let answer = rx.await;
        drop(caller);
        answer.map_err(|_| Error::internal("a password hash job was dropped"))
    }

    /// A fresh argon2id hash with today's parameters.
    pub async fn hash(&self, password: &Secret) -> Result<String> {
        let password = password.clone();
        self.run(move |memory| argon2id::hash(memory, password.expose().as_bytes()))
            .await?
            .map_err(Error::Internal)
    }

    /// Check `password` against a stored hash in any known format. With no
    /// usable hash it spends the same time on the dummy and answers `Wrong`.
    pub async fn verify(&self, password: &Secret, stored: Option<&str>) -> Result<Verdict> {
        let password = password.clone();
        let stored = stored.map(str::to_owned);
        let dummy = self.dummy.clone();
        self.run(move |memory| {
            verdict(
                memory,
                stored.as_deref(),
                password.expose().as_bytes(),
                &dummy,
            )
        })
        .await
    }
}

/// The verdict on `pw` against `stored`. No hash, an unusable one or one in
/// an unknown format is checked against `dummy` instead and is wrong: every
/// answer costs one hash, so timing does not tell which accounts exist.
fn verdict(memory: &mut Memory, stored: Option<&str>, pw: &[u8], dummy: &str) -> Verdict {
    match stored.and_then(|s| format::check(memory, s, pw)) {
        Some(verdict) => verdict,
        None => {
            let _ = format::check(memory, dummy, pw);
            Verdict::Wrong
        }
    }
}

/// Blocking hash for the CLI, which has no runtime contention to care about.
pub fn hash_now(password: &Secret) -> Result<String> {
    argon2id::hash(&mut Memory::default(), password.expose().as_bytes()).map_err(Error::Internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_with_owasp_parameters_and_verify() {
        let h = PasswordHasher::new(1, 4).unwrap();
        let phc = h.hash(&Secret::from("correct horse")).await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        let check = |pw: &'static str, stored: Option<&'static str>| {
            let h = h.clone();
            async move { h.verify(&Secret::from(pw), stored).await.unwrap() }
        };
        let phc: &'static str = Box::leak(phc.into_boxed_str());
        assert_eq!(check("correct horse", Some(phc)).await, Verdict::Right);
        assert_eq!(check("wrong", Some(phc)).await, Verdict::Wrong);
        assert_eq!(check("correct horse", None).await, Verdict::Wrong);
        assert_eq!(check("x", Some("not a hash")).await, Verdict::Wrong);
        let cli = hash_now(&Secret::from("correct horse")).unwrap();
        assert_eq!(
            h.verify(&Secret::from("correct horse"), Some(&cli))
                .await
                .unwrap(),
            Verdict::Right
        );
    }

    #[tokio::test]
    async fn an_old_format_is_right_but_stale() {
        let h = PasswordHasher::new(1, 4).unwrap();
        let v = h
            .verify(
                &Secret::from(legacy::tests::PASSWORD),
                Some(legacy::tests::BCRYPT_SHA256),
            )
            .await
            .unwrap();
        assert_eq!(v, Verdict::RightButStale);
    }

    #[test]
    fn no_hash_or_an_unusable_one_still_runs_one_argon2id_check() {
        // A fresh memory block is allocated by the first argon2 run in it:
        // a check that skipped the hash would leave it empty. (Not timed:
        // performance is measured in the benchmark, not in tests.)
        let dummy = argon2id::hash(&mut Memory::default(), b"something random").unwrap();
        for stored in [None, Some("!unusable"), Some("md5$x$y"), Some("")] {
            let mut memory = Memory::default();
            assert_eq!(
                verdict(&mut memory, stored, b"guess", &dummy),
                Verdict::Wrong
            );
            assert!(memory.is_held(), "{stored:?}: no hash was computed");
        }
        // And a real argon2id hash runs in it too.
        let mut memory = Memory::default();
        assert_eq!(
            verdict(&mut memory, Some(&dummy), b"guess", &dummy),
            Verdict::Wrong
        );
        assert!(memory.is_held());
    }

    /// A hasher with one worker, held inside a job until `release` is sent
    /// to, and one waiting place; and a hash of "right".
    async fn held_worker() -> (PasswordHasher, String, std::sync::mpsc::Sender<()>) {
        let h = PasswordHasher::new(1, 1).unwrap();
        let phc = h.hash(&Secret::from("right")).await.unwrap();
        let (release, gate) = std::sync::mpsc::channel::<()>();
        let (started_tx, started) = std::sync::mpsc::channel::<()>();
        h.pool
            .submit(pool::Job::always(Box::new(move |_| {
                started_tx.send(()).unwrap();
                gate.recv().unwrap();
            })))
            .unwrap();
        started.recv().unwrap();
        (h, phc, release)
    }

    #[tokio::test]
    async fn checks_beyond_the_queue_bound_are_unavailable_at_once() {
        // One worker, held inside a job until released, and one waiting place.
        let (h, phc, release) = held_worker().await;
        // The next check takes the waiting place...
        let waiting = {
            let (h, phc) = (h.clone(), phc.clone());
            tokio::spawn(async move { h.verify(&Secret::from("right"), Some(&phc)).await })
        };
        while h.waiting() == 0 {
            tokio::task::yield_now().await;
        }
        // ...and any more are refused at once, while the worker is still held.
        for _ in 0..3 {
            match h.verify(&Secret::from("right"), Some(&phc)).await {
                Err(Error::Unavailable(m)) => assert_eq!(m, "the password hash queue is full"),
                other => panic!("unexpected {other:?}"),
            }
        }
        release.send(()).unwrap();
        assert_eq!(waiting.await.unwrap().unwrap(), Verdict::Right);
        assert_eq!(h.waiting(), 0);
    }

    #[tokio::test]
    async fn a_place_whose_caller_left_is_given_to_the_next_check() {
        // One worker, held; one waiting place, taken by a check whose
        // request is then dropped (its client hung up).
        let (h, phc, release) = held_worker().await;
        let gone = {
            let (h, phc) = (h.clone(), phc.clone());
            tokio::spawn(async move { h.verify(&Secret::from("right"), Some(&phc)).await })
        };
        while h.waiting() == 0 {
            tokio::task::yield_now().await;
        }
        gone.abort();
        assert!(gone.await.unwrap_err().is_cancelled());
        // The queue is still full by count, but its one job is wanted by no
        // one: the next check takes the place instead of a 503.
        let right = Secret::from("right");
        let mut next = std::pin::pin!(h.verify(&right, Some(&phc)));
        // Its first poll queues it (or refuses it): still waiting after it.
        let early = tokio::time::timeout(std::time::Duration::from_millis(50), &mut next).await;
        assert!(
            early.is_err(),
            "answered while the worker was held: {early:?}"
        );
        assert_eq!(h.waiting(), 1);
        release.send(()).unwrap();
        assert_eq!(next.await.unwrap(), Verdict::Right);
    }
}
