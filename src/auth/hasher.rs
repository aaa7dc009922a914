//! Password checks off the async runtime, on a small fixed pool of threads with a bounded queue. argon2 costs
//! about 19 MiB and tens of milliseconds per check by design; run on tokio's blocking pool, a login flood
//! spawned hundreds of threads, each keeping its own malloc arena of such buffers, and the server grew by
//! gigabytes. Here at most `threads` checks run at once and at most `queue` wait; past that a login is refused
//! as busy, so memory and CPU spent on logins stay bounded whatever the clients do.

use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

type Job = Box<dyn FnOnce() + Send + 'static>;

#[derive(Debug, thiserror::Error)]
pub enum HasherError {
    #[error("too many logins in progress: try again in a moment")]
    Busy,
    #[error("the password check failed")]
    Failed,
}

pub struct Hasher {
    jobs: SyncSender<Job>,
}

impl Hasher {
    pub fn new(threads: usize, queue: usize) -> Hasher {
        let (tx, rx) = sync_channel::<Job>(queue);
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads.max(1) {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new().name(format!("omnimarket-auth-{i}")).spawn(move || {
                loop {
                    let job = match rx.lock() {
                        Ok(r) => r.recv(),
                        Err(_) => return,
                    };
                    match job {
                        // A panic in one check must not take the thread (and the pool's capacity) with it.
                        Ok(job) => {
                            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                        }
                        Err(_) => return,
                    }
                }
            });
            if spawned.is_err() {
                // No thread could be started: the pool works with fewer (jobs wait for the others).
                continue;
            }
        }
        Hasher { jobs: tx }
    }

    /// Queues `check` on the pool at once (or refuses it as busy) and returns a future of its answer, which
    /// waits without blocking the caller's runtime.
    pub fn run<T: Send + 'static>(
        &self,
        check: impl FnOnce() -> T + Send + 'static,
    ) -> impl std::future::Future<Output = Result<T, HasherError>> + Send + 'static {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(check());
        });
        let queued = match self.jobs.try_send(job) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => Err(HasherError::Busy),
            Err(TrySendError::Disconnected(_)) => Err(HasherError::Failed),
        };
        async move {
            queued?;
            rx.await.map_err(|_| HasherError::Failed)
        }
    }
}

impl Default for Hasher {
    /// One thread per core (at most 4) and 64 waiting checks.
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        Hasher::new(cores.min(4), 64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_jobs_and_refuses_past_the_queue() {
        let h = Hasher::new(1, 1);
        assert_eq!(h.run(|| 2 + 2).await.expect("runs"), 4);
        let (gate_tx, gate_rx) = std::sync::mpsc::channel::<()>();
        let blocker = tokio::spawn(h.run(move || gate_rx.recv().is_ok()));
        // Let the blocker reach the thread, then fill the one queue slot.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let queued = tokio::spawn(h.run(|| 1));
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(matches!(h.run(|| 0).await, Err(HasherError::Busy)));
        let _ = gate_tx.send(());
        assert!(blocker.await.expect("joins").expect("runs"));
        assert_eq!(queued.await.expect("joins").expect("runs"), 1);
        // A panicking check is an error for its caller, and the pool still works.
        assert!(matches!(h.run(|| -> i32 { panic!("boom") }).await, Err(HasherError::Failed)));
        assert_eq!(h.run(|| 7).await.expect("runs"), 7);
    }
}
