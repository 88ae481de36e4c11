//! The hash workers: a fixed set of OS threads, each owning one argon2 memory
//! block, fed from a bounded queue.
//!
//! Why not `spawn_blocking` behind a semaphore (what came before): its wait
//! queue had no bound, so 200 bogus logins delayed a real one by seconds, and
//! each hash allocated and freed 19 MiB that glibc kept (issue 7 item 12).
//! Here a check that finds the queue full fails at once (the contracts answer
//! 503), and memory stays at one block per busy worker; a worker idle for
//! `IDLE` gives its block back.

use super::argon2id::Memory;
use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError, Weak};
use std::time::Duration;

/// Work for a hash worker, given that worker's memory.
pub type Work = Box<dyn FnOnce(&mut Memory) + Send>;

/// Queued work, and whether anyone still waits for it.
pub struct Job {
    work: Work,
    /// The waiting caller holds the `Arc`; when its request is dropped (the
    /// client hung up, or gave up mid-storm) the job is worth nothing.
    caller: Option<Weak<()>>,
}

impl Job {
    /// Work wanted for as long as `caller` lives.
    pub fn for_caller(work: Work, caller: &Arc<()>) -> Self {
        Self {
            work,
            caller: Some(Arc::downgrade(caller)),
        }
    }

    /// Work wanted whatever happens.
    #[cfg(test)]
    pub fn always(work: Work) -> Self {
        Self { work, caller: None }
    }

    fn abandoned(&self) -> bool {
        self.caller.as_ref().is_some_and(|c| c.strong_count() == 0)
    }
}

/// The queue was full; the job was not taken.
#[derive(Debug)]
pub struct Full;

struct Queue {
    jobs: VecDeque<Job>,
    closed: bool,
}

struct Shared {
    queue: Mutex<Queue>,
    ready: Condvar,
    /// Mirrors `jobs.len()` so the gauge is read without the lock.
    waiting: AtomicUsize,
    capacity: usize,
}

/// What a worker is to do next.
enum Next {
    Run(Job),
    /// Nothing came for `IDLE`: give the memory block back.
    Rest,
    Stop,
}

/// How long a worker keeps its block with nothing to do. After a login storm
/// the process returns to its idle size; the next hash pays a few
/// milliseconds of page faults for a fresh block.
#[cfg(not(test))]
const IDLE: Duration = Duration::from_secs(10);
#[cfg(test)]
const IDLE: Duration = Duration::from_millis(200);

impl Shared {
    /// The next job; `Rest` after `IDLE` without one if `resting_allowed`.
    fn next(&self, resting_allowed: bool) -> Next {
        // A worker never panics while holding the lock (jobs run outside it),
        // so a poisoned lock still holds a consistent queue.
        let mut q = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if q.closed {
                return Next::Stop;
            }
            if let Some(job) = q.jobs.pop_front() {
                self.waiting.store(q.jobs.len(), Ordering::Relaxed);
                return Next::Run(job);
            }
            if resting_allowed {
                let (guard, waited) = self
                    .ready
                    .wait_timeout(q, IDLE)
                    .unwrap_or_else(PoisonError::into_inner);
                q = guard;
                if waited.timed_out() && q.jobs.is_empty() && !q.closed {
                    return Next::Rest;
                }
            } else {
                q = self.ready.wait(q).unwrap_or_else(PoisonError::into_inner);
            }
        }
    }
}

/// The workers stop when the pool is dropped (the last `PasswordHasher`
/// clone), dropping jobs still queued: their callers are gone too.
pub struct Pool {
    shared: Arc<Shared>,
}

impl Pool {
    /// Start `workers` threads; at most `capacity` jobs wait for one.
    pub fn start(workers: usize, capacity: usize) -> std::io::Result<Pool> {
        return_large_frees_to_the_os();
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue {
                jobs: VecDeque::new(),
                closed: false,
            }),
            ready: Condvar::new(),
            waiting: AtomicUsize::new(0),
            capacity: capacity.max(1),
        });
        for i in 0..workers.max(1) {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name(format!("accountd-hash-{i}"))
                .spawn(move || work(&shared))?;
        }
        Ok(Pool { shared })
    }

    /// Queue `job`, or refuse it at once when `capacity` jobs already wait
    /// for callers still there. Jobs whose callers left are dropped first: a
    /// storm's abandoned logins (clients that timed out, a load generator
    /// stopped) must not fill the places of the next ones.
    pub fn submit(&self, job: Job) -> Result<(), Full> {
        let s = &self.shared;
        let mut q = s.queue.lock().unwrap_or_else(PoisonError::into_inner);
        if q.jobs.len() >= s.capacity {
            q.jobs.retain(|j| !j.abandoned());
            if q.jobs.len() >= s.capacity {
                s.waiting.store(q.jobs.len(), Ordering::Relaxed);
                return Err(Full);
            }
        }
        q.jobs.push_back(job);
        s.waiting.store(q.jobs.len(), Ordering::Relaxed);
        drop(q);
        s.ready.notify_one();
        Ok(())
    }

    /// Jobs queued and not yet taken by a worker.
    pub fn waiting(&self) -> usize {
        self.shared.waiting.load(Ordering::Relaxed)
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        let s = &self.shared;
        let mut q = s.queue.lock().unwrap_or_else(PoisonError::into_inner);
        q.closed = true;
        q.jobs.clear();
        s.waiting.store(0, Ordering::Relaxed);
        drop(q);
        s.ready.notify_all();
    }
}

