//! The bounded, fair pool that runs key derivations off the async reactor (reference §10).
//!
//! At most `workers` jobs run at once, on Tokio's blocking threads; at most `queue` more wait.
//! Waiting jobs are served round-robin by client ([`ClientId`]), so one client that floods the
//! pool waits behind its own jobs while every other client's next job goes ahead of them; and no
//! client may hold more than `queue_per_client` places (running or waiting). A job refused for
//! the whole queue ([`KdfError::Full`]) is answered 503 by the middleware, one refused for its
//! client's share ([`KdfError::ClientShareFull`]) 429; cached credentials never reach the pool.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::oneshot;

use crate::client::ClientId;

/// Size of the KDF pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfSettings {
    /// Jobs running at once (blocking threads used).
    pub workers: usize,
    /// Jobs allowed to wait for a worker before new ones are refused.
    pub queue: usize,
    /// Places (running or waiting) one client may hold.
    pub queue_per_client: usize,
}

impl KdfSettings {
    /// Default of [`KdfSettings::queue`] (`[cache] kdf_queue`).
    pub const DEFAULT_QUEUE: usize = 1024;
    /// Default of [`KdfSettings::queue_per_client`] (`[cache] kdf_queue_per_client`).
    pub const DEFAULT_QUEUE_PER_CLIENT: usize = 16;

    /// Default of [`KdfSettings::workers`] (`[cache] kdf_workers`): one per core but one, so
    /// that the async reactor keeps a core while key derivations run (at least one).
    #[must_use]
    pub fn default_workers() -> usize {
        std::thread::available_parallelism()
            .map_or(1, usize::from)
            .saturating_sub(1)
            .max(1)
    }
}

impl Default for KdfSettings {
    fn default() -> Self {
        Self {
            workers: Self::default_workers(),
            queue: Self::DEFAULT_QUEUE,
            queue_per_client: Self::DEFAULT_QUEUE_PER_CLIENT,
        }
    }
}

/// Why a job did not run.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KdfError {
    /// Every worker is busy and the queue is full.
    #[error("the key-derivation queue is full")]
    Full,
    /// The client already holds its share of the pool.
    #[error("this client already has its share of key derivations running or waiting")]
    ClientShareFull,
    /// The job could not complete (the runtime is shutting down, or the job panicked).
    #[error("the key-derivation job did not complete")]
    Failed,
}

/// Counters that outlive a pool rebuilt on reload.
#[derive(Debug, Default)]
pub struct PoolCounters {
    rejected: AtomicU64,
    rejected_for_share: AtomicU64,
    completed: AtomicU64,
}

/// A moment's view of the pool, for status output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct PoolSnapshot {
    /// Configured workers.
    pub workers: usize,
    /// Configured queue bound.
    pub queue_bound: usize,
    /// Configured places per client.
    pub queue_per_client: usize,
    /// Jobs running now.
    pub running: usize,
    /// Jobs waiting for a worker now.
    pub queued: usize,
    /// Clients with jobs running or waiting now.
    pub clients: usize,
    /// Jobs refused because the queue was full, since start.
    pub rejected: u64,
    /// Jobs refused because their client held its share, since start.
    pub rejected_for_share: u64,
    /// Jobs completed, since start.
    pub completed: u64,
}

/// Who a job is charged to; `None` pools clients the server cannot tell apart.
type Owner = Option<ClientId>;

/// Who runs and who waits.
#[derive(Default)]
struct Schedule {
    running: usize,
    queued: usize,
    /// Places held per client (running and waiting).
    held: HashMap<Owner, usize>,
    /// Waiting jobs per client, each woken with a worker place.
    waiting: HashMap<Owner, VecDeque<oneshot::Sender<()>>>,
    /// Clients with waiting jobs, in the order they are served.
    turns: VecDeque<Owner>,
}

struct Inner {
    settings: KdfSettings,
    counters: Arc<PoolCounters>,
    schedule: Mutex<Schedule>,
}

/// A cheap-to-clone handle on the pool.
#[derive(Clone)]
pub struct KdfPool {
    inner: Arc<Inner>,
}

impl fmt::Debug for KdfPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KdfPool")
            .field("snapshot", &self.snapshot())
            .finish()
    }
}

/// What `admit` decided.
enum Admission {
    Run,
    Wait(oneshot::Receiver<()>),
}

impl KdfPool {
    /// A pool with its own counters.
    #[must_use]
    pub fn new(settings: KdfSettings) -> Self {
        Self::with_counters(settings, Arc::default())
    }

    /// A pool recording into `counters` (shared with the pool it replaces on reload).
    #[must_use]
    pub fn with_counters(settings: KdfSettings, counters: Arc<PoolCounters>) -> Self {
        Self {
            inner: Arc::new(Inner {
                settings,
                counters,
                schedule: Mutex::default(),
            }),
        }
    }

