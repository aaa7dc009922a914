//! Where queries run: one tokio runtime of their own, apart from the runtime that accepts connections, checks
//! logins and answers signals. A query that eats every core still leaves the servers able to log users in, to
//! answer cheap calls and to shut down; and the query threads get stacks large enough for the deepest query
//! the guard lets through (tokio's default 2 MiB is not).
//!
//! Every query runs under a deadline, as a task that dies with its caller: dropping the future or the stream
//! that [`run`] or [`stream`] returns aborts the task, and with it DataFusion's own tasks, at their next yield.
//! A panic inside a query becomes an error for that query only.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use datafusion::arrow::array::RecordBatch;
use datafusion::error::DataFusionError;
use datafusion::physical_plan::SendableRecordBatchStream;
use futures::{FutureExt, Stream, StreamExt};
use tokio::runtime::{Handle, Runtime};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// Stack of each query thread. Planning and evaluating expressions recurse; with the guard's depth limit a
/// query needs well under this. Only the pages a thread touches are ever committed.
pub const QUERY_STACK_BYTES: usize = 256 << 20;

/// Why a query stopped without a result of its own.
#[derive(Debug, thiserror::Error)]
pub enum Interrupted {
    #[error("the query ran past its time limit of {} s and was cancelled (see --query-timeout)", .0.as_secs_f64())]
    Timeout(Duration),
    #[error("internal error: the query failed unexpectedly ({0}); the server goes on")]
    Panicked(String),
    #[error("the server is shutting down")]
    ShuttingDown,
}

/// The interruption behind an engine error, if that is what it is.
pub fn interrupted(e: &DataFusionError) -> Option<&Interrupted> {
    match e.find_root() {
        DataFusionError::External(inner) => inner.downcast_ref::<Interrupted>(),
        _ => None,
    }
}

fn error(i: Interrupted) -> DataFusionError {
    DataFusionError::External(Box::new(i))
}

/// How many queries of an engine are planning or running on the query threads right now: a cancelled query
/// leaves this count when its task is really gone, not when its client went away.
#[derive(Debug, Clone, Default)]
pub struct RunningQueries(Arc<AtomicUsize>);

impl RunningQueries {
    pub fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }

    fn enter(&self) -> RunningGuard {
        self.0.fetch_add(1, Ordering::SeqCst);
        RunningGuard(self.0.clone())
    }
}

struct RunningGuard(Arc<AtomicUsize>);

impl Drop for RunningGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

struct QueryRuntime {
    handle: Handle,
    shutdown: watch::Sender<bool>,
    // Kept alive for the process's life: statics are never dropped, so no runtime is dropped inside another.
    _runtime: Runtime,
}

fn runtime() -> &'static QueryRuntime {
    static RUNTIME: OnceLock<QueryRuntime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("omnimarket-query")
            .thread_stack_size(QUERY_STACK_BYTES)
            .enable_all()
            .build()
            // Without threads there is nothing to run a query on: this is the one failure the process cannot
            // work around, and it happens at the first query, with the OS's reason.
            .unwrap_or_else(|e| panic!("cannot start the query threads: {e}"));
        QueryRuntime { handle: runtime.handle().clone(), shutdown: watch::channel(false).0, _runtime: runtime }
    })
}

/// Cancels every running query and refuses new ones (the server got SIGTERM/SIGINT).
pub fn shut_down() {
    runtime().shutdown.send_replace(true);
}

async fn shutting_down() {
    let mut rx = runtime().shutdown.subscribe();
    let _ = rx.wait_for(|stop| *stop).await;
}

/// Aborts the task when dropped: the caller went away, so the work is no longer wanted.
struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl<T> Future for AbortOnDrop<T> {
    type Output = Result<T, tokio::task::JoinError>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0).poll(cx)
    }
}

fn panic_text(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| p.downcast_ref::<String>().cloned()).unwrap_or_else(|| "panic".into())
}

