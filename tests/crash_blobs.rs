//! Crash safety of where bytes live: the real `assetd` is SIGKILLed at random moments while
//! uploads (single and multipart, shared and unique content), deletions and purges run, and
//! restarted on the same data directory. Once it has reconciled, every file refers to bytes
//! that are stored and right (no dangling reference), and every stored byte is referred to
//! (no leaked blob). Also: a job killed after storing a thumbnail, whose asset is then
//! force-deleted, leaves nothing behind (the orphan of issue 8).

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use assetd::blobs::BlobKey;
use assetd::catalog::{AssetQuery, BlobState, Catalog};
use common::child::{assetd_on, objects, store_for, ChildServer};
use common::{md5_b64, Client};
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

const PROJECT: &str = "blob-crash-project";
const AK: &str = "BLOBCRASHACCESSKEY01";
const SK: &str = "blob-crash-secret-key-0123456789";

/// A data directory with credentials and a config for quick recovery: leases of 3 s, a
/// reconciliation sweep every 2 s, and no time in the recycle bin.
fn setup(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let data_dir = dir.join("data");
    let config = dir.join("assetd.toml");
    std::fs::write(
        &config,
        "job_lease_secs = 3\nreconcile_interval_secs = 2\nrecycle_retention_secs = 0\n",
    )
    .unwrap();
    let created = assetd_on(&data_dir)
        .args(["credentials", "create", "--project-id", PROJECT])
        .args(["--access-key", AK, "--secret-key", SK])
        .output()
        .unwrap();
    assert!(created.status.success(), "{created:?}");
    (data_dir, config)
}

/// The catalogue of `data_dir`, opened beside the server (SQLite allows readers alongside;
/// on PostgreSQL, the server's own database).
async fn catalog_of(data_dir: &Path) -> Arc<dyn Catalog> {
    let url = common::postgres::database_for(data_dir)
        .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("catalog.db").display()));
    assetd::catalog::open(&url).await.unwrap()
}