    /// The settings the pool was built with.
    #[must_use]
    pub fn settings(&self) -> KdfSettings {
        self.inner.settings
    }

    /// Runs `job`, charged to `client`, on a blocking thread once a worker is free for it.
    ///
    /// The worker stays taken until `job` returns, even if the caller stops waiting.
    ///
    /// # Errors
    /// [`KdfError::Full`] or [`KdfError::ClientShareFull`] at once; [`KdfError::Failed`] if the
    /// job panicked or the runtime is shutting down.
    pub async fn run<F, R>(&self, client: Option<ClientId>, job: F) -> Result<R, KdfError>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let admission = self.admit(client)?;
        // Held from admission on: gives the place back however this future ends.
        let mut place = Place {
            inner: Arc::clone(&self.inner),
            owner: client,
            running: false,
        };
        match admission {
            Admission::Run => {}
            Admission::Wait(turn) => turn.await.map_err(|_| KdfError::Failed)?,
        }
        place.running = true;
        let counters = Arc::clone(&self.inner.counters);
        tokio::task::spawn_blocking(move || {
            let _place = place;
            let result = job();
            counters.completed.fetch_add(1, Ordering::Relaxed);
            result
        })
        .await
        .map_err(|_| KdfError::Failed)
    }

    fn admit(&self, owner: Owner) -> Result<Admission, KdfError> {
        let settings = self.inner.settings;
        let mut schedule = self.lock();
        let held = schedule.held.get(&owner).copied().unwrap_or(0);
        if held >= settings.queue_per_client.max(1) {
            drop(schedule);
            self.inner
                .counters
                .rejected_for_share
                .fetch_add(1, Ordering::Relaxed);
            return Err(KdfError::ClientShareFull);
        }
        if schedule.running < settings.workers.max(1) {
            schedule.running += 1;
            *schedule.held.entry(owner).or_default() += 1;
            return Ok(Admission::Run);
        }
        if schedule.queued >= settings.queue {
            drop(schedule);
            self.inner.counters.rejected.fetch_add(1, Ordering::Relaxed);
            return Err(KdfError::Full);
        }
        let (wake, turn) = oneshot::channel();
        schedule.queued += 1;
        *schedule.held.entry(owner).or_default() += 1;
        let queue = schedule.waiting.entry(owner).or_default();
        queue.push_back(wake);
        if queue.len() == 1 {
            schedule.turns.push_back(owner);
        }
        Ok(Admission::Wait(turn))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Schedule> {
        self.inner
            .schedule
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Current load and lifetime counters.
    #[must_use]
    pub fn snapshot(&self) -> PoolSnapshot {
        let settings = self.inner.settings;
        let schedule = self.lock();
        PoolSnapshot {
            workers: settings.workers.max(1),
            queue_bound: settings.queue,
            queue_per_client: settings.queue_per_client,
            running: schedule.running,
            queued: schedule.queued,
            clients: schedule.held.len(),
            rejected: self.inner.counters.rejected.load(Ordering::Relaxed),
            rejected_for_share: self
                .inner
                .counters
                .rejected_for_share
                .load(Ordering::Relaxed),
            completed: self.inner.counters.completed.load(Ordering::Relaxed),
        }
    }
}

/// A place in the pool: waiting, then running. Dropping it gives the place back and, for a
/// running one, hands the worker to the next client in turn.
struct Place {
    inner: Arc<Inner>,
    owner: Owner,
    running: bool,
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut schedule = self
            .inner
            .schedule
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        release(&mut schedule, self.owner);
        if !self.running {
            // Given up while waiting: its sender stays queued and is skipped when its turn comes.
            return;
        }
        // The worker goes to the next client in turn whose waiter is still there.
        while let Some(next) = schedule.turns.pop_front() {
            let Some(queue) = schedule.waiting.get_mut(&next) else {
                continue;
            };
            let wake = queue.pop_front();
            let more = !queue.is_empty();
            if !more {
                schedule.waiting.remove(&next);
            } else {
                schedule.turns.push_back(next);
            }
            let Some(wake) = wake else { continue };
            schedule.queued = schedule.queued.saturating_sub(1);
            if wake.send(()).is_ok() {
                return;
            }
        }
        schedule.running = schedule.running.saturating_sub(1);
    }
}

