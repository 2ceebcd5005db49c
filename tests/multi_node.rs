//! Three `assetd serve` nodes on one PostgreSQL catalogue and one blob store: a prefix of
//! their own in the `ASSETD_TEST_BLOB_URL` bucket when it is set, else one directory on local
//! disk. Uploads are spread across the nodes — each created on
//! one node, PUT through the next and confirmed on the third, so signed URLs of one node are
//! honoured by all — and one node is SIGKILLed while the queue is busy. Still every asset
//! ends ACTIVED, or FAILED with a reason; every state change produces exactly one event, and
//! every event reaches the webhook; no MAIN file's processing is committed twice; and the
//! killed node's jobs are taken over by the others once their leases run out.
//!
//! Runs only when `ASSETD_TEST_DATABASE_URL` names a PostgreSQL server.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::routing::post;
use axum::{Json, Router};
use common::child::{assetd, ChildServer};
use common::postgres::{server_url, TestDatabase};
use common::{fixture, md5_b64, png, Client, Media};
use futures::StreamExt;
use serde_json::{json, Value};

const PROJECT: &str = "multi-node-project";
const AK: &str = "MULTINODEACCESSKEY01";
const SK: &str = "multi-node-secret-key-0123456789";
/// Workers per node: at most this many jobs were in flight on the killed node.
const WORKERS: usize = 2;
/// Everything settles within this, however loaded the machine.
const SETTLE: Duration = Duration::from_secs(600);

/// One upload: what it is and how it must end.
struct Upload {
    asset_type: &'static str,
    name: String,
    data: Vec<u8>,
    fails: bool,
}

/// 100 uploads: images, videos (four of them cut short, so they fail in processing) and
/// PDF decks.
fn uploads() -> Vec<Upload> {
    let mp4 = fixture(Media::Mp4);
    let pdf = fixture(Media::Pdf);
    let jpeg = fixture(Media::Jpeg);
    (0..100)
        .map(|i| match i % 10 {
            0..=4 if i % 2 == 0 => Upload {
                asset_type: "IMAGE",
                name: format!("image-{i}.png"),
                data: png(32 + i as u32, 24),
                fails: false,
            },
            0..=4 => Upload {
                asset_type: "IMAGE",
                name: format!("photo-{i}.jpg"),
                data: jpeg.clone(),
                fails: false,
            },
            5..=7 if i % 30 == 5 => Upload {
                asset_type: "VIDEO",
                name: format!("cut-{i}.mp4"),
                data: mp4[..mp4.len() / 3].to_vec(),
                fails: true,
            },
            5..=7 => Upload {
                asset_type: "VIDEO",
                name: format!("clip-{i}.mp4"),
                data: mp4.clone(),
                fails: false,
            },
            _ => Upload {
                asset_type: "PPT",
                name: format!("deck-{i}.pdf"),
                data: pdf.clone(),
                fails: false,
            },
        })
        .collect()
}