fn work(shared: &Shared) {
    lower_priority();
    let mut memory = Memory::default();
    let mut holding = false;
    loop {
        match shared.next(holding) {
            Next::Run(job) if job.abandoned() => {}
            Next::Run(job) => {
                holding = true;
                // A job that panics drops its answer channel (its caller gets
                // an error) and must not take the worker down with it.
                let work = job.work;
                if catch_unwind(AssertUnwindSafe(|| work(&mut memory))).is_err() {
                    memory = Memory::default();
                }
            }
            Next::Rest => {
                memory = Memory::default();
                holding = false;
            }
            Next::Stop => return,
        }
    }
}

/// Run this thread at nice 10 above its current value (at most 19).
///
/// A login storm keeps every hash worker busy for as long as it lasts. At the
/// same priority as the async runtime's threads they would take half the CPU
/// from token and profile requests, whose p99 must stay under 20 ms while a
/// storm runs (issue 8); at nice 10 the scheduler gives the runtime about ten
/// times their share whenever both want the CPU, and hashes still get all of
/// it when the runtime is idle. On Linux `setpriority` with a thread id
/// changes only that thread.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: plain syscalls on this thread's own id; no memory is shared.
        unsafe {
            let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
            let now = libc::getpriority(libc::PRIO_PROCESS, tid);
            let target = now.saturating_add(10).min(19);
            if libc::setpriority(libc::PRIO_PROCESS, tid, target) != 0 {
                tracing::debug!("could not lower the hash workers' priority");
            }
        }
    }
}

/// Make glibc give any allocation of 1 MiB or more back to the OS when it is
/// freed. Its default threshold grows to the size of the largest buffer freed
/// (up to 32 MiB), after which such buffers come from the heap and stay there:
/// the rare hash that cannot use a worker's block (a scrypt, or a Django
/// argon2 at 100 MiB) would otherwise leave its buffer resident for good.
/// Nothing else in the process allocates that much (bodies are capped far below).
fn return_large_frees_to_the_os() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        // SAFETY: mallopt only sets a tuning parameter under malloc's own lock.
        ONCE.call_once(|| unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, 1024 * 1024);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    fn job(work: impl FnOnce(&mut Memory) + Send + 'static) -> Job {
        Job::always(Box::new(work))
    }

    #[test]
    fn a_full_queue_refuses_at_once_and_counts_what_waits() {
        let pool = Pool::start(1, 2).unwrap();
        let (release, gate) = mpsc::channel::<()>();
        let (started_tx, started) = mpsc::channel::<()>();
        // The one worker is held inside a job until released.
        pool.submit(job(move |_| {
            started_tx.send(()).unwrap();
            gate.recv().unwrap();
        }))
        .unwrap();
        started.recv_timeout(Duration::from_secs(5)).unwrap();
        let (done_tx, done) = mpsc::channel::<u32>();
        for n in 0..2 {
            let tx = done_tx.clone();
            pool.submit(job(move |_| tx.send(n).unwrap())).unwrap();
        }
        assert_eq!(pool.waiting(), 2);
        assert!(pool.submit(job(|_| {})).is_err());
        release.send(()).unwrap();
        let got: Vec<u32> = (0..2)
            .map(|_| done.recv_timeout(Duration::from_secs(5)).unwrap())
            .collect();
        assert_eq!(got, vec![0, 1]);
        assert_eq!(pool.waiting(), 0);
        // Room again.
        pool.submit(job(|_| {})).unwrap();
    }

    #[test]
    fn a_worker_keeps_its_block_while_busy_and_gives_it_back_when_idle() {
        let pool = Pool::start(1, 4).unwrap();
        let held_after = |hash: bool| {
            let (tx, rx) = mpsc::channel();
            pool.submit(job(move |memory| {
                if hash {
                    super::super::argon2id::hash(memory, b"pw").unwrap();
                }
                tx.send(memory.is_held()).unwrap();
            }))
            .unwrap();
            rx.recv_timeout(Duration::from_secs(10)).unwrap()
        };
        assert!(held_after(true));
        // The next job finds the same block.
        assert!(held_after(false));
        std::thread::sleep(IDLE * 3);
        assert!(!held_after(false));
    }

    #[test]
    fn a_job_that_panics_leaves_the_worker_running() {
        let pool = Pool::start(1, 4).unwrap();
        pool.submit(job(|_| panic!("boom"))).unwrap();
        let (tx, rx) = mpsc::channel();
        pool.submit(job(move |_| tx.send(7).unwrap())).unwrap();
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), 7);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn workers_run_below_the_runtime_priority() {
        let pool = Pool::start(1, 1).unwrap();
        let (tx, rx) = mpsc::channel();
        pool.submit(job(move |_| {
            // SAFETY: reads this thread's own nice value.
            let nice = unsafe {
                libc::getpriority(
                    libc::PRIO_PROCESS,
                    libc::syscall(libc::SYS_gettid) as libc::id_t,
                )
            };
            tx.send(nice).unwrap();
        }))
        .unwrap();
        // SAFETY: as above, for the test thread.
        let ours = unsafe {
            libc::getpriority(
                libc::PRIO_PROCESS,
                libc::syscall(libc::SYS_gettid) as libc::id_t,
            )
        };
        let theirs = rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(theirs, (ours + 10).min(19));
    }

    #[test]
    fn dropping_the_pool_stops_its_workers() {
        let pool = Pool::start(2, 1).unwrap();
        let shared = Arc::downgrade(&pool.shared);
        drop(pool);
        for _ in 0..500 {
            if shared.upgrade().is_none() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("the workers still hold the queue");
    }
}
