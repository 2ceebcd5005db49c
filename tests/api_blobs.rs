//! Where bytes live, through the HTTP API: identical content is stored once and counted per
//! file, bytes go only with their last reference (also when a purge races a new upload of the
//! same content), and damaged bytes are found and never served.

mod common;

use std::time::Duration;

use futures::StreamExt;

use assetd::blobs::{BlobKey, Expect, NoLog};
use common::{md5_b64, Client, TestServer};
use serde_json::{json, Value};

/// `len` bytes that differ for every `seed`.
fn content(seed: u32, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

async fn common_file(c: &Client, name: &str) -> String {
    c.create_asset(&json!({"asset_name": name, "asset_type": "COMMON_FILE"}))
        .await
}

/// An asset whose MAIN file is `data`, once ACTIVED; returns (asset id, file id).
async fn stored_asset(server: &TestServer, c: &Client, data: &[u8]) -> (String, String) {
    let asset = common_file(c, "bytes").await;
    let file = c.upload(&asset, "data.bin", "MAIN", data).await;
    wait_state(server, c, &asset, "ACTIVED").await;
    (asset, file)
}

async fn wait_state(server: &TestServer, c: &Client, asset: &str, state: &str) {
    server
        .eventually(&format!("asset {asset} to be {state}"), 60, || async {
            c.show(asset).await["asset_state"] == state
        })
        .await;
}

async fn download_url(c: &Client, asset: &str, file: &str) -> String {
    let shown = c.show(asset).await;
    shown["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["file_id"] == file)
        .and_then(|f| f["download_url"].as_str())
        .unwrap_or_else(|| panic!("a download URL for {file} in {shown}"))
        .to_owned()
}

async fn usage(admin: &Client) -> Value {
    admin.get("/admin/storage").await.ok().clone()
}

/// Waits until the blob store holds exactly what LIVE blob records account for, and every
/// one of those is referred to by a file: nothing leaked, nothing dangling.
async fn assert_settled(server: &TestServer) {
    server.jobs_idle().await;
    server
        .eventually("the blob store to settle", 60, || async {
            server.stray_objects().await.is_empty()
        })
        .await;
    let usage = server.app.catalog.storage_usage().await.unwrap();
    assert_eq!(
        server.objects("content").await.len() as u64,
        usage.blobs,
        "every stored object is one LIVE blob"
    );
    assert!(
        server
            .app
            .catalog
            .release_unreferenced_blobs(100)
            .await
            .unwrap()
            .is_empty(),
        "no LIVE blob without a file"
    );
}

#[tokio::test]
async fn duplicate_uploads_occupy_the_space_of_one_until_the_last_reference_goes() {
    let server = TestServer::spawn().await;
    let admin = server.new_client(true).await;
    let other_project = server.new_client(false).await;
    let shared = content(1, 300_000);
    let unique = content(2, 100_000);

    let mut holders = Vec::new();
    for c in [&server.client, &server.client, &other_project] {
        holders.push(stored_asset(&server, c, &shared).await);
    }
    stored_asset(&server, &server.client, &unique).await;
    // Processing makes no derived files for COMMON_FILE assets: these are all the files.
    let before = usage(&admin).await;
    assert_eq!(before["stored_blobs"], 2, "{before}");
    assert_eq!(before["stored_bytes"], 400_000, "{before}");
    assert_eq!(before["logical_files"], 4, "{before}");
    assert_eq!(before["logical_bytes"], 1_000_000, "{before}");
    assert_eq!(before["saved_bytes"], 600_000, "{before}");
    assert_eq!(server.objects("content").await.len(), 2);

    let key = server.blob_key(&holders[0].1).await.unwrap();
    for (asset, file) in &holders {
        assert_eq!(server.blob_key(file).await.as_deref(), Some(key.as_str()));
        let owner = if holders[2].0 == *asset {
            &other_project
        } else {
            &server.client
        };
        let got = owner
            .fetch(&download_url(owner, asset, file).await, None)
            .await;
        assert!(
            got.status == 200 && got.bytes == shared,
            "{file} downloads intact"
        );
    }

    // Deleting the files one by one: the bytes stay while any file refers to them.
    server
        .client
        .delete(&format!("/files/{}", holders[0].1))
        .await
        .ok();
    server
        .client
        .delete(&format!("/digital-assets/{}?mode=force", holders[1].0))
        .await
        .ok();
    server.jobs_idle().await;
    assert!(server.objects("content").await.contains(&key));
    let (asset, file) = &holders[2];
    let got = other_project
        .fetch(&download_url(&other_project, asset, file).await, None)
        .await;
    assert!(got.status == 200 && got.bytes == shared);
    assert_eq!(usage(&admin).await["logical_files"], 2);

    other_project.delete(&format!("/files/{file}")).await.ok();
    server
        .eventually("the last reference to take the bytes", 30, || async {
            !server.objects("content").await.contains(&key)
        })
        .await;
    let after = usage(&admin).await;
    assert_eq!(after["stored_blobs"], 1, "{after}");
    assert_eq!(after["stored_bytes"], 100_000, "{after}");
    assert_settled(&server).await;
}

#[tokio::test]
async fn concurrent_uploads_of_the_same_content_store_it_once() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let data = content(3, 2 * 1024 * 1024 + 17);
    let mut tasks = Vec::new();
    for i in 0..8 {
        let c = c.clone();
        let data = data.clone();
        tasks.push(tokio::spawn(async move {
            let asset = c
                .create_asset(
                    &json!({"asset_name": format!("same {i}"), "asset_type": "COMMON_FILE"}),
                )
                .await;
            let file = c.upload(&asset, "same.bin", "MAIN", &data).await;
            (asset, file)
        }));
    }
    let mut files = Vec::new();
    for task in tasks {
        files.push(task.await.unwrap());
    }
    for (asset, _) in &files {
        wait_state(&server, c, asset, "ACTIVED").await;
    }
    assert_settled(&server).await;
    assert_eq!(server.objects("content").await.len(), 1, "stored once");
    let key = server.blob_key(&files[0].1).await.unwrap();
    for (asset, file) in &files {
        assert_eq!(server.blob_key(file).await.as_deref(), Some(key.as_str()));
        let got = c.fetch(&download_url(c, asset, file).await, None).await;
        assert!(got.bytes == data);
    }
}

#[tokio::test]
async fn a_purge_racing_a_new_upload_of_the_same_content_loses_nothing() {
    let server = TestServer::spawn_with(|c| c.recycle_retention_secs = 0).await;
    let c = &server.client;
    let data = content(4, 50_000);
    let mut survivors = Vec::new();
    for round in 0..6 {
        let (doomed, _) = stored_asset(&server, c, &data).await;
        // The purge of the only holder and a new upload of the same bytes, at once.
        let purge = {
            let c = c.clone();
            tokio::spawn(async move {
                c.delete(&format!("/digital-assets/{doomed}?mode=force"))
                    .await
                    .ok();
            })
        };
        let upload = {
            let c = c.clone();
            let data = data.clone();
            tokio::spawn(async move {
                let asset = c
                    .create_asset(&json!({"asset_name": format!("survivor {round}"), "asset_type": "COMMON_FILE"}))
                    .await;
                let file = c.upload(&asset, "data.bin", "MAIN", &data).await;
                (asset, file)
            })
        };
        purge.await.unwrap();
        survivors.push(upload.await.unwrap());
    }
    for (asset, file) in &survivors {
        wait_state(&server, c, asset, "ACTIVED").await;
        server.jobs_idle().await;
        let got = c.fetch(&download_url(c, asset, file).await, None).await;
        assert!(
            got.status == 200 && got.bytes == data,
            "{file} survived intact"
        );
    }
    assert_settled(&server).await;
    assert_eq!(server.objects("content").await.len(), 1);
}

/// Overwrites the object behind `file` with `bytes`, behind the catalogue's back.
async fn tamper(server: &TestServer, file: &str, bytes: &[u8]) {
    let key = BlobKey::parse(&server.blob_key(file).await.unwrap()).unwrap();
    let body = futures::stream::iter([Ok::<_, std::io::Error>(bytes::Bytes::copy_from_slice(
        bytes,
    ))]);
    server
        .app
        .storage
        .blobs()
        .write(&key, body, Expect::default(), &NoLog)
        .await
        .unwrap();
}

fn flipped(data: &[u8], at: usize) -> Vec<u8> {
    let mut bad = data.to_vec();
    bad[at] ^= 0x01;
    bad
}

#[tokio::test]
async fn a_flipped_byte_is_found_by_the_scrubber_and_never_served() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let admin = server.new_client(true).await;
    let data = content(5, 3 * 1024 * 1024);
    let (asset, file) = stored_asset(&server, c, &data).await;
    let (good_asset, good_file) = stored_asset(&server, c, &content(6, 1000)).await;
    let url = download_url(c, &asset, &file).await;

    let clean = server
        .app
        .storage
        .scrub(time::OffsetDateTime::now_utc(), 0, None)
        .await
        .unwrap();
    assert_eq!((clean.blobs, clean.damaged.len()), (2, 0), "{clean:?}");
    assert_eq!(admin.get("/admin/scrub").await.ok()["count"], 0);

    tamper(&server, &file, &flipped(&data, 1_234_567)).await;
    let found = server
        .app
        .storage
        .scrub(time::OffsetDateTime::now_utc(), 0, None)
        .await
        .unwrap();
    assert_eq!(found.blobs, 2);
    assert_eq!(found.damaged.len(), 1, "{found:?}");
    assert!(found.damaged[0].1.starts_with("corrupt"), "{found:?}");

    let reply = c.fetch(&url, None).await;
    reply.expect_error(500, "MSS.10001011");
    assert!(reply.msg().contains("integrity"), "{}", reply.msg());
    c.fetch(&url, Some("bytes=0-9"))
        .await
        .expect_error(500, "MSS.10001011");
    let report = admin.get("/admin/scrub").await.ok().clone();
    assert_eq!(report["count"], 1, "{report}");
    assert_eq!(damaged_metric(&server).await, 1.0);
    assert_eq!(report["damaged_files"][0]["file_id"], file.as_str());
    assert_eq!(report["damaged_files"][0]["asset_id"], asset.as_str());
    assert!(report["damaged_files"][0]["damage"]
        .as_str()
        .unwrap()
        .starts_with("corrupt"));
    let got = c
        .fetch(&download_url(c, &good_asset, &good_file).await, None)
        .await;
    assert_eq!(got.status, 200, "other files are served");

    // Nothing is deleted, and putting the right bytes back clears the mark.
    assert!(server.stored(&file).await.is_some());
    tamper(&server, &file, &data).await;
    let again = server
        .app
        .storage
        .scrub(time::OffsetDateTime::now_utc(), 0, None)
        .await
        .unwrap();
    assert!(again.damaged.is_empty());
    let got = c.fetch(&url, None).await;
    assert!(got.status == 200 && got.bytes == data);
    assert_eq!(admin.get("/admin/scrub").await.ok()["count"], 0);
    assert_eq!(damaged_metric(&server).await, 0.0);
}

