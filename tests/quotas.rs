//! Quotas and rate limits per project: set and read by admins with current usage; storage
//! bytes and asset counts hold under concurrent requests; the request rate answers 429 with
//! `Retry-After`.

mod common;

use common::{md5_b64, Client, TestServer};
use futures::future::join_all;
use serde_json::{json, Value};

async fn set_quota(admin: &Client, project: &str, body: Value) -> Value {
    admin
        .put(&format!("/admin/projects/{project}/quota"), &body)
        .await
        .ok()
        .clone()
}

async fn quota(admin: &Client, project: &str) -> Value {
    admin
        .get(&format!("/admin/projects/{project}/quota"))
        .await
        .ok()
        .clone()
}

#[tokio::test]
async fn admins_set_and_read_quotas_with_current_usage() {
    let server = TestServer::spawn().await;
    let admin = server.new_client(true).await;
    let c = &server.client;
    let path = format!("/admin/projects/{}/quota", c.project);
    assert_eq!(
        quota(&admin, &c.project).await,
        json!({"project_id": c.project, "max_bytes": null, "max_assets": null,
               "requests_per_second": null, "usage": {"bytes": 0, "assets": 0}})
    );
    let id = c
        .create_asset(&json!({"asset_name": "a", "asset_type": "IMAGE"}))
        .await;
    let data = common::png(16, 16);
    c.upload(&id, "a.png", "MAIN", &data).await;
    let set = set_quota(
        &admin,
        &c.project,
        json!({"max_bytes": 1000000, "max_assets": 10, "requests_per_second": 100}),
    )
    .await;
    assert_eq!(set["max_bytes"], 1000000);
    assert_eq!(set["requests_per_second"], 100);
    assert_eq!(set["usage"], json!({"bytes": data.len(), "assets": 1}));
    assert_eq!(quota(&admin, &c.project).await, set);
    // Lifting every limit removes the quota.
    let lifted = set_quota(&admin, &c.project, json!({})).await;
    assert_eq!(lifted["max_assets"], Value::Null);

    // Only admins, with well-formed limits.
    c.get(&path).await.expect_error(403, "MSS.00000006");
    c.put(&path, &json!({"max_assets": 1}))
        .await
        .expect_error(403, "MSS.00000006");
    admin
        .put(&path, &json!({"requests_per_second": 0}))
        .await
        .expect_error(400, "MSS.00000003");
    admin
        .put(&path, &json!({"max_bytes": -1}))
        .await
        .expect_error(400, "MSS.00000003");
    admin
        .put(&path, &json!({"max_files": 1}))
        .await
        .expect_error(400, "MSS.00000003");
}

#[tokio::test]
async fn concurrent_creates_never_exceed_the_asset_quota() {
    let server = TestServer::spawn().await;
    let admin = server.new_client(true).await;
    let c = &server.client;
    c.create_asset(&json!({"asset_name": "existing", "asset_type": "IMAGE"}))
        .await;
    set_quota(&admin, &c.project, json!({"max_assets": 5})).await;
    let replies = join_all((0..20).map(|i| async move {
        let body = json!({"asset_name": format!("n{i}"), "asset_type": "IMAGE"});
        c.post("/digital-assets", &body).await
    }))
    .await;
    let created = replies.iter().filter(|r| r.status == 200).count();
    for refused in replies.iter().filter(|r| r.status != 200) {
        let msg = refused.expect_error(403, "MSS.10001012");
        assert!(msg.contains("assets"), "{msg}");
    }
    assert_eq!(created, 4, "one existed, five are allowed");
    assert_eq!(quota(&admin, &c.project).await["usage"]["assets"], 5);

    // The recycle bin counts; only deleting for good frees a place.
    let first = replies.iter().find(|r| r.status == 200).unwrap().json["asset_id"]
        .as_str()
        .unwrap()
        .to_owned();
    c.delete(&format!("/digital-assets/{first}")).await.ok();
    c.post(
        "/digital-assets",
        &json!({"asset_name": "x", "asset_type": "IMAGE"}),
    )
    .await
    .expect_error(403, "MSS.10001012");
    c.delete(&format!("/digital-assets/{first}?mode=force"))
        .await
        .ok();
    c.post(
        "/digital-assets",
        &json!({"asset_name": "x", "asset_type": "IMAGE"}),
    )
    .await
    .ok();
    // Another project is not limited by this one's quota.
    let other = server.new_client(false).await;
    for i in 0..7 {
        other
            .post(
                "/digital-assets",
                &json!({"asset_name": format!("o{i}"), "asset_type": "IMAGE"}),
            )
            .await
            .ok();
    }
}