/// Runs `work` (planning, a whole collect) on the query runtime within `timeout`.
pub async fn run<T: Send + 'static>(
    timeout: Duration,
    running: &RunningQueries,
    work: impl Future<Output = Result<T, DataFusionError>> + Send + 'static,
) -> Result<T, DataFusionError> {
    let entered = running.enter();
    let guarded = async move {
        let _entered = entered;
        tokio::select! {
            r = AssertUnwindSafe(work).catch_unwind() => r.unwrap_or_else(|p| Err(error(Interrupted::Panicked(panic_text(p))))),
            _ = tokio::time::sleep(timeout) => Err(error(Interrupted::Timeout(timeout))),
            _ = shutting_down() => Err(error(Interrupted::ShuttingDown)),
        }
    };
    match AbortOnDrop(runtime().handle.spawn(guarded)).await {
        Ok(r) => r,
        Err(e) => Err(error(Interrupted::Panicked(e.to_string()))),
    }
}

/// A query's batches, produced on the query runtime. Dropping it cancels the query.
pub struct QueryStream {
    rx: mpsc::Receiver<Result<RecordBatch, DataFusionError>>,
    _task: AbortOnDrop<()>,
}

impl Stream for QueryStream {
    type Item = Result<RecordBatch, DataFusionError>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.rx.poll_recv(cx)
    }
}

/// Starts `start` (which executes a plan) on the query runtime and streams its batches back. The whole run,
/// including the time the consumer takes to read, is bounded by `timeout`.
pub fn stream(
    timeout: Duration,
    running: &RunningQueries,
    start: impl Future<Output = Result<SendableRecordBatchStream, DataFusionError>> + Send + 'static,
) -> QueryStream {
    let entered = running.enter();
    // Two batches in flight: the producer stays just ahead of the consumer, and a slow reader slows the query
    // rather than filling memory.
    let (tx, rx) = mpsc::channel(2);
    let produce = {
        let tx = tx.clone();
        async move {
            let mut batches = start.await?;
            while let Some(batch) = batches.next().await {
                if tx.send(batch).await.is_err() {
                    break; // the consumer went away
                }
            }
            Ok::<(), DataFusionError>(())
        }
    };
    let task = runtime().handle.spawn(async move {
        let _entered = entered;
        let outcome = tokio::select! {
            r = AssertUnwindSafe(produce).catch_unwind() => r.unwrap_or_else(|p| Err(error(Interrupted::Panicked(panic_text(p))))),
            _ = tokio::time::sleep(timeout) => Err(error(Interrupted::Timeout(timeout))),
            _ = shutting_down() => Err(error(Interrupted::ShuttingDown)),
            _ = tx.closed() => Ok(()),
        };
        if let Err(e) = outcome {
            let _ = tx.send(Err(e)).await;
        }
    });
    QueryStream { rx, _task: AbortOnDrop(task) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn panics_and_timeouts_are_errors_and_dropping_cancels() {
        let running = RunningQueries::default();
        let e = run(Duration::from_secs(5), &running, async { if true { panic!("boom") } else { Ok(()) } }).await.expect_err("panics");
        assert!(matches!(interrupted(&e), Some(Interrupted::Panicked(m)) if m.contains("boom")), "{e}");
        let e = run(Duration::from_millis(50), &running, async {
            tokio::time::sleep(Duration::from_secs(60)).await;
            Ok(())
        })
        .await
        .expect_err("times out");
        assert!(matches!(interrupted(&e), Some(Interrupted::Timeout(_))), "{e}");

        // A dropped caller aborts the work.
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let fut = run(Duration::from_secs(60), &running, async move {
            let _keep = tx;
            tokio::time::sleep(Duration::from_secs(60)).await;
            Ok(())
        });
        let _ = tokio::time::timeout(Duration::from_millis(50), fut).await;
        // The task held `tx`; once aborted, the receiver sees it dropped.
        tokio::time::timeout(Duration::from_secs(1), rx).await.expect("aborted within a second").expect_err("dropped");
        // The task drops `tx` and its running-count guard one after the other, on another thread.
        let t = std::time::Instant::now();
        while running.count() > 0 {
            assert!(t.elapsed() < Duration::from_secs(1), "the aborted task still counts as running");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    #[tokio::test]
    async fn deep_recursion_fits_the_query_stack() {
        fn depth(n: u64) -> u64 {
            let pad = [n; 64];
            if n == 0 { 0 } else { std::hint::black_box(pad)[0].min(1) + depth(n - 1) }
        }
        // About 60 MB of frames: would overflow a 2 MiB or 8 MiB stack.
        let n = run(Duration::from_secs(30), &RunningQueries::default(), async { Ok(depth(100_000)) }).await.expect("runs");
        assert_eq!(n, 100_000);
    }
}
