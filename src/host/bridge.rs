//! The only crossing from synchronous script code to async vendor clients.
//!
//! A vendor function, running on a blocking-pool thread, hands its future to [`Bridge::call`],
//! which spawns it on the tokio runtime and waits on a channel with the run's deadline. Nothing
//! else in leadrelay may use `block_in_place` or `Handle::block_on`: those stall runtime workers.

use std::future::Future;
use std::sync::mpsc;
use std::time::Instant;

/// Why a bridged call produced no value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BridgeError {
    /// The run's deadline passed before the call finished; the call was cancelled.
    #[error("the run's time budget ran out while waiting for the call")]
    DeadlineExceeded,
    /// The runtime dropped the task (it is shutting down).
    #[error("the runtime is shutting down")]
    Cancelled,
}

/// Runs async work for synchronous callers on blocking threads.
#[derive(Clone, Debug)]
pub struct Bridge {
    handle: tokio::runtime::Handle,
}

impl Bridge {
    /// A bridge onto `handle`'s runtime.
    pub fn new(handle: tokio::runtime::Handle) -> Self {
        Self { handle }
    }

    /// A bridge onto the runtime of the calling task.
    ///
    /// # Panics
    /// Outside a tokio runtime.
    pub fn current() -> Self {
        Self::new(tokio::runtime::Handle::current())
    }

    /// Runs `future` on the runtime and waits for it until `deadline`. Call only from a
    /// blocking-pool or plain thread, never from an async task.
    pub fn call<F, T>(&self, future: F, deadline: Instant) -> Result<T, BridgeError>
    where
        F: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        let (tx, rx) = mpsc::sync_channel(1);
        let task = self.handle.spawn(async move {
            let _ = tx.send(future.await);
        });
        let remaining = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(remaining) {
            Ok(value) => Ok(value),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                task.abort();
                Err(BridgeError::DeadlineExceeded)
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(BridgeError::Cancelled),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn returns_the_value_or_gives_up_at_the_deadline() {
        let bridge = Bridge::current();
        let b = bridge.clone();
        let value = tokio::task::spawn_blocking(move || {
            b.call(async { 41 + 1 }, Instant::now() + Duration::from_secs(1))
        })
        .await
        .unwrap();
        assert_eq!(value, Ok(42));

        let started = Instant::now();
        let late = tokio::task::spawn_blocking(move || {
            bridge.call(
                tokio::time::sleep(Duration::from_secs(10)),
                Instant::now() + Duration::from_millis(50),
            )
        })
        .await
        .unwrap();
        assert_eq!(late, Err(BridgeError::DeadlineExceeded));
        assert!(started.elapsed() < Duration::from_secs(1));
    }
}