#[tokio::test]
async fn concurrent_uploads_never_exceed_the_storage_quota() {
    let server = TestServer::spawn().await;
    let admin = server.new_client(true).await;
    let c = &server.client;
    set_quota(&admin, &c.project, json!({"max_bytes": 10_000})).await;
    let data = vec![7u8; 1000];
    let mut assets = Vec::new();
    for i in 0..20 {
        assets.push(
            c.create_asset(&json!({"asset_name": format!("f{i}"), "asset_type": "COMMON_FILE"}))
                .await,
        );
    }
    // Each create_file reserves its declared size before any byte is sent.
    let replies = join_all(assets.iter().map(|id| {
        let body = json!({"asset_id": id, "file_name": "blob.bin", "file_md5": md5_b64(&data),
                          "file_size": data.len(), "file_type": "bin",
                          "asset_file_category": "MAIN"});
        async move { c.post("/files", &body).await }
    }))
    .await;
    let admitted: Vec<&common::Reply> = replies.iter().filter(|r| r.status == 200).collect();
    for refused in replies.iter().filter(|r| r.status != 200) {
        let msg = refused.expect_error(403, "MSS.10001012");
        assert!(msg.contains("bytes"), "{msg}");
    }
    assert_eq!(admitted.len(), 10);
    assert_eq!(quota(&admin, &c.project).await["usage"]["bytes"], 10_000);
    for reply in &admitted {
        let url = reply.json["upload_url"].as_str().unwrap();
        c.put_upload(url, &data, Some(&md5_b64(&data))).await.ok();
    }

    // An asset whose file was refused (which ones are depends on how the concurrent
    // requests interleaved, on PostgreSQL in particular) has no MAIN file yet.
    let free = &assets[replies.iter().position(|r| r.status != 200).unwrap()];

    // A cancelled upload gives its reservation back.
    let cancelled = admitted[0].json["file_id"].as_str().unwrap();
    c.confirm(cancelled, "CANCELLED").await.ok();
    assert_eq!(quota(&admin, &c.project).await["usage"]["bytes"], 9_000);
    c.post(
        "/files",
        &json!({"asset_id": free, "file_name": "big.bin", "file_md5": md5_b64(&[0; 1001]),
                "file_size": 1001, "file_type": "bin", "asset_file_category": "MAIN"}),
    )
    .await
    .expect_error(403, "MSS.10001012");
    // Large files must say how large they are while a storage quota applies.
    c.post(
        "/large-files",
        &json!({"asset_id": free, "file_name": "big.bin", "file_type": "bin",
                "asset_file_category": "MAIN", "file_multipart_count": 2}),
    )
    .await
    .expect_error(400, "MSS.00000003");
    c.post(
        "/large-files",
        &json!({"asset_id": free, "file_name": "big.bin", "file_type": "bin",
                "asset_file_category": "MAIN", "file_multipart_count": 2, "file_size": 1000}),
    )
    .await
    .ok();
    assert_eq!(quota(&admin, &c.project).await["usage"]["bytes"], 10_000);
}

#[tokio::test]
async fn requests_over_the_rate_get_429_with_retry_after() {
    let server = TestServer::spawn().await;
    let admin = server.new_client(true).await;
    let c = &server.client;
    set_quota(&admin, &c.project, json!({"requests_per_second": 2})).await;
    // Thirty at once: only a burst of two is admitted, unless this took fifteen seconds.
    let replies = join_all((0..30).map(|_| c.get("/digital-assets?limit=1"))).await;
    let limited: Vec<&common::Reply> = replies.iter().filter(|r| r.status == 429).collect();
    assert!(limited.len() >= 10, "{} limited", limited.len());
    assert!(replies.iter().all(|r| r.status == 200 || r.status == 429));
    for reply in limited {
        reply.expect_error(429, "MSS.00000008");
        let after: u64 = reply.headers["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(after >= 1, "{after}");
    }
    // Other projects, and unauthenticated requests, do not spend this project's budget.
    let other = server.new_client(false).await;
    for _ in 0..10 {
        other.get("/digital-assets?limit=1").await.ok();
    }
    // Lifting the limit applies at once on this node.
    set_quota(&admin, &c.project, json!({})).await;
    for _ in 0..10 {
        c.get("/digital-assets?limit=1").await.ok();
    }
}