/// One place of `owner` is given back.
fn release(schedule: &mut Schedule, owner: Owner) {
    if let Some(held) = schedule.held.get_mut(&owner) {
        *held = held.saturating_sub(1);
        if *held == 0 {
            schedule.held.remove(&owner);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    type Gate = Arc<Mutex<std::sync::mpsc::Receiver<()>>>;

    fn blocker(gate: &Gate) -> impl FnOnce() -> usize + Send + 'static {
        let gate = Arc::clone(gate);
        move || {
            let _ = gate.lock().unwrap().recv_timeout(Duration::from_secs(10));
            1
        }
    }

    async fn until(pool: &KdfPool, running: usize, queued: usize) {
        for _ in 0..500 {
            let s = pool.snapshot();
            if s.running == running && s.queued == queued {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!(
            "pool never reached {running} running, {queued} queued: {:?}",
            pool.snapshot()
        );
    }

    fn client(last: u8) -> Option<ClientId> {
        Some(ClientId::of(std::net::IpAddr::from([127, 0, 0, last])))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_queue_refuses_at_once_and_frees_up_afterwards() {
        let pool = KdfPool::new(KdfSettings {
            workers: 1,
            queue: 1,
            queue_per_client: 16,
        });
        let (release, gate) = std::sync::mpsc::channel::<()>();
        let gate: Gate = Arc::new(Mutex::new(gate));
        let running = tokio::spawn({
            let (pool, job) = (pool.clone(), blocker(&gate));
            async move { pool.run(None, job).await }
        });
        until(&pool, 1, 0).await;
        let queued = tokio::spawn({
            let (pool, job) = (pool.clone(), blocker(&gate));
            async move { pool.run(None, job).await }
        });
        until(&pool, 1, 1).await;
        assert_eq!(pool.run(None, || 1).await, Err(KdfError::Full));
        assert_eq!(pool.snapshot().rejected, 1);
        release.send(()).unwrap();
        release.send(()).unwrap();
        assert!(running.await.unwrap().is_ok());
        assert!(queued.await.unwrap().is_ok());
        assert_eq!(pool.run(None, || 7).await, Ok(7));
        let s = pool.snapshot();
        assert_eq!((s.running, s.queued, s.completed, s.clients), (0, 0, 3, 0));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn waiting_clients_are_served_in_turn_and_each_has_a_share() {
        let pool = KdfPool::new(KdfSettings {
            workers: 1,
            queue: 100,
            queue_per_client: 4,
        });
        let (release, gate) = std::sync::mpsc::channel::<()>();
        let gate: Gate = Arc::new(Mutex::new(gate));
        let order = Arc::new(Mutex::new(Vec::new()));
        let job = |who: &'static str| {
            let (gate, order) = (Arc::clone(&gate), Arc::clone(&order));
            move || {
                let _ = gate.lock().unwrap().recv_timeout(Duration::from_secs(10));
                order.lock().unwrap().push(who);
            }
        };
        // The flooder takes the worker and queues three more: its whole share.
        let mut tasks = Vec::new();
        tasks.push(tokio::spawn({
            let (pool, job) = (pool.clone(), job("flood"));
            async move { pool.run(client(2), job).await }
        }));
        until(&pool, 1, 0).await;
        for queued in 1..=3 {
            tasks.push(tokio::spawn({
                let (pool, job) = (pool.clone(), job("flood"));
                async move { pool.run(client(2), job).await }
            }));
            until(&pool, 1, queued).await;
        }
        assert_eq!(
            pool.run(client(2), || ()).await,
            Err(KdfError::ClientShareFull)
        );
        assert_eq!(pool.snapshot().rejected_for_share, 1);
        // Another client arrives last, and is served next.
        tasks.push(tokio::spawn({
            let (pool, job) = (pool.clone(), job("other"));
            async move { pool.run(client(1), job).await }
        }));
        until(&pool, 1, 4).await;
        for _ in 0..5 {
            release.send(()).unwrap();
        }
        for task in tasks {
            assert!(task.await.unwrap().is_ok());
        }
        let order = order.lock().unwrap().clone();
        assert_eq!(order, ["flood", "flood", "other", "flood", "flood"]);
        let s = pool.snapshot();
        assert_eq!((s.running, s.queued, s.clients), (0, 0, 0));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_caller_that_stops_waiting_gives_its_place_back() {
        let pool = KdfPool::new(KdfSettings {
            workers: 1,
            queue: 10,
            queue_per_client: 10,
        });
        let (release, gate) = std::sync::mpsc::channel::<()>();
        let gate: Gate = Arc::new(Mutex::new(gate));
        let running = tokio::spawn({
            let (pool, job) = (pool.clone(), blocker(&gate));
            async move { pool.run(client(1), job).await }
        });
        until(&pool, 1, 0).await;
        let waiting = tokio::spawn({
            let (pool, job) = (pool.clone(), blocker(&gate));
            async move { pool.run(client(2), job).await }
        });
        until(&pool, 1, 1).await;
        waiting.abort();
        let _ = waiting.await;
        assert_eq!(
            pool.snapshot().clients,
            1,
            "the waiter's place is given back"
        );
        release.send(()).unwrap();
        assert!(running.await.unwrap().is_ok());
        until(&pool, 0, 0).await;
        assert_eq!(pool.run(client(2), || 5).await, Ok(5));
    }
}
