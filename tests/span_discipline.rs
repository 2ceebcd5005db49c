//! Span discipline under load (issue 8): a tracing span guard held across `.await` in the
//! job runner corrupted the span stack and made tracing panic in whatever task ran next.
//! This check lives in its own test binary because it installs tracing dispatchers, whose
//! callsite interest is process-wide state: other tests' servers running in parallel threads
//! of the same process made it see no span at all.

mod common;

use std::time::{Duration, Instant};

use common::png;
use serde_json::json;

/// A tracing layer that checks span discipline: every span is exited on the thread that
/// entered it. A guard from `span.enter()` held across an `.await` breaks this as soon as the
/// task resumes on another thread, leaving the span on the first thread's stack, where it
/// corrupts (and can panic) whatever that thread logs next.
#[derive(Default)]
struct SpanDiscipline {
    entered: std::sync::Mutex<std::collections::HashMap<u64, Vec<std::thread::ThreadId>>>,
    violations: std::sync::atomic::AtomicUsize,
    enters: std::sync::atomic::AtomicUsize,
}

/// [`SpanDiscipline`] as a layer, shared with the test that reads its counts.
struct Checker(std::sync::Arc<SpanDiscipline>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Checker {
    fn on_enter(&self, id: &tracing::span::Id, _: tracing_subscriber::layer::Context<'_, S>) {
        self.0
            .enters
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let mut entered = self.0.entered.lock().unwrap();
        entered
            .entry(id.into_u64())
            .or_default()
            .push(std::thread::current().id());
    }

    fn on_exit(&self, id: &tracing::span::Id, _: tracing_subscriber::layer::Context<'_, S>) {
        let here = std::thread::current().id();
        let mut entered = self.0.entered.lock().unwrap();
        let threads = entered.entry(id.into_u64()).or_default();
        match threads.iter().rposition(|t| *t == here) {
            Some(i) => {
                threads.remove(i);
            }
            None => {
                self.0
                    .violations
                    .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        }
    }
}

#[test]
fn job_spans_are_exited_on_the_thread_that_entered_them() {
    use std::sync::atomic::Ordering;
    use tracing_subscriber::layer::SubscriberExt;

    let checker = std::sync::Arc::new(SpanDiscipline::default());
    let dispatch = tracing::Dispatch::new(
        tracing_subscriber::registry()
            .with(Checker(checker.clone()))
            .with(tracing_subscriber::filter::LevelFilter::INFO),
    );
    let on_threads = dispatch.clone();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .on_thread_start(move || {
            // The runtime's threads live as long as the runtime: keep the default set.
            std::mem::forget(tracing::dispatcher::set_default(&on_threads));
        })
        .build()
        .unwrap();
    let _main = tracing::dispatcher::set_default(&dispatch);
    runtime.block_on(async {
        let server = common::TestServer::spawn_with(|config| config.workers = 4).await;
        let c = server.client.clone();
        let uploads = (0..24).map(|i| {
            let c = c.clone();
            tokio::spawn(async move {
                let asset_id = c
                    .create_asset(
                        &json!({"asset_name": format!("span-{i}"), "asset_type": "IMAGE"}),
                    )
                    .await;
                c.upload(&asset_id, "small.png", "MAIN", &png(16 + i, 16))
                    .await;
                asset_id
            })
        });
        let mut ids = Vec::new();
        for upload in uploads {
            ids.push(upload.await.unwrap());
        }
        let deadline = Instant::now() + Duration::from_secs(300);
        for id in &ids {
            while c.show(id).await["asset_state"] == "CREATING" {
                assert!(Instant::now() < deadline, "asset {id} never settled");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        server.stop().await;
    });
    drop(runtime);
    assert!(
        checker.enters.load(Ordering::SeqCst) > 0,
        "no span was ever entered"
    );
    assert_eq!(
        checker.violations.load(Ordering::SeqCst),
        0,
        "spans were exited on a thread that had not entered them"
    );
}