/// The `assetd_damaged_files` gauge as `/metrics` reports it.
async fn damaged_metric(server: &TestServer) -> f64 {
    let text = server
        .client
        .http()
        .get(format!("{}/metrics", server.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("assetd_damaged_files "))
        .unwrap_or_else(|| panic!("no assetd_damaged_files in {text}"))
        .trim()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn a_download_that_finds_damage_breaks_off_instead_of_serving_it() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let admin = server.new_client(true).await;
    let data = content(7, 2 * 1024 * 1024);
    let (asset, file) = stored_asset(&server, c, &data).await;
    let url = download_url(c, &asset, &file).await;
    tamper(&server, &file, &flipped(&data, data.len() - 3)).await;

    // The scrubber has not run: the download itself notices, and does not complete.
    let response = c.http().get(&url).send().await.unwrap();
    assert_eq!(
        response.status(),
        200,
        "the headers went out before the end"
    );
    let body = response.bytes().await;
    assert!(
        body.as_ref().map_or(true, |b| b.as_ref() != data.as_slice()
            && b.len() < data.len()),
        "the damaged bytes must not arrive whole"
    );
    server
        .eventually("the damage to be recorded", 30, || async {
            admin.get("/admin/scrub").await.ok()["count"] == 1
        })
        .await;
    c.fetch(&url, None).await.expect_error(500, "MSS.10001011");
}

#[tokio::test]
async fn re_uploading_damaged_content_repairs_every_file_on_it() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let data = content(8, 200_000);
    let (asset, file) = stored_asset(&server, c, &data).await;
    let old_key = server.blob_key(&file).await.unwrap();
    tamper(&server, &file, &content(9, 200_000)).await;
    server
        .app
        .storage
        .scrub(time::OffsetDateTime::now_utc(), 0, None)
        .await
        .unwrap();
    c.fetch(&download_url(c, &asset, &file).await, None)
        .await
        .expect_error(500, "MSS.10001011");

    let (again_asset, again_file) = stored_asset(&server, c, &data).await;
    let new_key = server.blob_key(&again_file).await.unwrap();
    assert_ne!(new_key, old_key, "the damaged copy is not reused");
    assert_eq!(server.blob_key(&file).await, Some(new_key.clone()));
    for (asset, file) in [(&asset, &file), (&again_asset, &again_file)] {
        let got = c.fetch(&download_url(c, asset, file).await, None).await;
        assert!(got.status == 200 && got.bytes == data, "{file} repaired");
    }
    assert_settled(&server).await;
    assert_eq!(server.objects("content").await, vec![new_key]);
}

