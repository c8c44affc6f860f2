//! The processing plane: a bounded pool of OS threads for CPU work (building and concatenating
//! Arrow batches, compressing images, decoding messages), so that producers, serialization and the
//! network overlap without stalling the async runtime.

use std::sync::Arc;

use tokio::sync::{oneshot, Semaphore};

use crate::error::{Error, Result};

type Job = Box<dyn FnOnce() + Send + 'static>;

/// A fixed set of worker threads fed through a bounded queue.
#[derive(Clone)]
pub struct ProcessingPool {
    tx: crossbeam_channel::Sender<Job>,
    slots: Arc<Semaphore>,
    workers: usize,
}

impl std::fmt::Debug for ProcessingPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessingPool").field("workers", &self.workers).finish()
    }
}

impl ProcessingPool {
    /// `workers` threads (0 = one per core); at most `2 × workers` jobs queued or running, beyond
    /// which [`ProcessingPool::run`] waits (backpressure).
    pub fn new(workers: usize) -> Self {
        let workers = if workers == 0 { crate::control::channel::available_cores() } else { workers };
        let depth = workers * 2;
        let (tx, rx) = crossbeam_channel::bounded::<Job>(depth);
        for i in 0..workers {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("mosaico-proc-{i}"))
                .spawn(move || {
                    // ends when every sender (every pool clone) is dropped
                    while let Ok(job) = rx.recv() {
                        job();
                    }
                })
                .expect("spawn processing worker");
        }
        ProcessingPool { tx, slots: Arc::new(Semaphore::new(depth)), workers }
    }

    pub fn workers(&self) -> usize {
        self.workers
    }

    /// Runs `f` on a worker and awaits its result. A panic inside `f` becomes an error.
    pub async fn run<T, F>(&self, f: F) -> Result<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let permit = self.slots.clone().acquire_owned().await.map_err(|_| Error::Closed("processing pool".into()))?;
        let (done_tx, done_rx) = oneshot::channel();
        let job: Job = Box::new(move || {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
            drop(permit);
            let _ = done_tx.send(r);
        });
        // never blocks: a permit guarantees a free queue slot
        self.tx.try_send(job).map_err(|_| Error::Closed("processing pool".into()))?;
        match done_rx.await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(_)) => Err(Error::Closed("a processing job panicked".into())),
            Err(_) => Err(Error::Closed("processing pool".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_jobs_in_parallel_and_survives_panics() {
        let pool = ProcessingPool::new(2);
        let jobs: Vec<_> = (0..20u64).map(|i| pool.run(move || i * i)).collect();
        let out: Vec<u64> = futures::future::try_join_all(jobs).await.unwrap();
        assert_eq!(out.iter().sum::<u64>(), (0..20u64).map(|i| i * i).sum::<u64>());
        let r: Result<()> = pool.run(|| panic!("boom")).await;
        assert!(r.is_err());
        assert_eq!(pool.run(|| 7).await.unwrap(), 7);
    }
}
