//! Hardening: the server under bursts, crashes, hostile input and hostile configuration.
//! Each test here once failed on a defect found by attacking the server (issue 8).

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::child::{assetd_on, ChildServer};
use common::{png, Client};
use serde_json::json;

const PROJECT: &str = "hardening-project";
const AK: &str = "HARDENINGACCESSKEY01";
const SK: &str = "hardening-secret-key-0123456789";

/// Creates the test credentials in `data_dir` through the CLI.
fn create_credentials(data_dir: &Path) {
    let created = assetd_on(data_dir)
        .args(["credentials", "create", "--project-id", PROJECT])
        .args(["--access-key", AK, "--secret-key", SK])
        .output()
        .unwrap();
    assert!(created.status.success(), "{created:?}");
}

/// Every line of a server log that reports a panic.
fn panics_in(log: &str) -> Vec<&str> {
    log.lines().filter(|l| l.contains("panicked")).collect()
}

/// `clients` clients each create `rounds` IMAGE assets with a small PNG as MAIN file, all at
/// once; returns the asset ids. Every request must succeed (no 5xx).
async fn burst(base: &str, clients: usize, rounds: usize, seed: u32) -> Vec<String> {
    let tasks = (0..clients).map(|i| {
        let c = Client::connect(base, PROJECT, AK, SK);
        tokio::spawn(async move {
            let mut ids = Vec::new();
            for r in 0..rounds {
                let side = 16 + seed + (i * rounds + r) as u32 % 64;
                let data = png(side, side + 1);
                let asset_id = c
                    .create_asset(&json!({"asset_name": format!("burst-{i}-{r}"),
                                          "asset_type": "IMAGE"}))
                    .await;
                c.upload(&asset_id, "small.png", "MAIN", &data).await;
                ids.push(asset_id);
            }
            ids
        })
    });
    let mut ids = Vec::new();
    for task in tasks {
        ids.extend(task.await.expect("a client of the burst failed"));
    }
    ids
}

/// Waits (bounded) until every asset has left CREATING and returns their states.
async fn settle_all(c: &Client, ids: &[String], server: &ChildServer) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut states = Vec::new();
    for id in ids {
        loop {
            let shown = c.show(id).await;
            if shown["asset_state"] != "CREATING" {
                states.push(shown["asset_state"].as_str().unwrap_or_default().to_owned());
                break;
            }
            assert!(
                Instant::now() < deadline,
                "asset {id} still CREATING: {shown}\n{}",
                server.log_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    states
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bursts_and_a_kill_9_with_jobs_in_flight_cause_no_panic_and_lose_no_write() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    create_credentials(&data_dir);
    let config = dir.path().join("assetd.toml");
    std::fs::write(&config, "job_lease_secs = 3\nworkers = 4\n").unwrap();
    // Spans must be enabled for a misused span guard to corrupt anything: log at info.
    let env = [("ASSETD_LOG", "info")];

    let first_log = dir.path().join("serve-1.log");
    let mut first = ChildServer::start_with_env(&data_dir, Some(&config), first_log, &env).await;
    let mut ids = burst(&first.base, 16, 4, 0).await;
    // Jobs of the burst are still queued or running: kill the server under them.
    let more = burst(&first.base, 16, 1, 100).await;
    ids.extend(more);
    first.kill_9();
    let first_log = first.log_text();

    let second_log = dir.path().join("serve-2.log");
    let second = ChildServer::start_with_env(&data_dir, Some(&config), second_log, &env).await;
    ids.extend(burst(&second.base, 16, 4, 200).await);
    let c = Client::connect(&second.base, PROJECT, AK, SK);
    let states = settle_all(&c, &ids, &second).await;
    let not_actived: Vec<_> = ids
        .iter()
        .zip(&states)
        .filter(|(_, s)| *s != "ACTIVED")
        .collect();
    assert!(not_actived.is_empty(), "{not_actived:?}");

    // Writes still work after the burst, and the server says it is healthy.
    let after = c
        .create_asset(&json!({"asset_name": "after", "asset_type": "IMAGE"}))
        .await;
    c.upload(&after, "after.png", "MAIN", &png(20, 20)).await;
    settle_all(&c, &[after], &second).await;
    let health = c.fetch(&format!("{}/health", second.base), None).await;
    assert_eq!(health.status, 200, "{}", health.json);

    let second_log = second.log_text();
    assert!(
        panics_in(&first_log).is_empty() && panics_in(&second_log).is_empty(),
        "the server panicked:\n{}\n{}",
        panics_in(&first_log).join("\n"),
        panics_in(&second_log).join("\n")
    );
}

/// Holds the SQLite write lock of the catalogue at `db` until dropped, the way a stuck
/// writer, a backup tool or a full disk would stop the server from committing.
struct WriteLock(sqlx::SqliteConnection);

impl WriteLock {
    async fn take(db: &Path) -> Self {
        use sqlx::{Connection, Executor};
        let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
            .await
            .unwrap();
        conn.execute("BEGIN IMMEDIATE").await.unwrap();
        Self(conn)
    }

    async fn release(mut self) {
        use sqlx::Executor;
        self.0.execute("ROLLBACK").await.unwrap();
    }
}

/// The lock tests lock the SQLite file itself; another catalogue backend has none.
fn on_sqlite() -> bool {
    let sqlite = std::env::var_os("ASSETD_TEST_DATABASE_URL").is_none();
    if !sqlite {
        eprintln!("skipping: this test locks the SQLite catalogue file");
    }
    sqlite
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_fails_with_an_mss_error_while_the_catalogue_cannot_write() {
    if !on_sqlite() {
        return;
    }
    let server = common::TestServer::spawn().await;
    let c = &server.client;
    let health = format!("{}/health", server.base);
    assert_eq!(c.fetch(&health, None).await.ok()["status"], "ok");

    let lock = WriteLock::take(&server.data_dir().join("catalog.db")).await;
    let sick = c.fetch(&health, None).await;
    let msg = sick.expect_error(503, "MSS.00000007").to_owned();
    assert!(
        !msg.contains(&server.data_dir().display().to_string()),
        "{msg}"
    );

    lock.release().await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while c.fetch(&health, None).await.status != 200 {
        assert!(Instant::now() < deadline, "health never recovered");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_whose_catalogue_stays_unwritable_exits_non_zero() {
    if !on_sqlite() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    create_credentials(&data_dir);
    let config = dir.path().join("assetd.toml");
    std::fs::write(&config, "catalog_unwritable_exit_secs = 1\n").unwrap();
    let mut server =
        ChildServer::start(&data_dir, Some(&config), dir.path().join("serve.log")).await;
    let lock = WriteLock::take(&data_dir.join("catalog.db")).await;
    let status = server.wait_exit(Duration::from_secs(120)).await;
    lock.release().await;
    assert!(!status.success(), "{status}");
    assert!(
        server.log_text().contains("accepted no write"),
        "{}",
        server.log_text()
    );
}

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
