//! Crash safety of uploads: the real `assetd` binary is SIGKILLed in the middle of a PUT and
//! restarted on the same data directory. What was confirmed survives byte for byte; the
//! interrupted upload leaves no visible partial file and can simply be retried.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::child::{assetd_on, objects, store_for, ChildServer};
use common::{md5_b64, png, Client, Reply};
use serde_json::json;

const PROJECT: &str = "crash-project";
const AK: &str = "CRASHTESTACCESSKEY01";
const SK: &str = "crash-test-secret-key-0123456789";

/// An ISO-BMFF file of `len` bytes (`ftyp` then an `mdat` of varied filler).
fn mp4(len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(&24u32.to_be_bytes());
    out.extend_from_slice(b"ftypisom\x00\x00\x02\x00isommp41");
    let rest = len - out.len();
    out.extend_from_slice(&(rest as u32).to_be_bytes());
    out.extend_from_slice(b"mdat");
    out.extend((0..rest - 8).map(|i| (i * 31 % 251) as u8));
    out
}

async fn file_state(c: &Client, asset_id: &str, file_id: &str) -> serde_json::Value {
    let shown = c.show(asset_id).await;
    shown["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["file_id"] == file_id)
        .cloned()
        .unwrap_or_else(|| panic!("file {file_id} in {shown}"))
}

/// Polls until the asset is ACTIVED (processing may follow the confirmation); bounded.
async fn wait_actived(c: &Client, asset_id: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let shown = c.show(asset_id).await;
        if shown["asset_state"] == "ACTIVED" {
            return;
        }
        assert!(
            shown["asset_state"] == "CREATING" && Instant::now() < deadline,
            "asset {asset_id} should become ACTIVED: {shown}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_9_mid_upload_loses_nothing_confirmed_and_leaves_no_partial_file() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let created = assetd_on(&data_dir)
        .args(["credentials", "create", "--project-id", PROJECT])
        .args(["--access-key", AK, "--secret-key", SK])
        .output()
        .unwrap();
    assert!(created.status.success(), "{created:?}");

    let mut first_run = ChildServer::start(&data_dir, None, data_dir.join("serve-1.log")).await;
    let c = Client::connect(&first_run.base, PROJECT, AK, SK);

    // One file uploaded and confirmed before the crash. The assets are COMMON_FILE: this test
    // is about bytes surviving a crash, and processing (which would add derived files and
    // reject the unplayable MP4 below) has tests of its own in api_media.
    let kept = png(64, 48);
    let kept_asset = c
        .create_asset(&json!({"asset_name": "kept", "asset_type": "COMMON_FILE"}))
        .await;
    let kept_file = c.upload(&kept_asset, "kept.png", "MAIN", &kept).await;
    wait_actived(&c, &kept_asset).await;

    // A second, large upload that streams slowly.
    let big = Bytes::from(mp4(20 * 1024 * 1024 + 321));
    let big_asset = c
        .create_asset(&json!({"asset_name": "interrupted", "asset_type": "COMMON_FILE"}))
        .await;
    let (big_file, upload_url) = c.create_file(&big_asset, "big.mp4", "MAIN", &big).await;
    let sent = Arc::new(AtomicUsize::new(0));
    let stream = {
        let (big, sent) = (big.clone(), sent.clone());
        futures::stream::unfold(0usize, move |offset| {
            let (big, sent) = (big.clone(), sent.clone());
            async move {
                if offset >= big.len() {
                    return None;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
                let end = (offset + 256 * 1024).min(big.len());
                sent.store(end, Ordering::SeqCst);
                Some((Ok::<_, std::io::Error>(big.slice(offset..end)), end))
            }
        })
    };
    let put = c
        .http()
        .put(&upload_url)
        .header("content-md5", md5_b64(&big))
        .header("content-length", big.len())
        .header("content-type", "application/octet-stream")
        .body(reqwest::Body::wrap_stream(stream))
        .send();
    let put = tokio::spawn(put);

    // Kill once well past the first 8 MiB part, with the rest still to come.
    let deadline = Instant::now() + Duration::from_secs(60);
    while sent.load(Ordering::SeqCst) < 12 * 1024 * 1024 {
        assert!(Instant::now() < deadline, "the upload never got going");
        assert!(
            !put.is_finished(),
            "the upload ended early: {:?}",
            put.await
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    first_run.kill_9();
    let outcome = put.await.unwrap();
    assert!(
        outcome.as_ref().map_or(true, |r| r.status() != 200),
        "the interrupted PUT must not succeed: {outcome:?}"
    );
    assert!(sent.load(Ordering::SeqCst) < big.len(), "killed mid-stream");

    // In the store, right after the crash: only the confirmed blob is visible. What the
    // killed write left (a local staging file, an S3 multipart upload) is recorded as a
    // write in progress, which the reconciliation sweep removes once its lease runs out.
    let store = store_for(&data_dir).await;
    let stored = objects(&store, "content").await;
    assert_eq!(stored.len(), 1, "only the confirmed blob: {stored:?}");
    assert!(objects(&store, "parts").await.is_empty());
    // Restart on the same data directory.
    let second_run = ChildServer::start(&data_dir, None, data_dir.join("serve-2.log")).await;
    let c = Client::connect(&second_run.base, PROJECT, AK, SK);

    let shown = c.show(&kept_asset).await;
    assert_eq!(shown["asset_state"], "ACTIVED");
    let file = file_state(&c, &kept_asset, &kept_file).await;
    assert_eq!(file["state"], "CREATED");
    assert_eq!(file["file_md5"], md5_b64(&kept));
    let got = c.fetch(file["download_url"].as_str().unwrap(), None).await;
    assert_eq!(got.status, 200);
    assert!(
        got.bytes == kept,
        "the confirmed file must download byte-identical"
    );

    assert_eq!(c.show(&big_asset).await["asset_state"], "CREATING");
    let file = file_state(&c, &big_asset, &big_file).await;
    assert_eq!(file["state"], "CREATING");
    assert!(file.get("download_url").is_none());
    assert_eq!(objects(&store, "content").await, stored);

    // The same upload URL (now at the new address) resumes: nothing stored, then a retry.
    let retry_url = upload_url.replacen(&first_run.base, &second_run.base, 1);
    assert_ne!(retry_url, upload_url);
    let head = Reply::read(c.http().head(&retry_url).send().await.unwrap()).await;
    assert_eq!(head.status, 404, "no part of the interrupted upload counts");
    let retried = c.put_upload(&retry_url, &big, Some(&md5_b64(&big))).await;
    assert_eq!(retried.status, 200, "{}", retried.json);
    c.confirm(&big_file, "CREATED").await.ok();
    wait_actived(&c, &big_asset).await;
    let file = file_state(&c, &big_asset, &big_file).await;
    let got = c.fetch(file["download_url"].as_str().unwrap(), None).await;
    assert!(
        got.bytes == big,
        "the retried upload downloads byte-identical"
    );
    drop(second_run);
}
