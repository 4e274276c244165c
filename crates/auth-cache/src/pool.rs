//! The bounded pool that runs key derivations off the async reactor (reference §10).
//!
//! At most `workers` jobs run at once, on Tokio's blocking threads; at most `queue` more wait
//! for a worker. A job that finds the queue full is refused at once ([`KdfError::Full`]), which
//! the middleware answers with 503 and `Retry-After`; cached credentials never reach the pool.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::Semaphore;

/// Size of the KDF pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfSettings {
    /// Jobs running at once (blocking threads used).
    pub workers: usize,
    /// Jobs allowed to wait for a worker before new ones are refused.
    pub queue: usize,
}

impl KdfSettings {
    /// Default of [`KdfSettings::queue`] (`[cache] kdf_queue`).
    pub const DEFAULT_QUEUE: usize = 1024;

    /// Default of [`KdfSettings::workers`] (`[cache] kdf_workers`): one per core.
    #[must_use]
    pub fn default_workers() -> usize {
        std::thread::available_parallelism().map_or(1, usize::from)
    }
}

impl Default for KdfSettings {
    fn default() -> Self {
        Self {
            workers: Self::default_workers(),
            queue: Self::DEFAULT_QUEUE,
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
    /// The job could not complete (the runtime is shutting down, or the job panicked).
    #[error("the key-derivation job did not complete")]
    Failed,
}

/// Counters that outlive a pool rebuilt on reload.
#[derive(Debug, Default)]
pub struct PoolCounters {
    rejected: AtomicU64,
    completed: AtomicU64,
}

/// A moment's view of the pool, for status output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct PoolSnapshot {
    /// Configured workers.
    pub workers: usize,
    /// Configured queue bound.
    pub queue_bound: usize,
    /// Jobs running now.
    pub running: usize,
    /// Jobs waiting for a worker now.
    pub queued: usize,
    /// Jobs refused because the queue was full, since start.
    pub rejected: u64,
    /// Jobs completed, since start.
    pub completed: u64,
}

/// A cheap-to-clone handle on the pool.
#[derive(Clone)]
pub struct KdfPool {
    admission: Arc<Semaphore>,
    workers: Arc<Semaphore>,
    settings: KdfSettings,
    counters: Arc<PoolCounters>,
}

impl fmt::Debug for KdfPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KdfPool")
            .field("snapshot", &self.snapshot())
            .finish()
    }
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
        let workers = settings.workers.max(1);
        Self {
            admission: Arc::new(Semaphore::new(workers.saturating_add(settings.queue))),
            workers: Arc::new(Semaphore::new(workers)),
            settings,
            counters,
        }
    }

    /// The settings the pool was built with.
    #[must_use]
    pub fn settings(&self) -> KdfSettings {
        self.settings
    }

    /// Runs `job` on a blocking thread once a worker is free.
    ///
    /// The worker stays taken until `job` returns, even if the caller stops waiting.
    ///
    /// # Errors
    /// [`KdfError::Full`] at once when the queue is full; [`KdfError::Failed`] if the job
    /// panicked or the runtime is shutting down.
    pub async fn run<F, R>(&self, job: F) -> Result<R, KdfError>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let Ok(admitted) = Arc::clone(&self.admission).try_acquire_owned() else {
            self.counters.rejected.fetch_add(1, Ordering::Relaxed);
            return Err(KdfError::Full);
        };
        let worker = Arc::clone(&self.workers)
            .acquire_owned()
            .await
            .map_err(|_| KdfError::Failed)?;
        let counters = Arc::clone(&self.counters);
        tokio::task::spawn_blocking(move || {
            let _permits = (admitted, worker);
            let result = job();
            counters.completed.fetch_add(1, Ordering::Relaxed);
            result
        })
        .await
        .map_err(|_| KdfError::Failed)
    }

    /// Current load and lifetime counters.
    #[must_use]
    pub fn snapshot(&self) -> PoolSnapshot {
        let workers = self.settings.workers.max(1);
        let capacity = workers.saturating_add(self.settings.queue);
        let admitted = capacity.saturating_sub(self.admission.available_permits());
        let running = workers.saturating_sub(self.workers.available_permits());
        PoolSnapshot {
            workers,
            queue_bound: self.settings.queue,
            running,
            queued: admitted.saturating_sub(running),
            rejected: self.counters.rejected.load(Ordering::Relaxed),
            completed: self.counters.completed.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_queue_refuses_at_once_and_frees_up_afterwards() {
        let pool = KdfPool::new(KdfSettings {
            workers: 1,
            queue: 1,
        });
        let (release, gate) = std::sync::mpsc::channel::<()>();
        let gate = Arc::new(std::sync::Mutex::new(gate));
        let blocker = |gate: Arc<std::sync::Mutex<std::sync::mpsc::Receiver<()>>>| {
            move || {
                gate.lock()
                    .unwrap()
                    .recv_timeout(std::time::Duration::from_secs(10))
            }
        };
        let running = tokio::spawn({
            let pool = pool.clone();
            let job = blocker(Arc::clone(&gate));
            async move { pool.run(job).await }
        });
        let queued = tokio::spawn({
            let pool = pool.clone();
            let job = blocker(Arc::clone(&gate));
            async move { pool.run(job).await }
        });
        for _ in 0..500 {
            let s = pool.snapshot();
            if s.running == 1 && s.queued == 1 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert_eq!((pool.snapshot().running, pool.snapshot().queued), (1, 1));
        assert_eq!(pool.run(|| 1).await, Err(KdfError::Full));
        assert_eq!(pool.snapshot().rejected, 1);
        release.send(()).unwrap();
        release.send(()).unwrap();
        assert!(running.await.unwrap().unwrap().is_ok());
        assert!(queued.await.unwrap().unwrap().is_ok());
        assert_eq!(pool.run(|| 7).await, Ok(7));
        let s = pool.snapshot();
        assert_eq!((s.running, s.queued, s.completed), (0, 0, 3));
    }
}