/// Serves a webhook that answers 200 to everything and keeps every event it got.
async fn receiver() -> (String, Arc<Mutex<Vec<Value>>>) {
    let events: Arc<Mutex<Vec<Value>>> = Arc::default();
    let kept = events.clone();
    let router = Router::new().route(
        "/hook",
        post(move |Json(event): Json<Value>| {
            let kept = kept.clone();
            async move {
                kept.lock().unwrap().push(event);
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.ok() });
    (url, events)
}

/// Lines of `log` that record a committed processing result for `file_id`.
fn processed_lines(log: &str, file_id: &str) -> usize {
    log.lines()
        .filter(|line| line.contains("main file processed") && line.contains(file_id))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_nodes_share_the_work_and_survive_a_killed_node() {
    let Some(server) = server_url() else {
        eprintln!("ASSETD_TEST_DATABASE_URL is not set; skipping");
        return;
    };
    let database = TestDatabase::create(&server);
    let dir = tempfile::tempdir().unwrap();
    let blobs = dir.path().join("shared-blobs");
    std::fs::create_dir_all(&blobs).unwrap();
    let blob_url = common::test_blob_url(&uuid::Uuid::new_v4().simple().to_string());
    let config = dir.path().join("assetd.toml");
    std::fs::write(
        &config,
        format!("workers = {WORKERS}\njob_lease_secs = 10\n"),
    )
    .unwrap();
    let node = |i: usize| {
        let data_dir = dir.path().join(format!("node-{i}"));
        std::fs::create_dir_all(&data_dir).unwrap();
        let mut command = assetd();
        match &blob_url {
            Some(url) => {
                command.env("ASSETD_BLOB_URL", url);
            }
            None if !data_dir.join("blobs").exists() => {
                std::os::unix::fs::symlink(&blobs, data_dir.join("blobs")).unwrap();
            }
            None => {}
        }
        command
            .arg("--data-dir")
            .arg(&data_dir)
            .arg("--config")
            .arg(&config)
            .env("ASSETD_DATABASE_URL", &database.url)
            .env("ASSETD_LOG", "info")
            // The test's webhook receiver listens on loopback, refused unless allowed.
            .env("ASSETD_WEBHOOK_ALLOW_HOSTS", "127.0.0.1")
            .env("NO_COLOR", "1");
        command
    };
    // Three nodes starting at once on an empty database: they race to migrate it and to
    // create the URL-signing key.
    let logs = (0..3)
        .map(|i| dir.path().join(format!("node-{i}.log")))
        .collect::<Vec<_>>();
    let mut nodes =
        futures::future::join_all((0..3).map(|i| ChildServer::serve(node(i), logs[i].clone())))
            .await;
    // Credentials through the CLI, on the catalogue the nodes share.
    let created = node(0)
        .args(["credentials", "create", "--project-id", PROJECT])
        .args(["--access-key", AK, "--secret-key", SK])
        .output()
        .unwrap();
    assert!(created.status.success(), "{created:?}");

    let clients = nodes
        .iter()
        .map(|n| Client::connect(&n.base, PROJECT, AK, SK))
        .collect::<Vec<_>>();
    let (hook, events) = receiver().await;
    clients[0]
        .put(
            "/webhook",
            &json!({"url": hook, "secret": "multi-node-webhook-secret"}),
        )
        .await
        .ok();

    let uploads = uploads();
    let started = futures::stream::iter(uploads.iter().enumerate())
        .map(|(i, upload)| {
            let (create_on, put_to, confirm_on) = (
                &clients[i % 3],
                &clients[(i + 1) % 3],
                &clients[(i + 2) % 3],
            );
            async move {
                let asset_id = create_on
                    .create_asset(&json!({
                        "asset_name": upload.name,
                        "asset_type": upload.asset_type,
                    }))
                    .await;
                let (file_id, url) = create_on
                    .create_file(&asset_id, &upload.name, "MAIN", &upload.data)
                    .await;
                let url = url.replacen(&create_on.base, &put_to.base, 1);
                put_to
                    .put_upload(&url, &upload.data, Some(&md5_b64(&upload.data)))
                    .await
                    .ok();
                confirm_on.confirm(&file_id, "CREATED").await.ok();
                (asset_id, file_id)
            }
        })
        .buffered(8)
        .collect::<Vec<_>>()
        .await;

    // Kill node 1 while every worker is busy, so jobs are in flight on it.
    let catalog = assetd::catalog::open(&database.url).await.unwrap();
    let deadline = Instant::now() + SETTLE;
    loop {
        let counts = catalog.job_counts().await.unwrap();
        if counts.running as usize == 3 * WORKERS {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the workers never all got busy: {counts:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    nodes[1].kill_9();

    // Every asset reaches a final state on the surviving nodes.
    let ids = started.iter().map(|(a, _)| a.clone()).collect::<Vec<_>>();
    let assets = loop {
        let assets = catalog.assets(&ids).await.unwrap();
        if assets.iter().all(|a| a.asset_state.as_str() != "CREATING") {
            break assets;
        }
        assert!(
            Instant::now() < deadline,
            "assets still CREATING: {:?}",
            assets
                .iter()
                .filter(|a| a.asset_state.as_str() == "CREATING")
                .map(|a| &a.asset_name)
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let by_id = assets
        .iter()
        .map(|a| (a.asset_id.clone(), a))
        .collect::<BTreeMap<_, _>>();
    for ((asset_id, _), upload) in started.iter().zip(&uploads) {
        let asset = by_id[asset_id];
        if upload.fails {
            assert_eq!(asset.asset_state.as_str(), "FAILED", "{}", upload.name);
            assert!(
                asset.reason.as_deref().is_some_and(|r| !r.is_empty()),
                "{} failed without a reason",
                upload.name
            );
        } else {
            assert_eq!(
                asset.asset_state.as_str(),
                "ACTIVED",
                "{}: {:?}",
                upload.name,
                asset.reason
            );
        }
    }

    // Two state changes per asset (created in CREATING, then its final state), each with
    // one event, each delivered; redelivered only if it was in flight on the killed node.
    let expected = |asset: &assetd::catalog::Asset| {
        BTreeSet::from([
            ("null".to_owned(), "CREATING".to_owned()),
            ("CREATING".to_owned(), asset.asset_state.as_str().to_owned()),
        ])
    };
    let transitions = |events: &[Value]| {
        let mut seen: BTreeMap<String, BTreeMap<(String, String), BTreeSet<String>>> =
            BTreeMap::new();
        for event in events {
            let change = (
                event["from_state"].as_str().unwrap_or("null").to_owned(),
                event["to_state"].as_str().unwrap_or_default().to_owned(),
            );
            seen.entry(event["asset_id"].as_str().unwrap_or_default().to_owned())
                .or_default()
                .entry(change)
                .or_default()
                .insert(event["event_id"].as_str().unwrap_or_default().to_owned());
        }
        seen
    };
    let delivered = loop {
        let got = events.lock().unwrap().clone();
        let seen = transitions(&got);
        let complete = assets.iter().all(|a| {
            seen.get(&a.asset_id).is_some_and(|changes| {
                changes.keys().cloned().collect::<BTreeSet<_>>() == expected(a)
            })
        });
        if complete {
            break got;
        }
        assert!(
            Instant::now() < deadline,
            "events missing; got {} deliveries",
            got.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    for (asset_id, changes) in transitions(&delivered) {
        let asset = by_id
            .get(&asset_id)
            .unwrap_or_else(|| panic!("an event about an unknown asset {asset_id}"));
        assert_eq!(
            changes.keys().cloned().collect::<BTreeSet<_>>(),
            expected(asset),
            "{}",
            asset.asset_name
        );
        for (change, event_ids) in changes {
            assert_eq!(
                event_ids.len(),
                1,
                "{} {change:?} produced several events",
                asset.asset_name
            );
        }
    }
    let mut deliveries: BTreeMap<String, usize> = BTreeMap::new();
    for event in &delivered {
        *deliveries
            .entry(event["event_id"].as_str().unwrap_or_default().to_owned())
            .or_default() += 1;
    }
    let redelivered: usize = deliveries.values().map(|n| n - 1).sum();
    assert!(
        redelivered <= WORKERS,
        "{redelivered} events delivered more than once"
    );

    // Nothing is left running: the jobs the killed node held were claimed again once their
    // leases ran out. One FAILED job remains per upload that failed.
    let counts = loop {
        let counts = catalog.job_counts().await.unwrap();
        if counts.running == 0 {
            break counts;
        }
        assert!(Instant::now() < deadline, "jobs stuck: {counts:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let failing = uploads.iter().filter(|u| u.fails).count() as u64;
    assert_eq!(counts.failed, failing, "{counts:?}");

    // No processing committed twice; only what the killed node committed in its last
    // moments may have missed its log line.
    let logs = logs
        .iter()
        .map(|path| std::fs::read_to_string(path).unwrap())
        .collect::<Vec<_>>();
    let all_logs = logs.concat();
    let mut unlogged = 0;
    for ((asset_id, file_id), upload) in started.iter().zip(&uploads) {
        let commits = processed_lines(&all_logs, file_id);
        assert!(commits <= 1, "{} processed {commits} times", upload.name);
        if commits == 0 && by_id[asset_id].asset_state.as_str() == "ACTIVED" {
            unlogged += 1;
        }
    }
    assert!(
        unlogged <= WORKERS,
        "{unlogged} activations unaccounted for"
    );
    // The killed node's jobs were run again, on a second attempt, by the survivors.
    let taken_over = [&logs[0], &logs[2]]
        .iter()
        .flat_map(|log| log.lines())
        .filter(|l| {
            l.contains("attempt=2") && (l.contains("job done") || l.contains("failed for good"))
        })
        .count();
    eprintln!(
        "{} uploads on 3 nodes; node 1 killed; {taken_over} of its jobs taken over; \
         {} events, {redelivered} delivered twice",
        uploads.len(),
        deliveries.len()
    );
    // …and no job was run by two workers at once: no live worker lost its lease.
    assert!(
        !logs.iter().any(|log| log.contains("lost the job's lease")),
        "a running job's lease ran out"
    );
    assert!(
        taken_over > 0,
        "no job of the killed node was taken over; the killed node's log ends:\n{}",
        logs[1]
            .lines()
            .rev()
            .take(20)
            .collect::<Vec<_>>()
            .join("\n")
    );

    // Any node serves what another node stored, through URLs another node signed.
    let (asset_id, _) = &started[0];
    let shown = clients[0].show(asset_id).await;
    let main = shown["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["asset_file_category"] == "MAIN")
        .expect("a MAIN file")
        .clone();
    let url = main["download_url"]
        .as_str()
        .expect("a download_url")
        .replacen(&clients[0].base, &clients[2].base, 1);
    let got = clients[2].fetch(&url, None).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.bytes, uploads[0].data);
}
