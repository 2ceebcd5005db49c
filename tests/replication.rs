//! Replication between libraries: two assetd servers on loopback sharing a key, driven through
//! the official Python SDK; tampered, expired, unknown-key and unfetchable info creates
//! nothing; another project of the same library gets its own copy.

mod common;

use std::time::{Duration, Instant};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use assetd::config::ReplicationKeyList;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use common::{md5_b64, png, sdk_python, Client, TestServer};
use serde_json::{json, Value};

const KEY_ID: &str = "shared";
/// 32 bytes, the key both test libraries hold.
const KEY: [u8; 32] = *b"0123456789abcdef0123456789abcdef";

fn keys(list: &[(&str, [u8; 32])]) -> ReplicationKeyList {
    let line: Vec<String> = list
        .iter()
        .map(|(id, key)| format!("{id}={}", B64.encode(key)))
        .collect();
    ReplicationKeyList::parse(&line.join(",")).unwrap()
}

/// A library holding the shared key (and, first, one of its own when `own` is given).
async fn library(tweak: impl FnOnce(&mut assetd::config::Config)) -> TestServer {
    TestServer::spawn_with(|c| {
        c.replication_keys = keys(&[(KEY_ID, KEY)]);
        tweak(c);
    })
    .await
}

/// Polls until the asset leaves CREATING; bounded.
async fn settled(c: &Client, asset_id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let shown = c.show(asset_id).await;
        if shown["asset_state"] != "CREATING" {
            return shown;
        }
        assert!(Instant::now() < deadline, "still CREATING: {shown}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// An ACTIVED image asset with a thumbnail, on `c`'s library.
async fn image_asset(c: &Client) -> (String, Vec<u8>) {
    let asset_id = c
        .create_asset(&json!({
            "asset_name": "sunrise", "asset_type": "IMAGE",
            "asset_description": "a test picture", "tags": ["sky", "morning"],
        }))
        .await;
    let data = png(64, 48);
    c.upload(&asset_id, "sunrise.png", "MAIN", &data).await;
    let shown = settled(c, &asset_id).await;
    assert_eq!(shown["asset_state"], "ACTIVED", "{shown}");
    (asset_id, data)
}

/// The `thumbnail_url` of `asset_id`'s summary on `c`'s library.
async fn thumbnail_url(c: &Client, asset_id: &str) -> String {
    let summaries = c
        .post(
            "/digital-assets/summarys",
            &json!({"asset_ids": [asset_id]}),
        )
        .await;
    let url = &summaries.ok()["asset_list"][0]["thumbnail_url"];
    url.as_str()
        .unwrap_or_else(|| panic!("no thumbnail: {summaries:?}"))
        .to_owned()
}

fn files_by_name(asset: &Value) -> Vec<(String, String, String)> {
    let mut files: Vec<(String, String, String)> = asset["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["file_name"].as_str().unwrap().to_owned(),
                f["file_md5"].as_str().unwrap().to_owned(),
                f["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    files.sort();
    files
}

/// The official SDK: `show_asset_replication_info` on the source library, then
/// `create_asset_by_replication_info` (twice) on the target with the object it returned.
const SDK_SCRIPT: &str = r#"
import json, sys
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkmetastudio.v1 import *
src_url, src_project, src_ak, src_sk, dst_url, dst_project, dst_ak, dst_sk, asset_id = sys.argv[1:10]
def client(url, project, ak, sk):
    return (MetaStudioClient.new_builder()
            .with_credentials(BasicCredentials(ak, sk, project))
            .with_endpoint(url).build())
src = client(src_url, src_project, src_ak, src_sk)
dst = client(dst_url, dst_project, dst_ak, dst_sk)
info = src.show_asset_replication_info(ShowAssetReplicationInfoRequest(asset_id=asset_id))
body = ReplicationAssetInfo(asset_id=info.asset_id, asset_info=info.asset_info,
                            encryption_info=info.encryption_info, expire_time=info.expire_time)
first = dst.create_asset_by_replication_info(CreateAssetByReplicationInfoRequest(body=body))
again = dst.create_asset_by_replication_info(CreateAssetByReplicationInfoRequest(body=body))
print(json.dumps({
    "asset_id": info.asset_id,
    "algorithm": info.encryption_info.algorithm,
    "key_id": info.encryption_info.key_id,
    "iv": info.encryption_info.iv,
    "expire_time": info.expire_time,
    "first": {"status": first.status_code, "request_id": first.x_request_id,
              "raw": first.raw_content.decode()},
    "again": {"status": again.status_code, "raw": again.raw_content.decode()},
}))
"#;

#[tokio::test]
async fn an_image_replicates_through_the_official_sdk_with_its_thumbnail_and_without_reprocessing()
{
    let source = library(|_| {}).await;
    // The target could not process this image itself: any decode of it fails there. The
    // replica still becomes ACTIVED, because its thumbnail came along.
    let target = library(|c| c.max_image_pixels = 1).await;
    let (asset_id, data) = image_asset(&source.client).await;
    let original = source.client.show(&asset_id).await;

    let src = &source.client;
    let dst = &target.client;
    let out = tokio::process::Command::new(sdk_python())
        .args(["-c", SDK_SCRIPT])
        .args([&src.base, &src.project, &src.ak, &src.sk])
        .args([&dst.base, &dst.project, &dst.ak, &dst.sk, &asset_id])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sdk: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(sdk["asset_id"], asset_id.as_str());
    assert_eq!(sdk["algorithm"], "AES-256-GCM");
    assert_eq!(sdk["key_id"], KEY_ID);
    assert_eq!(B64.decode(sdk["iv"].as_str().unwrap()).unwrap().len(), 12);
    assert!(
        sdk["expire_time"].as_i64().unwrap() > time::OffsetDateTime::now_utc().unix_timestamp()
    );
    assert_eq!(sdk["first"]["status"], 200);
    assert_eq!(sdk["first"]["request_id"].as_str().unwrap().len(), 32);
    // Another library: the replica keeps the asset's id; asking again changes nothing.
    let first: Value = serde_json::from_str(sdk["first"]["raw"].as_str().unwrap()).unwrap();
    let again: Value = serde_json::from_str(sdk["again"]["raw"].as_str().unwrap()).unwrap();
    assert_eq!(first["asset_id"], asset_id.as_str());
    assert_eq!(again, first);

    let replica = settled(dst, &asset_id).await;
    assert_eq!(replica["asset_state"], "ACTIVED", "{replica}");
    assert_eq!(replica["project_id"], dst.project.as_str());
    for field in [
        "asset_name",
        "asset_description",
        "asset_type",
        "tags",
        "asset_extra_meta",
    ] {
        assert_eq!(replica[field], original[field], "{field}");
    }
    assert_eq!(files_by_name(&replica), files_by_name(&original));
    // The thumbnail (a summary's `thumbnail_url`) came along byte for byte.
    let made_here = dst
        .fetch(&thumbnail_url(dst, &asset_id).await, None)
        .await
        .bytes;
    let made_there = src
        .fetch(&thumbnail_url(src, &asset_id).await, None)
        .await
        .bytes;
    assert!(!made_here.is_empty());
    assert_eq!(made_here, made_there);
    let main = replica["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["asset_file_category"] == "MAIN")
        .unwrap();
    let fetched = dst
        .fetch(main["download_url"].as_str().unwrap(), None)
        .await;
    assert_eq!(fetched.bytes, data);
    assert_eq!(md5_b64(&fetched.bytes), main["file_md5"].as_str().unwrap());
    let listed = dst.get("/digital-assets?limit=10").await;
    assert_eq!(listed.ok()["count"], 1);
    source.assert_jobs_settled().await;
    target.assert_jobs_settled().await;
}

/// Raw replication info from `c`'s library.
async fn info_of(c: &Client, asset_id: &str) -> Value {
    c.get(&format!("/digital-assets/{asset_id}/replication-info"))
        .await
        .ok()
        .clone()
}

/// Opens `info` with the shared key, lets `edit` change the manifest and envelope, and seals
/// it again: what a key holder could make.
fn reseal(info: &Value, edit: impl FnOnce(&mut Value, &mut Value)) -> Value {
    let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&KEY));
    let enc = &info["encryption_info"];
    let aad = |info: &Value| {
        format!(
            "assetd replication v1\n{}\n{}\n{}",
            info["asset_id"].as_str().unwrap(),
            info["encryption_info"]["key_id"].as_str().unwrap(),
            info["expire_time"]
        )
    };
    let iv = B64.decode(enc["iv"].as_str().unwrap()).unwrap();
    let sealed = B64.decode(info["asset_info"].as_str().unwrap()).unwrap();
    let plain = cipher
        .decrypt(
            Nonce::from_slice(&iv),
            Payload {
                msg: &sealed,
                aad: aad(info).as_bytes(),
            },
        )
        .unwrap();
    let mut manifest: Value = serde_json::from_slice(&plain).unwrap();
    let mut out = info.clone();
    edit(&mut manifest, &mut out);
    let plain = serde_json::to_vec(&manifest).unwrap();
    let sealed = cipher
        .encrypt(
            Nonce::from_slice(&iv),
            Payload {
                msg: &plain,
                aad: aad(&out).as_bytes(),
            },
        )
        .unwrap();
    out["asset_info"] = json!(B64.encode(sealed));
    out
}

/// Files under the blob store of `server` (temporary ones included).
fn stored_blobs(server: &TestServer) -> Vec<String> {
    fn walk(dir: &std::path::Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else {
                out.push(path.display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(&server.data_dir().join("blobs"), &mut out);
    out
}

#[tokio::test]
async fn tampered_expired_unknown_key_or_unfetchable_info_creates_nothing() {
    let source = library(|_| {}).await;
    let target = TestServer::spawn_with(|c| {
        c.replication_keys = keys(&[("other", [7; 32]), (KEY_ID, KEY)]);
    })
    .await;
    let (asset_id, _) = image_asset(&source.client).await;
    let info = info_of(&source.client, &asset_id).await;
    let dst = &target.client;
    let create =
        |body: Value| async move { dst.post("/digital-assets-by-replication-info", &body).await };

    // One flipped bit of the ciphertext.
    let mut sealed = B64.decode(info["asset_info"].as_str().unwrap()).unwrap();
    sealed[10] ^= 1;
    let mut tampered = info.clone();
    tampered["asset_info"] = json!(B64.encode(&sealed));
    create(tampered).await.expect_error(400, "MSS.10001014");
    // The envelope is bound to the ciphertext: a later expiry is a tampering too.
    let mut extended = info.clone();
    extended["expire_time"] = json!(info["expire_time"].as_i64().unwrap() + 3600);
    create(extended).await.expect_error(400, "MSS.10001014");
    let mut renamed = info.clone();
    renamed["asset_id"] = json!("another-asset");
    create(renamed).await.expect_error(400, "MSS.10001014");
    // A key this library does not hold.
    let mut unknown = info.clone();
    unknown["encryption_info"]["key_id"] = json!("nobody");
    let msg = create(unknown)
        .await
        .expect_error(400, "MSS.10001013")
        .to_owned();
    assert!(msg.contains("nobody"), "{msg}");
    // Expired, though sealed correctly with the shared key.
    let past = time::OffsetDateTime::now_utc().unix_timestamp() - 60;
    let expired = reseal(&info, |manifest, envelope| {
        manifest["expire_time"] = json!(past);
        envelope["expire_time"] = json!(past);
    });
    create(expired).await.expect_error(400, "MSS.10001015");
    // Sealed correctly, but pointing somewhere else than the source's downloads.
    let elsewhere = reseal(&info, |manifest, _| {
        manifest["files"][0]["url"] = json!("http://127.0.0.1:9/steal");
    });
    create(elsewhere).await.expect_error(400, "MSS.00000003");
    // Missing fields.
    create(json!({"asset_id": asset_id}))
        .await
        .expect_error(400, "MSS.00000003");

    // Valid info whose files went away at the source: nothing is created, no byte is kept.
    source
        .client
        .delete(&format!("/digital-assets/{asset_id}?mode=force"))
        .await
        .ok();
    let msg = create(info)
        .await
        .expect_error(400, "MSS.10001016")
        .to_owned();
    assert!(msg.contains("403"), "{msg}");

    assert_eq!(
        dst.get("/digital-assets?limit=10").await.ok()["count"],
        0,
        "nothing may be created"
    );
    assert!(dst.get(&format!("/digital-assets/{asset_id}")).await.status == 404);
    assert_eq!(stored_blobs(&target), Vec::<String>::new());
    target.assert_jobs_settled().await;
}

#[tokio::test]
async fn another_project_of_the_same_library_gets_its_own_copy_once() {
    let server = library(|_| {}).await;
    let (asset_id, data) = image_asset(&server.client).await;
    let info = info_of(&server.client, &asset_id).await;
    let other = server.new_client(false).await;
    let first = other
        .post("/digital-assets-by-replication-info", &info)
        .await
        .ok()["asset_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(first, asset_id, "the source keeps its id in this library");
    let again = other
        .post("/digital-assets-by-replication-info", &info)
        .await;
    assert_eq!(again.ok()["asset_id"], first.as_str());
    let replica = settled(&other, &first).await;
    assert_eq!(replica["asset_state"], "ACTIVED", "{replica}");
    assert_eq!(
        files_by_name(&replica),
        files_by_name(&server.client.show(&asset_id).await)
    );
    // Deleting the copy leaves the original whole.
    other
        .delete(&format!("/digital-assets/{first}?mode=force"))
        .await
        .ok();
    let original = server.client.show(&asset_id).await;
    let main = original["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["asset_file_category"] == "MAIN")
        .unwrap()
        .clone();
    let fetched = server
        .client
        .fetch(main["download_url"].as_str().unwrap(), None)
        .await;
    assert_eq!(fetched.bytes, data);
    // Into the source's own project, it is already there.
    let same = server
        .client
        .post("/digital-assets-by-replication-info", &info)
        .await;
    assert_eq!(same.ok()["asset_id"], asset_id.as_str());
    server.assert_jobs_settled().await;
}

#[tokio::test]
async fn replication_needs_a_key_and_a_finished_asset() {
    let keyless = TestServer::spawn().await;
    let c = &keyless.client;
    let id = c
        .create_asset(&json!({"asset_name": "x", "asset_type": "IMAGE"}))
        .await;
    let msg = c
        .get(&format!("/digital-assets/{id}/replication-info"))
        .await
        .expect_error(400, "MSS.00000003")
        .to_owned();
    assert!(msg.contains("replication_keys"), "{msg}");

    let keyed = library(|_| {}).await;
    let c = &keyed.client;
    let id = c
        .create_asset(&json!({"asset_name": "x", "asset_type": "IMAGE"}))
        .await;
    let msg = c
        .get(&format!("/digital-assets/{id}/replication-info"))
        .await
        .expect_error(400, "MSS.00000003")
        .to_owned();
    assert!(msg.contains("CREATING"), "{msg}");
    let stranger = keyed.new_client(false).await;
    stranger
        .get(&format!("/digital-assets/{id}/replication-info"))
        .await
        .expect_error(404, "MSS.10001001");
}

#[tokio::test]
async fn a_replica_counts_against_the_target_quota() {
    let source = library(|_| {}).await;
    let target = library(|_| {}).await;
    let (asset_id, data) = image_asset(&source.client).await;
    let info = info_of(&source.client, &asset_id).await;
    let admin = target.new_client(true).await;
    let dst = &target.client;
    admin
        .put(
            &format!("/admin/projects/{}/quota", dst.project),
            &json!({"max_bytes": data.len() - 1}),
        )
        .await
        .ok();
    dst.post("/digital-assets-by-replication-info", &info)
        .await
        .expect_error(403, "MSS.10001012");
    assert_eq!(stored_blobs(&target), Vec::<String>::new());
    admin
        .put(
            &format!("/admin/projects/{}/quota", dst.project),
            &json!({"max_bytes": data.len()}),
        )
        .await
        .ok();
    dst.post("/digital-assets-by-replication-info", &info)
        .await
        .ok();
    let quota = admin
        .get(&format!("/admin/projects/{}/quota", dst.project))
        .await;
    // The thumbnail came along but, made by the server, does not count.
    assert_eq!(
        quota.ok()["usage"],
        json!({"bytes": data.len(), "assets": 1})
    );
}

/// `assetd replication-key create`, run for real; its stdout line must be `ID=BASE64`.
fn created_key(id: Option<&str>) -> String {
    let mut command = common::child::assetd();
    command.args(["replication-key", "create"]);
    if let Some(id) = id {
        command.args(["--id", id]);
    }
    let out = command.output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let line = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let (_, key) = line.split_once('=').expect("ID=BASE64");
    assert_eq!(B64.decode(key).unwrap().len(), 32, "{line}");
    line
}

/// The real binary, with credentials for `project` and `env` (keys) set.
async fn binary_library(
    dir: &std::path::Path,
    project: &str,
    env: &[(&str, &str)],
) -> (common::child::ChildServer, Client) {
    let data_dir = dir.join(project);
    let (ak, sk) = (format!("AK{project}"), format!("SK-{project}-0123456789"));
    let created = common::child::assetd_on(&data_dir)
        .args(["credentials", "create", "--project-id", project])
        .args(["--access-key", &ak, "--secret-key", &sk])
        .output()
        .unwrap();
    assert!(created.status.success(), "{created:?}");
    let log = dir.join(format!("{project}.log"));
    let server = common::child::ChildServer::start_with_env(&data_dir, None, log, env).await;
    let client = Client::connect(&server.base, project, &ak, &sk);
    (server, client)
}

#[tokio::test]
async fn keys_made_by_the_binary_work_from_the_environment_and_key_id_picks_the_sealing_one() {
    let lab = created_key(Some("lab"));
    assert!(lab.starts_with("lab="), "{lab}");
    let (first, second) = (created_key(None), created_key(None));
    assert_ne!(first, second, "keys are random");
    assert!(first.starts_with('k'), "{first}");
    let first_id = first.split_once('=').unwrap().0;

    let dir = tempfile::tempdir().unwrap();
    // A holds two keys and seals with the second; B holds only that one; C only the first.
    let both = format!("{first},{lab}");
    let a_env = [
        ("ASSETD_REPLICATION_KEYS", both.as_str()),
        ("ASSETD_REPLICATION_KEY_ID", "lab"),
    ];
    let (_a, src) = binary_library(dir.path(), "library-a", &a_env).await;
    let (_b, dst) = binary_library(
        dir.path(),
        "library-b",
        &[("ASSETD_REPLICATION_KEYS", &lab)],
    )
    .await;
    let (_c, third) = binary_library(
        dir.path(),
        "library-c",
        &[("ASSETD_REPLICATION_KEYS", &first)],
    )
    .await;

    let (asset_id, _) = image_asset(&src).await;
    let info = info_of(&src, &asset_id).await;
    assert_eq!(info["encryption_info"]["key_id"], "lab");
    let msg = third
        .post("/digital-assets-by-replication-info", &info)
        .await
        .expect_error(400, "MSS.10001013")
        .to_owned();
    assert!(msg.contains("lab") && !msg.contains(first_id), "{msg}");
    let created = dst.post("/digital-assets-by-replication-info", &info).await;
    assert_eq!(created.ok()["asset_id"], asset_id.as_str());
    assert_eq!(settled(&dst, &asset_id).await["asset_state"], "ACTIVED");
}