/// `len` bytes that differ for every `seed`.
fn content(seed: u32, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(7);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// One step of the workload; errors are expected (the server dies under it).
async fn step(
    c: &Client,
    pool: &[Vec<u8>],
    rng: &mut rand::rngs::StdRng,
    assets: &mut Vec<String>,
) {
    let data = &pool[rng.gen_range(0..pool.len())];
    match rng.gen_range(0..10) {
        0..=4 => {
            let reply = c
                .post(
                    "/digital-assets",
                    &json!({"asset_name": "x", "asset_type": "COMMON_FILE"}),
                )
                .await;
            let Some(asset) = reply.json["asset_id"].as_str().map(str::to_owned) else {
                return;
            };
            assets.push(asset.clone());
            let created = c
                .post(
                    "/files",
                    &json!({"asset_id": asset, "file_name": "x.bin", "file_md5": md5_b64(data),
                            "file_size": data.len(), "asset_file_category": "MAIN"}),
                )
                .await;
            let (Some(file), Some(url)) = (
                created.json["file_id"].as_str(),
                created.json["upload_url"].as_str(),
            ) else {
                return;
            };
            if c.put_upload(url, data, None).await.status == 200 {
                c.confirm(file, "CREATED").await;
            }
        }
        5 | 6 => {
            // A large file in two parts.
            let reply = c
                .post(
                    "/digital-assets",
                    &json!({"asset_name": "y", "asset_type": "COMMON_FILE"}),
                )
                .await;
            let Some(asset) = reply.json["asset_id"].as_str().map(str::to_owned) else {
                return;
            };
            assets.push(asset.clone());
            let created = c
                .post(
                    "/large-files",
                    &json!({"asset_id": asset, "file_name": "y.bin", "file_size": data.len(),
                            "asset_file_category": "MAIN", "file_multipart_count": 2}),
                )
                .await;
            let (Some(file), Some(urls)) = (
                created.json["file_id"].as_str(),
                created.json["upload_urls"].as_array(),
            ) else {
                return;
            };
            let half = data.len() / 2;
            let a = c
                .put_upload(urls[0].as_str().unwrap(), &data[..half], None)
                .await;
            let b = c
                .put_upload(urls[1].as_str().unwrap(), &data[half..], None)
                .await;
            if a.status == 200 && b.status == 200 {
                c.confirm(file, "CREATED").await;
            }
        }
        7 | 8 if !assets.is_empty() => {
            let asset = assets.swap_remove(rng.gen_range(0..assets.len()));
            let force = if rng.gen_bool(0.5) { "?mode=force" } else { "" };
            c.delete(&format!("/digital-assets/{asset}{force}")).await;
        }
        _ if !assets.is_empty() => {
            let asset = &assets[rng.gen_range(0..assets.len())];
            let shown = c.get(&format!("/digital-assets/{asset}")).await;
            if let Some(file) = shown.json["files"][0]["file_id"].as_str() {
                c.delete(&format!("/files/{file}")).await;
            }
        }
        _ => {}
    }
}

/// Waits until the catalogue says everything has settled: no write in progress (their
/// leases ran out and the sweep took them), no blob waiting to be deleted, no job left.
async fn settled(catalog: &dyn Catalog, server: &ChildServer) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let far = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
        let writes = catalog.expired_blob_writes(far, 10).await.unwrap();
        let deleting = catalog.deleting_blobs(10).await.unwrap();
        let jobs = catalog.job_counts().await.unwrap();
        if writes.is_empty() && deleting.is_empty() && jobs.queued + jobs.running == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "not settled: writes {writes:?}, deleting {deleting:?}, jobs {jobs:?}\n{}",
            server.log_text()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Every file refers to a LIVE blob whose object is there with its recorded size; every
/// object is a LIVE blob at least one file refers to; nothing else is in the store.
async fn assert_consistent(data_dir: &Path, catalog: &dyn Catalog) -> (usize, usize) {
    let store = store_for(data_dir).await;
    let page = catalog
        .list_assets(&AssetQuery {
            project_id: PROJECT.to_owned(),
            limit: 10_000,
            ..AssetQuery::default()
        })
        .await
        .unwrap();
    let ids: Vec<String> = page.assets.iter().map(|a| a.asset_id.clone()).collect();
    let files = catalog.files_of(&ids).await.unwrap();
    let mut referenced = std::collections::HashSet::new();
    for file in &files {
        let Some(key) = &file.blob_key else {
            continue;
        };
        let blob = catalog.blob(key).await.unwrap();
        let blob = blob.unwrap_or_else(|| panic!("file {} refers to unknown {key}", file.file_id));
        assert_eq!(
            blob.state,
            BlobState::Live,
            "file {} on {key}",
            file.file_id
        );
        let size = store.size(&BlobKey::parse(key).unwrap()).await.unwrap();
        assert_eq!(
            size,
            Some(blob.size as u64),
            "file {} refers to {key}, which must be stored whole",
            file.file_id
        );
        if file.state.as_str() == "CREATED" {
            assert_eq!(file.file_md5.as_deref(), blob.md5.as_deref());
        }
        referenced.insert(key.clone());
    }
    let stored = objects(&store, "content").await;
    for key in &stored {
        assert!(
            referenced.contains(key),
            "{key} is stored but no file refers to it (leaked)"
        );
    }
    assert_eq!(stored.len(), referenced.len());
    let usage = catalog.storage_usage().await.unwrap();
    assert_eq!(usage.blobs as usize, stored.len(), "{usage:?}");
    assert!(
        store.staging_files().await.unwrap().is_empty(),
        "no staging files"
    );
    for part in objects(&store, "parts").await {
        let Some(BlobKey::Part { file_id, .. }) = BlobKey::parse(&part) else {
            panic!("unexpected {part}");
        };
        let file = catalog.file(&file_id).await.unwrap();
        assert!(
            file.is_some_and(|f| f.state.as_str() == "CREATING"),
            "{part} belongs to no upload in progress"
        );
    }
    (files.len(), stored.len())
}

/// `assetd scrub` on a stopped server's data directory: its exit code and output.
fn scrub(data_dir: &Path) -> (i32, String) {
    let out = assetd_on(data_dir).arg("scrub").output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_random_moments_leaves_no_dangling_reference_and_no_leaked_blob() {
    let seed: u64 = std::env::var("ASSETD_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    eprintln!("crash seed {seed} (ASSETD_CRASH_SEED reproduces the schedule)");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let (data_dir, config) = setup(dir.path());
    // Shared and unique content; one larger than an S3 part, so uploads go multipart.
    let pool: Vec<Vec<u8>> = vec![
        content(1, 20_000),
        content(2, 300_000),
        content(3, 9 * 1024 * 1024 + 5),
        content(4, 1_000),
    ];

    for round in 0..6 {
        let mut server = ChildServer::start(
            &data_dir,
            Some(&config),
            data_dir.with_file_name(format!("serve-{round}.log")),
        )
        .await;
        let mut workers = Vec::new();
        for w in 0..3u64 {
            let c = Client::connect(&server.base, PROJECT, AK, SK);
            let pool = pool.clone();
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ (round * 10 + w));
            workers.push(tokio::spawn(async move {
                let mut assets = Vec::new();
                loop {
                    step(&c, &pool, &mut rng, &mut assets).await;
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(rng.gen_range(300..3000))).await;
        server.kill_9();
        for worker in workers {
            worker.abort();
        }
    }

    let server = ChildServer::start(
        &data_dir,
        Some(&config),
        data_dir.with_file_name("serve-final.log"),
    )
    .await;
    let catalog = catalog_of(&data_dir).await;
    settled(catalog.as_ref(), &server).await;
    // One more sweep after everything settled, then look.
    tokio::time::sleep(Duration::from_secs(3)).await;
    settled(catalog.as_ref(), &server).await;
    let (files, blobs) = assert_consistent(&data_dir, catalog.as_ref()).await;
    eprintln!("after 6 crashes: {files} files on {blobs} stored blobs");
    assert!(files > 0, "the workload got somewhere");

    // Every confirmed file downloads as the content it was uploaded as.
    let c = Client::connect(&server.base, PROJECT, AK, SK);
    let page = catalog
        .list_assets(&AssetQuery {
            project_id: PROJECT.to_owned(),
            limit: 10_000,
            ..AssetQuery::default()
        })
        .await
        .unwrap();
    for asset in page
        .assets
        .iter()
        .filter(|a| a.asset_state.as_str() == "ACTIVED")
    {
        let shown: Value = c.show(&asset.asset_id).await;
        for file in shown["files"].as_array().unwrap() {
            let Some(url) = file["download_url"].as_str() else {
                continue;
            };
            let got = c.fetch(url, None).await;
            assert_eq!(got.status, 200, "{file}");
            assert!(pool.contains(&got.bytes), "{file} downloads intact");
        }
    }
    drop(server);
    let (code, out) = scrub(&data_dir);
    assert_eq!((code, out.as_str()), (0, ""), "every stored blob verifies");
}

fn long_webm() -> Vec<u8> {
    common::cached("long-webm", || {
        common::ffmpeg(
            "-f lavfi -i testsrc2=size=1280x720:rate=25 \
             -f lavfi -i sine=frequency=440:sample_rate=48000 -t 20 \
             -c:v libvpx-vp9 -b:v 500k -deadline realtime -cpu-used 8 -c:a libopus -f webm",
            "webm",
        )
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_9_mid_transcode_then_a_forced_delete_leaves_no_orphan_blob() {
    let dir = tempfile::tempdir().unwrap();
    let (data_dir, config) = setup(dir.path());
    let mut first =
        ChildServer::start(&data_dir, Some(&config), dir.path().join("serve-1.log")).await;
    let c = Client::connect(&first.base, PROJECT, AK, SK);
    let asset = c
        .create_asset(&json!({"asset_name": "long", "asset_type": "VIDEO"}))
        .await;
    c.upload(&asset, "long.webm", "MAIN", &long_webm()).await;
    // The thumbnail is stored before transcoding starts, and recorded only at the end.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let shown = c.show(&asset).await;
        if shown["asset_extra_meta"]["video_meta"]["video_transcoding_status"] == "TRANSCODING" {
            break;
        }
        assert!(
            shown["asset_state"] == "CREATING" && Instant::now() < deadline,
            "transcoding never started: {shown}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    first.kill_9();
    let store = store_for(&data_dir).await;
    let catalog = catalog_of(&data_dir).await;
    let stored = objects(&store, "content").await;
    let recorded = catalog.storage_usage().await.unwrap().blobs as usize;
    assert!(
        stored.len() > recorded,
        "the killed job left bytes no record refers to: {stored:?}, {recorded} recorded"
    );

    let second = ChildServer::start(&data_dir, Some(&config), dir.path().join("serve-2.log")).await;
    let c = Client::connect(&second.base, PROJECT, AK, SK);
    c.delete(&format!("/digital-assets/{asset}?mode=force"))
        .await
        .ok();
    settled(catalog.as_ref(), &second).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    settled(catalog.as_ref(), &second).await;
    assert_eq!(c.show(&asset).await["asset_state"], "DELETED");
    assert_eq!(objects(&store, "content").await, Vec::<String>::new());
    assert_consistent(&data_dir, catalog.as_ref()).await;
}