#[tokio::test]
async fn storage_and_scrub_reports_are_for_admins_only() {
    let server = TestServer::spawn().await;
    for path in ["/admin/storage", "/admin/scrub"] {
        server
            .client
            .get(path)
            .await
            .expect_error(403, "MSS.00000006");
    }
}

#[tokio::test]
async fn an_interrupted_upload_leaves_nothing_once_its_write_is_dropped() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let asset = common_file(c, "interrupted").await;
    let data = content(10, 20 * 1024 * 1024);
    let (file, url) = c.create_file(&asset, "big.bin", "MAIN", &data).await;
    // The client goes away after a part of the body.
    let partial = data[..12 * 1024 * 1024].to_vec();
    let stream = futures::stream::iter(
        partial
            .chunks(1024 * 1024)
            .map(|c| Ok::<_, std::io::Error>(bytes::Bytes::copy_from_slice(c)))
            .collect::<Vec<_>>(),
    )
    .chain(futures::stream::once(async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        Err(std::io::Error::other("client gone"))
    }));
    let put = c
        .http()
        .put(&url)
        .header("content-md5", md5_b64(&data))
        .header("content-length", data.len())
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await;
    assert!(put.map_or(true, |r| r.status() != 200));
    server
        .eventually("the interrupted write to be cleaned up", 30, || async {
            server.stray_objects().await.is_empty()
                && server
                    .app
                    .catalog
                    .expired_blob_writes(
                        time::OffsetDateTime::now_utc() + time::Duration::hours(1),
                        10,
                    )
                    .await
                    .unwrap()
                    .is_empty()
        })
        .await;
    assert_eq!(server.blob_key(&file).await, None);
    assert!(server.objects("content").await.is_empty());
    // And the upload can simply be done again.
    c.put_upload(&url, &data, Some(&md5_b64(&data))).await.ok();
    c.confirm(&file, "CREATED").await.ok();
    wait_state(&server, c, &asset, "ACTIVED").await;
    assert_eq!(server.stored(&file).await.unwrap(), data);
}
