//! Long-lived tasks: supervision (a task that panics is started again, never left dead while
//! the rest of the server limps on) and handles that stop their task when dropped.

use std::future::Future;
use std::time::Duration;

use tokio::task::JoinHandle;

/// Aborts its task when dropped, so tasks started for something end with it.
pub struct AbortOnDrop<T>(pub JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// How long a supervisor waits before starting a task that panicked again.
const RESTART_DELAY: Duration = Duration::from_secs(1);

/// Runs the task `make` builds and starts a new one whenever it panics; ends when a run
/// returns. Aborting the returned handle stops the current run too.
pub fn supervise<F, Fut>(name: String, make: F) -> JoinHandle<()>
where
    F: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    tokio::spawn(async move {
        loop {
            let mut run = AbortOnDrop(tokio::spawn(make()));
            match (&mut run.0).await {
                Ok(()) => return,
                Err(e) if e.is_panic() => {
                    tracing::error!(task = %name, "a long-lived task panicked; starting it again");
                    tokio::time::sleep(RESTART_DELAY).await;
                }
                Err(_) => return,
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[tokio::test]
    async fn a_task_that_panics_is_started_again() {
        let runs = Arc::new(AtomicUsize::new(0));
        let counted = runs.clone();
        let handle = supervise("flaky".into(), move || {
            let runs = counted.clone();
            async move {
                if runs.fetch_add(1, Ordering::SeqCst) == 0 {
                    panic!("first run fails");
                }
            }
        });
        tokio::time::timeout(Duration::from_secs(30), handle)
            .await
            .expect("the supervisor ends once a run returns")
            .unwrap();
        assert_eq!(runs.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn aborting_the_supervisor_stops_the_running_task() {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let tx = Arc::new(std::sync::Mutex::new(Some(tx)));
        let handle = supervise("forever".into(), move || {
            let tx = tx.lock().unwrap().take();
            async move {
                let _alive = tx;
                std::future::pending::<()>().await;
            }
        });
        tokio::task::yield_now().await;
        handle.abort();
        // The task's sender is dropped only when the task itself is aborted.
        assert!(tokio::time::timeout(Duration::from_secs(30), rx)
            .await
            .expect("the running task was stopped")
            .is_err());
    }
}
