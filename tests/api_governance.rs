//! Governance through real HTTP: content review (built-in rules, an external reviewer served
//! by the test, the manual queue, the whitelist), sharing and its access log, the durable
//! scheduler (auto operations, the recycle bin, share expiry, the upload sweep, and timers
//! that fall due while the server is down), admin BLOCK/unblock, system properties, and
//! signed webhook events with retries.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use common::{md5_b64, png, Client, Media, TestServer};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

// ---------------------------------------------------------------------------------------
// Helpers

/// Polls `probe` every 100 ms until it yields a value; panics after `secs` seconds.
async fn wait_for<T, F, Fut>(what: &str, secs: u64, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "gave up after {secs} s waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// RFC 3339 (whole seconds) of now plus `secs`.
fn in_secs(secs: i64) -> String {
    (OffsetDateTime::now_utc() + time::Duration::seconds(secs))
        .replace_nanosecond(0)
        .unwrap()
        .format(&Rfc3339)
        .unwrap()
}

/// Sleeps until the wall clock has passed `t` (RFC 3339) by `margin_ms`.
async fn sleep_past(t: &str, margin_ms: i64) {
    let due = OffsetDateTime::parse(t, &Rfc3339).unwrap() + time::Duration::milliseconds(margin_ms);
    let left = due - OffsetDateTime::now_utc();
    if left.is_positive() {
        tokio::time::sleep(left.unsigned_abs()).await;
    }
}

fn image(name: &str) -> Value {
    json!({"asset_name": name, "asset_type": "IMAGE"})
}

/// `base` with the top-level keys of `extra` set on it.
fn with(mut base: Value, extra: Value) -> Value {
    for (k, v) in extra.as_object().expect("extra is an object") {
        base[k] = v.clone();
    }
    base
}

/// A small PNG whose bytes differ per `seed`, so deny-list tests can target one upload.
fn picture(seed: u32) -> Vec<u8> {
    png(16 + seed, 12)
}

/// Creates an IMAGE asset from `body` and uploads `data` as its MAIN file.
async fn image_with_main(c: &Client, body: &Value, data: &[u8]) -> (String, String) {
    let id = c.create_asset(body).await;
    let file = c.upload(&id, "main.png", "MAIN", data).await;
    (id, file)
}

async fn state_of(c: &Client, id: &str) -> String {
    c.show(id).await["asset_state"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Waits (at most 30 s) until the asset is in `state`; returns the shown asset.
async fn wait_state(c: &Client, id: &str, state: &str) -> Value {
    wait_for(&format!("asset {id} to become {state}"), 30, || async {
        let shown = c.show(id).await;
        (shown["asset_state"] == state).then_some(shown)
    })
    .await
}

/// Waits (at most 30 s) until the MAIN file has left UPLOADED (review decided or queued).
async fn wait_reviewed(c: &Client, id: &str) -> Value {
    wait_for(
        &format!("the main file of {id} to be reviewed"),
        30,
        || async {
            let shown = c.show(id).await;
            let state = main_of(&shown)["state"].clone();
            (state != "UPLOADED" && state != "CREATING").then_some(shown)
        },
    )
    .await
}

/// The MAIN file of a shown asset.
fn main_of(shown: &Value) -> &Value {
    shown["files"]
        .as_array()
        .expect("files")
        .iter()
        .find(|f| f["asset_file_category"] == "MAIN")
        .expect("a MAIN file")
}

fn url_of(file: &Value) -> Option<&str> {
    file["download_url"].as_str()
}

async fn share_with(owner: &Client, id: &str, sharee: &Client) {
    let params = json!({"allowed_project_ids": [sharee.project]}).to_string();
    let reply = owner
        .post(
            "/digital-assets/batch-action",
            &json!({"action": "SHARE", "asset_ids": [id], "params": params}),
        )
        .await;
    assert_eq!(
        reply.ok()["results"],
        json!([{"ret_status": "SUCCESS", "asset_ids": [id]}])
    );
}

async fn listed_ids(c: &Client, query: &str) -> Vec<String> {
    c.get(&format!("/digital-assets?{query}")).await.ok()["assets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["asset_id"].as_str().unwrap().to_owned())
        .collect()
}

/// Serves `router` on a free loopback port; returns its base URL.
async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, router).await.ok();
    });
    format!("http://{addr}")
}

// ---------------------------------------------------------------------------------------
// An external reviewer, served by the test

/// How the test reviewer answers.
#[derive(Clone)]
enum Answer {
    /// `{"verdict": …, "reason": …}` at once.
    Verdict(&'static str, &'static str),
    /// PASS, but only after this long.
    Slow(Duration),
    /// PASS once the test opens the gate (at most 20 s later).
    Gated(Arc<tokio::sync::Notify>),
}

/// What the reviewer saw of one request.
#[derive(Debug, Clone)]
struct ReviewCall {
    body: Value,
    /// Status and bytes of fetching the request's `download_url` during the review.
    fetched: (u16, Vec<u8>),
}

#[derive(Clone)]
struct Reviewer {
    url: String,
    calls: Arc<Mutex<Vec<ReviewCall>>>,
}

impl Reviewer {
    async fn start(answer: Answer) -> Self {
        let calls: Arc<Mutex<Vec<ReviewCall>>> = Arc::default();
        let state = (answer, calls.clone());
        let router = Router::new()
            .route("/review", post(review_handler))
            .with_state(state);
        Self {
            url: format!("{}/review", serve(router).await),
            calls,
        }
    }

    fn calls(&self) -> Vec<ReviewCall> {
        self.calls.lock().unwrap().clone()
    }

    fn calls_for(&self, asset_id: &str) -> Vec<ReviewCall> {
        self.calls()
            .into_iter()
            .filter(|c| c.body["asset_id"] == asset_id)
            .collect()
    }
}

async fn review_handler(
    State((answer, calls)): State<(Answer, Arc<Mutex<Vec<ReviewCall>>>)>,
    Json(body): Json<Value>,
) -> Json<Value> {
    let url = body["download_url"].as_str().unwrap_or_default().to_owned();
    let fetched = match reqwest::get(&url).await {
        Ok(r) => (r.status().as_u16(), r.bytes().await.unwrap().to_vec()),
        Err(_) => (0, Vec::new()),
    };
    calls.lock().unwrap().push(ReviewCall { body, fetched });
    match answer {
        Answer::Verdict(verdict, reason) => Json(json!({"verdict": verdict, "reason": reason})),
        Answer::Slow(delay) => {
            tokio::time::sleep(delay).await;
            Json(json!({"verdict": "PASS"}))
        }
        Answer::Gated(gate) => {
            tokio::time::timeout(Duration::from_secs(20), gate.notified())
                .await
                .ok();
            Json(json!({"verdict": "PASS"}))
        }
    }
}

async fn spawn_reviewed(reviewer: &Reviewer) -> TestServer {
    let url = reviewer.url.clone();
    TestServer::spawn_with(move |c| {
        c.review_url = Some(url);
        c.review_timeout_secs = 1;
    })
    .await
}

// ---------------------------------------------------------------------------------------
// A webhook receiver, served by the test

/// One delivery as the receiver saw it.
#[derive(Debug, Clone)]
struct Hit {
    timestamp: String,
    signature: String,
    body: Vec<u8>,
    answered: u16,
    at: Instant,
}

impl Hit {
    fn event(&self) -> Value {
        serde_json::from_slice(&self.body).expect("events are JSON")
    }
}

#[derive(Clone)]
struct Receiver {
    url: String,
    hits: Arc<Mutex<Vec<Hit>>>,
}

/// How many attempts of each event the receiver fails, and whether the very first attempt
/// hangs instead of answering.
#[derive(Clone, Copy)]
struct Failing {
    first: usize,
    hang_first: Option<Duration>,
}

type ReceiverState = (Failing, Arc<Mutex<Vec<Hit>>>, Arc<AtomicUsize>);

impl Receiver {
    async fn start(failing: Failing) -> Self {
        let hits: Arc<Mutex<Vec<Hit>>> = Arc::default();
        let state: ReceiverState = (failing, hits.clone(), Arc::default());
        let router = Router::new()
            .route("/hook", post(hook_handler))
            .with_state(state);
        Self {
            url: format!("{}/hook", serve(router).await),
            hits,
        }
    }

    fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }

    /// Deliveries of events about `asset_id`, in arrival order.
    fn hits_for(&self, asset_id: &str) -> Vec<Hit> {
        self.hits()
            .into_iter()
            .filter(|h| h.event()["asset_id"] == asset_id)
            .collect()
    }
}

async fn hook_handler(
    State((failing, hits, total)): State<ReceiverState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let event_id = serde_json::from_slice::<Value>(&body).unwrap_or_default()["event_id"].clone();
    let attempt = hits
        .lock()
        .unwrap()
        .iter()
        .filter(|h| h.event()["event_id"] == event_id)
        .count();
    let status = if attempt < failing.first {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    };
    hits.lock().unwrap().push(Hit {
        timestamp: header("x-assetd-timestamp"),
        signature: header("x-assetd-signature"),
        body: body.to_vec(),
        answered: status.as_u16(),
        at: Instant::now(),
    });
    if total.fetch_add(1, Ordering::SeqCst) == 0 {
        if let Some(delay) = failing.hang_first {
            tokio::time::sleep(delay).await;
        }
    }
    status
}

/// Asserts `X-Assetd-Signature` = `sha256=` + hex HMAC-SHA256(secret, "{timestamp}.{body}")
/// and a timestamp within a minute of now.
#[track_caller]
fn assert_signed(hit: &Hit, secret: &str) {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(hit.timestamp.as_bytes());
    mac.update(b".");
    mac.update(&hit.body);
    let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(hit.signature, expected, "signature of {:?}", hit.event());
    let ts: i64 = hit
        .timestamp
        .parse()
        .expect("the timestamp is unix seconds");
    assert!((OffsetDateTime::now_utc().unix_timestamp() - ts).abs() < 60);
}

// ---------------------------------------------------------------------------------------
// Review: built-in rules

#[tokio::test]
async fn an_image_that_passes_the_built_in_rules_becomes_actived_with_a_public_download_url() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let data = picture(1);
    let (id, file) = image_with_main(c, &image("clean"), &data).await;
    let shown = wait_state(c, &id, "ACTIVED").await;
    let main = main_of(&shown);
    assert_eq!(
        (main["file_id"].as_str(), &main["state"]),
        (Some(file.as_str()), &json!("CREATED"))
    );
    let url = url_of(main).expect("a passed file has a download URL");
    assert!(!url.contains("scope=owner"), "{url}");
    assert_eq!(c.fetch(url, None).await.bytes, data);
    assert_eq!(shown.get("fail_type"), None);
    server.assert_jobs_settled().await;
}

#[tokio::test]
async fn content_whose_md5_is_on_the_deny_list_fails_with_automatic_review_reject() {
    use md5::Digest;
    let denied = picture(2);
    let denied_b64 = md5_b64(&denied);
    let denied_hex = hex::encode(md5::Md5::digest(picture(3)));
    let server = TestServer::spawn_with(move |c| {
        c.review_deny_md5 = vec![denied_b64, denied_hex];
    })
    .await;
    let c = &server.client;
    let (b64_id, _) = image_with_main(c, &image("denied by base64"), &denied).await;
    let (hex_id, _) = image_with_main(c, &image("denied by hex"), &picture(3)).await;
    let (ok_id, _) = image_with_main(c, &image("allowed"), &picture(4)).await;
    for id in [&b64_id, &hex_id] {
        let shown = wait_state(c, id, "FAILED").await;
        assert_eq!(shown["fail_type"], "AUTOMATIC_REVIEW_REJECT");
        assert!(
            shown["reason"].as_str().unwrap().contains("deny-list"),
            "{}",
            shown["reason"]
        );
        let main = main_of(&shown);
        assert_eq!(main["state"], "FAILED");
        assert!(main["reason"].as_str().unwrap().contains("deny-list"));
        assert_eq!(url_of(main), None, "rejected content is not downloadable");
    }
    wait_state(c, &ok_id, "ACTIVED").await;
    server.assert_jobs_settled().await;
}

#[tokio::test]
async fn audio_longer_than_review_max_duration_secs_fails_with_automatic_review_reject() {
    let wav = common::fixture(Media::Wav);
    let server = TestServer::spawn_with(|c| c.review_max_duration_secs = Some(1)).await;
    let c = &server.client;
    let id = c
        .create_asset(&json!({"asset_name": "too long", "asset_type": "AUDIO"}))
        .await;
    c.upload(&id, "long.wav", "MAIN", &wav).await;
    let shown = wait_state(c, &id, "FAILED").await;
    assert_eq!(shown["fail_type"], "AUTOMATIC_REVIEW_REJECT");
    let reason = shown["reason"].as_str().unwrap();
    assert!(reason.contains("at most 1 s"), "{reason}");
    assert_eq!(main_of(&shown)["state"], "FAILED");
    server.assert_jobs_settled().await;
}

// ---------------------------------------------------------------------------------------
// Review: the external reviewer

#[tokio::test]
async fn the_external_reviewer_gets_metadata_and_a_working_download_url_and_pass_activates() {
    let reviewer = Reviewer::start(Answer::Verdict("PASS", "fine")).await;
    let server = spawn_reviewed(&reviewer).await;
    let c = &server.client;
    let data = picture(5);
    let (id, file) = image_with_main(c, &image("reviewed"), &data).await;
    wait_state(c, &id, "ACTIVED").await;

    let calls = reviewer.calls();
    assert_eq!(calls.len(), 1, "one review per main file");
    let body = &calls[0].body;
    assert_eq!(body["project_id"], c.project);
    assert_eq!(body["asset_id"], id);
    assert_eq!(body["asset_name"], "reviewed");
    assert_eq!(body["asset_type"], "IMAGE");
    assert_eq!(body["file_id"], file);
    assert_eq!(body["file_name"], "main.png");
    assert_eq!(body["file_size"], data.len());
    assert_eq!(body["file_md5"], md5_b64(&data));
    assert_eq!(
        body["asset_extra_meta"]["image_meta"]["width"],
        json!(16 + 5),
        "the reviewer sees the processed metadata"
    );
    assert_eq!(
        calls[0].fetched,
        (200, data),
        "the signed URL serves the content while it is under review"
    );
    server.assert_jobs_settled().await;
}

#[tokio::test]
async fn while_the_reviewer_decides_the_asset_is_not_actived_and_only_its_owner_can_download() {
    let gate = Arc::new(tokio::sync::Notify::new());
    let reviewer = Reviewer::start(Answer::Gated(gate.clone())).await;
    let url = reviewer.url.clone();
    let server = TestServer::spawn_with(move |c| {
        c.review_url = Some(url);
        c.review_timeout_secs = 30;
    })
    .await;
    let owner = &server.client;
    let sharee = server.new_client(false).await;
    let data = picture(25);
    let body = with(
        image("pending"),
        json!({"shared_config": {"shared_type": "SHARED", "allowed_project_ids": [sharee.project]}}),
    );
    let (id, _) = image_with_main(owner, &body, &data).await;
    wait_for("the reviewer to be asked", 20, || async {
        (!reviewer.calls().is_empty()).then_some(())
    })
    .await;

    let shown = owner.show(&id).await;
    assert_eq!(shown["asset_state"], "CREATING");
    let main = main_of(&shown);
    assert_eq!(main["state"], "UPLOADED");
    let owner_url = url_of(main).expect("the owner may fetch an uploaded file");
    assert!(owner_url.contains("scope=owner"), "{owner_url}");
    assert_eq!(owner.fetch(owner_url, None).await.bytes, data);
    assert_eq!(url_of(main_of(&sharee.show(&id).await)), None);
    let listed = sharee.get("/digital-assets?role=SHAREE").await.ok().clone();
    assert_eq!(url_of(main_of(&listed["assets"][0])), None);

    gate.notify_one();
    let shown = wait_state(owner, &id, "ACTIVED").await;
    assert_eq!(main_of(&shown)["state"], "CREATED");
    let url = url_of(main_of(&sharee.show(&id).await))
        .expect("passed files are the sharee's to download")
        .to_owned();
    assert_eq!(sharee.fetch(&url, None).await.bytes, data);
    server.assert_jobs_settled().await;
}

#[tokio::test]
async fn an_external_reject_fails_the_asset_with_automatic_review_reject_and_the_reason() {
    let reviewer = Reviewer::start(Answer::Verdict("REJECT", "contains a logo")).await;
    let server = spawn_reviewed(&reviewer).await;
    let c = &server.client;
    let sharee = server.new_client(false).await;
    let body = with(
        image("logo"),
        json!({"shared_config": {"shared_type": "SHARED", "allowed_project_ids": [sharee.project]}}),
    );
    let (id, _) = image_with_main(c, &body, &picture(6)).await;
    let shown = wait_state(c, &id, "FAILED").await;
    assert_eq!(shown["fail_type"], "AUTOMATIC_REVIEW_REJECT");
    assert!(shown["reason"]
        .as_str()
        .unwrap()
        .contains("contains a logo"));
    let main = main_of(&shown);
    assert_eq!(
        (&main["state"], &main["reason"]),
        (&json!("FAILED"), &json!("contains a logo"))
    );
    assert_eq!(url_of(main), None);
    let summary = sharee
        .post("/digital-assets/summarys", &json!({"asset_ids": [id]}))
        .await;
    assert_eq!(
        summary.ok()["asset_list"][0].get("thumbnail_url"),
        None,
        "nothing made from rejected content is served to others"
    );
    // A rejected asset cannot be activated by its owner.
    c.put(
        &format!("/digital-assets/{id}"),
        &json!({"asset_state": "ACTIVED"}),
    )
    .await
    .expect_error(400, "MSS.00000003");
    server.assert_jobs_settled().await;
}

#[tokio::test]
async fn a_manual_verdict_queues_the_file_and_only_the_owner_can_download_until_an_admin_approves()
{
    let reviewer = Reviewer::start(Answer::Verdict("MANUAL", "looks borderline")).await;
    let server = spawn_reviewed(&reviewer).await;
    let owner = &server.client;
    let sharee = server.new_client(false).await;
    let admin = server.new_client(true).await;
    let data = picture(7);
    let body = with(
        image("borderline"),
        json!({"shared_config": {"shared_type": "SHARED", "allowed_project_ids": [sharee.project]}}),
    );
    let (id, file) = image_with_main(owner, &body, &data).await;
    let shown = wait_reviewed(owner, &id).await;

    // Queued: not ACTIVED, the file is REVIEW, and only the owner gets a (scoped) URL.
    assert_eq!(shown["asset_state"], "CREATING");
    let main = main_of(&shown);
    assert_eq!(main["state"], "REVIEW");
    assert!(main["reason"]
        .as_str()
        .unwrap()
        .contains("looks borderline"));
    let owner_url = url_of(main).expect("the owner may fetch a file under review");
    assert!(owner_url.contains("scope=owner"), "{owner_url}");
    assert_eq!(owner.fetch(owner_url, None).await.bytes, data);
    let seen = sharee.show(&id).await;
    assert_eq!(
        url_of(main_of(&seen)),
        None,
        "sharees get no URL under review"
    );
    let summary = sharee
        .post("/digital-assets/summarys", &json!({"asset_ids": [id]}))
        .await;
    let summary = &summary.ok()["asset_list"][0];
    assert_eq!(summary["asset_id"], id);
    assert_eq!(
        summary.get("thumbnail_url"),
        None,
        "not even the thumbnail of unreviewed content is served to others"
    );
    let thumb = format!("{file}-thumb");
    let public = server
        .app
        .links
        .download_url(&thumb, false, OffsetDateTime::now_utc());
    sharee
        .fetch(&public, None)
        .await
        .expect_error(404, "MSS.10001004");
    let own = owner
        .post("/digital-assets/summarys", &json!({"asset_ids": [id]}))
        .await;
    let own_thumb = own.ok()["asset_list"][0]["thumbnail_url"].as_str().unwrap();
    assert!(own_thumb.contains("scope=owner"), "{own_thumb}");
    assert!(owner
        .fetch(own_thumb, None)
        .await
        .bytes
        .starts_with(b"\xff\xd8"));
    owner
        .put(
            &format!("/digital-assets/{id}"),
            &json!({"asset_state": "ACTIVED"}),
        )
        .await
        .expect_error(400, "MSS.00000003");

    // The queue is for admins.
    owner
        .get("/admin/reviews")
        .await
        .expect_error(403, "MSS.00000006");
    owner
        .post(
            &format!("/admin/reviews/{file}"),
            &json!({"action": "APPROVE"}),
        )
        .await
        .expect_error(403, "MSS.00000006");
    let queue = admin.get("/admin/reviews").await.ok().clone();
    assert_eq!(queue["count"], 1);
    let entry = &queue["reviews"][0];
    assert_eq!(entry["file_id"], file);
    assert_eq!(entry["asset_id"], id);
    assert_eq!(entry["project_id"], owner.project);
    assert!(entry["reason"]
        .as_str()
        .unwrap()
        .contains("looks borderline"));
    let review_url = entry["download_url"].as_str().unwrap();
    assert_eq!(admin.fetch(review_url, None).await.bytes, data);
    admin
        .post(
            &format!("/admin/reviews/{file}"),
            &json!({"action": "MAYBE"}),
        )
        .await
        .expect_error(400, "MSS.00000003");

    // Approval activates the asset and opens the files to the sharee.
    admin
        .post(
            &format!("/admin/reviews/{file}"),
            &json!({"action": "APPROVE", "reason": "ok"}),
        )
        .await
        .ok();
    let shown = owner.show(&id).await;
    assert_eq!(shown["asset_state"], "ACTIVED");
    assert_eq!(main_of(&shown)["state"], "CREATED");
    let seen = sharee.show(&id).await;
    let url = url_of(main_of(&seen)).expect("a sharee may download approved files");
    assert_eq!(sharee.fetch(url, None).await.bytes, data);
    assert_eq!(sharee.fetch(&public, None).await.status, 200);
    assert_eq!(admin.get("/admin/reviews").await.ok()["count"], 0);
    admin
        .post(
            &format!("/admin/reviews/{file}"),
            &json!({"action": "APPROVE"}),
        )
        .await
        .expect_error(404, "MSS.10001004");
    server.assert_jobs_settled().await;
}

#[tokio::test]
async fn an_admin_rejection_from_the_manual_queue_fails_the_asset_with_manual_review_reject() {
    let reviewer = Reviewer::start(Answer::Verdict("MANUAL", "")).await;
    let server = spawn_reviewed(&reviewer).await;
    let owner = &server.client;
    let admin = server.new_client(true).await;
    let (id, file) = image_with_main(owner, &image("nope"), &picture(8)).await;
    let shown = wait_reviewed(owner, &id).await;
    assert_eq!(main_of(&shown)["state"], "REVIEW");

    let decide = format!("/admin/reviews/{file}");
    admin
        .post(&decide, &json!({"action": "REJECT"}))
        .await
        .expect_error(400, "MSS.00000003");
    admin
        .post(
            &decide,
            &json!({"action": "REJECT", "reason": "violates the policy"}),
        )
        .await
        .ok();
    let shown = owner.show(&id).await;
    assert_eq!(shown["asset_state"], "FAILED");
    assert_eq!(shown["fail_type"], "MANUAL_REVIEW_REJECT");
    assert!(shown["reason"]
        .as_str()
        .unwrap()
        .contains("violates the policy"));
    let main = main_of(&shown);
    assert_eq!(
        (&main["state"], &main["reason"]),
        (&json!("FAILED"), &json!("violates the policy"))
    );
    assert_eq!(url_of(main), None);
    admin
        .post(&decide, &json!({"action": "APPROVE"}))
        .await
        .expect_error(404, "MSS.10001004");
    server.assert_jobs_settled().await;
}

#[tokio::test]
async fn a_reviewer_that_does_not_answer_within_review_timeout_secs_sends_the_file_to_manual_review(
) {
    let reviewer = Reviewer::start(Answer::Slow(Duration::from_secs(4))).await;
    let server = spawn_reviewed(&reviewer).await;
    let c = &server.client;
    let admin = server.new_client(true).await;
    let started = Instant::now();
    let (id, file) = image_with_main(c, &image("slow"), &picture(9)).await;
    let shown = wait_reviewed(c, &id).await;
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "the job must not wait for the slow reviewer"
    );
    assert_eq!(shown["asset_state"], "CREATING");
    let main = main_of(&shown);
    assert_eq!(main["state"], "REVIEW");
    assert!(
        main["reason"]
            .as_str()
            .unwrap()
            .contains("did not answer in time"),
        "{}",
        main["reason"]
    );
    assert_eq!(reviewer.calls().len(), 1);
    assert_eq!(
        admin.get("/admin/reviews").await.ok()["reviews"][0]["file_id"],
        file
    );
    server.assert_jobs_settled().await;
}

#[tokio::test]
async fn no_need_review_is_honoured_only_for_projects_an_admin_whitelisted() {
    let reviewer = Reviewer::start(Answer::Verdict("REJECT", "reviewer says no")).await;
    let server = spawn_reviewed(&reviewer).await;
    let c = &server.client;
    let admin = server.new_client(true).await;
    let skip = |name: &str| {
        with(
            image(name),
            json!({"review_config": {"no_need_review": true}}),
        )
    };

    // Not whitelisted: the flag is ignored and the reviewer decides.
    let (ignored, _) = image_with_main(c, &skip("ignored"), &picture(10)).await;
    let shown = wait_state(c, &ignored, "FAILED").await;
    assert_eq!(shown["fail_type"], "AUTOMATIC_REVIEW_REJECT");
    assert_eq!(reviewer.calls_for(&ignored).len(), 1);

    // Only admins manage the whitelist.
    let entry = format!("/admin/review-whitelist/{}", c.project);
    c.put(&entry, &json!({}))
        .await
        .expect_error(403, "MSS.00000006");
    c.get("/admin/review-whitelist")
        .await
        .expect_error(403, "MSS.00000006");
    admin.put(&entry, &json!({})).await.ok();
    assert_eq!(
        admin.get("/admin/review-whitelist").await.ok()["project_ids"],
        json!([c.project])
    );

    // Whitelisted: the flag skips review; without the flag review still runs.
    let (honoured, _) = image_with_main(c, &skip("honoured"), &picture(11)).await;
    let (flagless, _) = image_with_main(c, &image("flagless"), &picture(12)).await;
    wait_state(c, &honoured, "ACTIVED").await;
    wait_state(c, &flagless, "FAILED").await;
    assert!(reviewer.calls_for(&honoured).is_empty());
    assert_eq!(reviewer.calls_for(&flagless).len(), 1);

    // Off the whitelist again, the flag is ignored again.
    admin.delete(&entry).await.ok();
    let (again, _) = image_with_main(c, &skip("again"), &picture(13)).await;
    wait_state(c, &again, "FAILED").await;
    assert_eq!(reviewer.calls_for(&again).len(), 1);
    server.assert_jobs_settled().await;
}

// ---------------------------------------------------------------------------------------
// Sharing

#[tokio::test]
async fn a_sharee_lists_and_reads_a_shared_asset_with_download_urls_and_every_read_is_logged() {
    let server = TestServer::spawn().await;
    let owner = &server.client;
    let sharee = server.new_client(false).await;
    let outsider = server.new_client(false).await;
    let data = picture(14);
    let (id, _) = image_with_main(owner, &image("shared pic"), &data).await;
    wait_state(owner, &id, "ACTIVED").await;
    share_with(owner, &id, &sharee).await;

    // Sharing that starts today ends at 23:59:59 thirty days later, by default.
    let shown = owner.show(&id).await;
    let expire = OffsetDateTime::parse(
        shown["shared_config"]["expire_time"].as_str().unwrap(),
        &Rfc3339,
    )
    .unwrap();
    let today = OffsetDateTime::now_utc().date();
    assert_eq!(expire.date(), today + time::Duration::days(30));
    assert_eq!(
        (expire.hour(), expire.minute(), expire.second()),
        (23, 59, 59)
    );

    // The sharee finds it with role=SHAREE (whatever asset_source), not among its own.
    assert_eq!(listed_ids(&sharee, "role=SHAREE").await, [id.as_str()]);
    assert_eq!(
        listed_ids(&sharee, "role=SHAREE&asset_source=ALL").await,
        [id.as_str()]
    );
    assert!(listed_ids(&sharee, "").await.is_empty());
    assert_eq!(listed_ids(owner, "role=SHARER").await, [id.as_str()]);
    let listed = sharee.get("/digital-assets?role=SHAREE").await.ok().clone();
    let url = url_of(main_of(&listed["assets"][0])).expect("a URL in the list");
    assert_eq!(sharee.fetch(url, None).await.bytes, data);
    let seen = sharee.show(&id).await;
    assert_eq!(seen["project_id"], owner.project);
    let url = url_of(main_of(&seen)).expect("a URL in show");
    assert!(!url.contains("scope=owner"));
    assert_eq!(sharee.fetch(url, None).await.bytes, data);
    sharee
        .post("/digital-assets/summarys", &json!({"asset_ids": [id]}))
        .await
        .ok();

    // The owner sees every read by the sharee, newest first, and none of its own.
    owner.show(&id).await;
    let logs = owner
        .get(&format!("/digital-assets/{id}/access-logs"))
        .await
        .ok()
        .clone();
    assert_eq!(logs["count"], 5, "{logs}");
    let actions: Vec<&str> = logs["logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            assert_eq!(l["reader_project_id"], sharee.project);
            OffsetDateTime::parse(l["time"].as_str().unwrap(), &Rfc3339).unwrap();
            l["action"].as_str().unwrap()
        })
        .collect();
    let mut sorted = actions.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, ["list", "list", "list", "show", "summary"]);
    assert_eq!(actions[0], "summary", "newest first");
    let page = owner
        .get(&format!(
            "/digital-assets/{id}/access-logs?limit=1&offset=1"
        ))
        .await
        .ok()
        .clone();
    assert_eq!(
        (
            page["count"].clone(),
            page["logs"].as_array().unwrap().len()
        ),
        (json!(5), 1)
    );

    // The log is the owner's alone.
    sharee
        .get(&format!("/digital-assets/{id}/access-logs"))
        .await
        .expect_error(403, "MSS.00000006");
    outsider
        .get(&format!("/digital-assets/{id}/access-logs"))
        .await
        .expect_error(404, "MSS.10001001");
    outsider
        .get(&format!("/digital-assets/{id}"))
        .await
        .expect_error(404, "MSS.10001001");
    server.assert_jobs_settled().await;
}

#[tokio::test]
async fn a_sharee_can_neither_modify_nor_delete_a_shared_asset_or_its_files() {
    let server = TestServer::spawn().await;
    let owner = &server.client;
    let sharee = server.new_client(false).await;
    let data = picture(15);
    let (id, file) = image_with_main(owner, &image("hands off"), &data).await;
    wait_state(owner, &id, "ACTIVED").await;
    share_with(owner, &id, &sharee).await;
    let path = format!("/digital-assets/{id}");

    for body in [
        json!({"asset_name": "mine now"}),
        json!({"asset_state": "UNACTIVED"}),
        json!({"shared_config": {"shared_type": "PRIVATE"}}),
        json!({"auto_operation_config": [{"operation": "DELETE", "operation_time": in_secs(1)}]}),
    ] {
        sharee
            .put(&path, &body)
            .await
            .expect_error(403, "MSS.00000006");
    }
    sharee.delete(&path).await.expect_error(403, "MSS.00000006");
    sharee
        .delete(&format!("{path}?mode=force"))
        .await
        .expect_error(403, "MSS.00000006");
    sharee
        .call("POST", &format!("{path}/restore"), None)
        .await
        .expect_error(403, "MSS.00000006");
    for action in ["DELETE", "DELETE_FORCE", "UNACTIVE", "UNSHARE"] {
        let reply = sharee
            .post(
                "/digital-assets/batch-action",
                &json!({"action": action, "asset_ids": [id]}),
            )
            .await;
        let results = reply.ok()["results"].as_array().unwrap();
        assert_eq!(results.len(), 1, "{action}: {results:?}");
        assert_eq!(
            (
                &results[0]["ret_status"],
                &results[0]["asset_ids"],
                &results[0]["error_info"]["error_code"]
            ),
            (&json!("FAILED"), &json!([id]), &json!("MSS.00000006")),
            "{action}"
        );
    }
    // Its files are the owner's too.
    sharee
        .delete(&format!("/files/{file}"))
        .await
        .expect_error(404, "MSS.10001004");
    sharee
        .confirm(&file, "CANCELLED")
        .await
        .expect_error(404, "MSS.10001004");
    let cover = png(8, 8);
    let reply = sharee
        .post(
            "/files",
            &json!({"asset_id": id, "file_name": "c.png", "file_md5": md5_b64(&cover),
                    "file_size": cover.len(), "file_type": "png", "asset_file_category": "OTHER"}),
        )
        .await;
    reply.expect_error(404, "MSS.10001001");

    // Nothing changed.
    let shown = owner.show(&id).await;
    assert_eq!(
        (&shown["asset_name"], &shown["asset_state"]),
        (&json!("hands off"), &json!("ACTIVED"))
    );
    assert_eq!(shown["shared_config"]["shared_type"], "SHARED");
    assert_eq!(shown["auto_operation_config"], json!([]));
    let files = shown["files"].as_array().unwrap();
    assert_eq!(files.len(), 1);
    assert_eq!(
        owner.fetch(url_of(&files[0]).unwrap(), None).await.bytes,
        data
    );
    server.assert_jobs_settled().await;
}

#[tokio::test]
async fn a_share_ends_at_its_expire_time_and_the_asset_becomes_private() {
    let server = TestServer::spawn().await;
    let owner = &server.client;
    let sharee = server.new_client(false).await;
    let id = owner.create_asset(&image("brief share")).await;
    let expire = in_secs(3);
    owner
        .put(
            &format!("/digital-assets/{id}"),
            &json!({"shared_config": {"shared_type": "SHARED", "expire_time": expire,
                                      "allowed_project_ids": [sharee.project]}}),
        )
        .await
        .ok();
    assert_eq!(sharee.show(&id).await["asset_name"], "brief share");
    assert_eq!(listed_ids(&sharee, "role=SHAREE").await, [id.as_str()]);

    let config = wait_for("the share to expire", 20, || async {
        let config = owner.show(&id).await["shared_config"].clone();
        (config["shared_type"] == "PRIVATE").then_some(config)
    })
    .await;
    assert!(
        OffsetDateTime::now_utc() >= OffsetDateTime::parse(&expire, &Rfc3339).unwrap(),
        "the share ended early"
    );
    assert_eq!(config.get("allowed_project_ids"), None);
    sharee
        .get(&format!("/digital-assets/{id}"))
        .await
        .expect_error(404, "MSS.10001001");
    assert!(listed_ids(&sharee, "role=SHAREE").await.is_empty());
    assert!(listed_ids(owner, "role=SHARER").await.is_empty());
    server.assert_jobs_settled().await;
}

#[tokio::test]
async fn public_sharing_is_reserved_for_admins() {
    let server = TestServer::spawn().await;
    let owner = &server.client;
    let id = owner.create_asset(&image("not public")).await;
    let reply = owner
        .post(
            "/digital-assets/batch-action",
            &json!({"action": "SHARE", "asset_ids": [id],
                    "params": json!({"shared_type": "PUBLIC"}).to_string()}),
        )
        .await;
    reply.expect_error(400, "MSS.00000003");
    owner
        .put(
            &format!("/digital-assets/{id}"),
            &json!({"shared_config": {"shared_type": "PUBLIC"}}),
        )
        .await
        .expect_error(400, "MSS.00000003");
    let admin = server.client_for(&owner.project, true).await;
    admin
        .put(
            &format!("/digital-assets/{id}"),
            &json!({"shared_config": {"shared_type": "PUBLIC"}}),
        )
        .await
        .ok();
    let other = server.new_client(false).await;
    assert_eq!(listed_ids(&other, "asset_source=SYSTEM").await, [id]);
}

// ---------------------------------------------------------------------------------------
// The scheduler

#[tokio::test]
async fn a_scheduled_block_fires_once_at_operation_time() {
    let server = TestServer::spawn().await;
    let owner = &server.client;
    let admin = server.new_client(true).await;
    let data = picture(16);
    let (id, _) = image_with_main(owner, &image("scheduled block"), &data).await;
    let shown = wait_state(owner, &id, "ACTIVED").await;
    let url = url_of(main_of(&shown)).unwrap().to_owned();
    let when = in_secs(2);
    let schedule = json!([{"operation": "BLOCK", "operation_time": when}]);
    owner
        .put(
            &format!("/digital-assets/{id}"),
            &json!({"auto_operation_config": schedule}),
        )
        .await
        .ok();
    assert_eq!(state_of(owner, &id).await, "ACTIVED");

    let shown = wait_state(owner, &id, "BLOCK").await;
    assert!(OffsetDateTime::now_utc() >= OffsetDateTime::parse(&when, &Rfc3339).unwrap());
    assert_eq!(shown["block_reason_code"], "AUTO_OPERATION");
    assert!(shown["reason"].as_str().unwrap().contains(&when));
    owner
        .fetch(&url, None)
        .await
        .expect_error(403, "MSS.00000006");

    // Unblocked, it stays unblocked: saving the list again with a new entry does not re-run
    // the BLOCK that already fired.
    admin
        .post(
            &format!("/admin/digital-assets/{id}/unblock"),
            &json!({"reason": "appeal granted"}),
        )
        .await
        .ok();
    let later = in_secs(3600);
    owner
        .put(
            &format!("/digital-assets/{id}"),
            &json!({"auto_operation_config": [
                {"operation": "BLOCK", "operation_time": when},
                {"operation": "DELETE", "operation_time": later}
            ]}),
        )
        .await
        .ok();
    wait_for("only the future DELETE to remain queued", 15, || async {
        let counts = server.app.catalog.job_counts().await.unwrap();
        (counts.queued == 1 && counts.running == 0).then_some(())
    })
    .await;
    assert_eq!(state_of(owner, &id).await, "ACTIVED");
    assert_eq!(owner.fetch(&url, None).await.bytes, data);
    server.assert_jobs_settled().await;
}

#[tokio::test]
async fn a_scheduled_delete_removes_the_asset_its_files_and_their_blobs() {
    let server = TestServer::spawn().await;
    let owner = &server.client;
    let (id, file) = image_with_main(owner, &image("scheduled delete"), &picture(17)).await;
    wait_state(owner, &id, "ACTIVED").await;
    let files: Vec<_> = server
        .app
        .catalog
        .files_of(std::slice::from_ref(&id))
        .await
        .unwrap();
    assert!(files.len() >= 2, "the main file and its thumbnail");
    let keys: Vec<String> = files.iter().filter_map(|f| f.blob_key.clone()).collect();
    assert_eq!(keys.len(), files.len(), "every file has stored bytes");
    let stored: Vec<String> = files.into_iter().map(|f| f.file_id).collect();
    for key in &keys {
        assert!(server.objects("content").await.contains(key));
    }
    owner
        .put(
            &format!("/digital-assets/{id}"),
            &json!({"auto_operation_config": [{"operation": "DELETE", "operation_time": in_secs(2)}]}),
        )
        .await
        .ok();

    let shown = wait_state(owner, &id, "DELETED").await;
    wait_for("the blobs to be removed", 15, || async {
        let left = server.objects("content").await;
        keys.iter().all(|k| !left.contains(k)).then_some(())
    })
    .await;
    let files = server
        .app
        .catalog
        .files_of(std::slice::from_ref(&id))
        .await
        .unwrap();
    assert!(
        files.iter().all(|f| f.state.as_str() == "DELETED"),
        "{files:?}"
    );
    assert_eq!(shown["files"], json!([]));
    assert!(stored.contains(&file));
    owner
        .call("POST", &format!("/digital-assets/{id}/restore"), None)
        .await
        .expect_error(400, "MSS.00000003");
    server.assert_jobs_settled().await;
}

#[tokio::test]
async fn the_recycle_bin_empties_after_recycle_retention_secs_unless_restored() {
    let server = TestServer::spawn_with(|c| c.recycle_retention_secs = 2).await;
    let owner = &server.client;
    let (binned, file) = image_with_main(owner, &image("binned"), &picture(18)).await;
    let (restored, _) = image_with_main(owner, &image("restored"), &picture(19)).await;
    wait_state(owner, &binned, "ACTIVED").await;
    wait_state(owner, &restored, "ACTIVED").await;

    owner
        .delete(&format!("/digital-assets/{binned}"))
        .await
        .ok();
    owner
        .delete(&format!("/digital-assets/{restored}"))
        .await
        .ok();
    assert_eq!(state_of(owner, &binned).await, "DELETING");
    let key = server.blob_key(&file).await.unwrap();
    assert!(server.stored(&file).await.is_some(), "still restorable");
    owner
        .call("POST", &format!("/digital-assets/{restored}/restore"), None)
        .await
        .ok();

    wait_state(owner, &binned, "DELETED").await;
    wait_for("the blob to be removed", 15, || async {
        (!server.objects("content").await.contains(&key)).then_some(())
    })
    .await;
    let files = server
        .app
        .catalog
        .files_of(std::slice::from_ref(&binned))
        .await
        .unwrap();
    assert!(
        files.iter().all(|f| f.state.as_str() == "DELETED"),
        "{files:?}"
    );

    // The restored asset's recycle timer fires too, and does nothing.
    wait_for("every timer to have run", 15, || async {
        let counts = server.app.catalog.job_counts().await.unwrap();
        (counts.queued == 0 && counts.running == 0).then_some(())
    })
    .await;
    assert_eq!(state_of(owner, &restored).await, "ACTIVED");
    server.assert_jobs_settled().await;
}

#[tokio::test]
async fn an_upload_abandoned_longer_than_abandoned_upload_secs_is_cancelled() {
    let server = TestServer::spawn_with(|c| c.abandoned_upload_secs = 1).await;
    let c = &server.client;
    let id = c.create_asset(&image("abandoned")).await;
    let data = picture(20);
    let (file, _) = c.create_file(&id, "main.png", "MAIN", &data).await;
    let main = wait_for("the upload to be swept", 20, || async {
        let shown = c.show(&id).await;
        let main = main_of(&shown).clone();
        (main["state"] == "CANCELLED").then_some(main)
    })
    .await;
    assert_eq!(main["file_id"], file);
    assert!(main["reason"].as_str().unwrap().contains("abandoned"));
    assert_eq!(state_of(c, &id).await, "CREATING");
    server.assert_jobs_settled().await;
}

#[tokio::test]
async fn timers_that_fall_due_while_the_server_is_down_fire_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let first =
        TestServer::spawn_in(dir.path().to_path_buf(), |c| c.recycle_retention_secs = 3).await;
    let owner = first.client.clone();
    let sharee = first.new_client(false).await;
    let (blocked, _) = image_with_main(&owner, &image("block later"), &picture(21)).await;
    let (binned, bin_file) = image_with_main(&owner, &image("bin later"), &picture(22)).await;
    let shared = owner.create_asset(&image("share until")).await;
    wait_state(&owner, &blocked, "ACTIVED").await;
    wait_state(&owner, &binned, "ACTIVED").await;

    let due = in_secs(3);
    owner
        .put(
            &format!("/digital-assets/{blocked}"),
            &json!({"auto_operation_config": [{"operation": "BLOCK", "operation_time": due}]}),
        )
        .await
        .ok();
    owner
        .delete(&format!("/digital-assets/{binned}"))
        .await
        .ok();
    owner
        .put(
            &format!("/digital-assets/{shared}"),
            &json!({"shared_config": {"shared_type": "SHARED", "expire_time": due,
                                      "allowed_project_ids": [sharee.project]}}),
        )
        .await
        .ok();
    let catalog = first.app.catalog.clone();
    let store = first.app.storage.blobs().clone();
    first.stop().await;

    // Nothing fired before the shutdown.
    let state = |id: String| {
        let catalog = catalog.clone();
        async move { catalog.asset(&id).await.unwrap().unwrap() }
    };
    assert_eq!(state(blocked.clone()).await.asset_state.as_str(), "ACTIVED");
    assert_eq!(state(binned.clone()).await.asset_state.as_str(), "DELETING");
    assert!(state(shared.clone()).await.share_expire().is_some());
    let bin_key = catalog
        .file(&bin_file)
        .await
        .unwrap()
        .and_then(|f| f.blob_key)
        .expect("stored bytes");
    let key = assetd::blobs::BlobKey::parse(&bin_key).unwrap();
    assert!(store.size(&key).await.unwrap().is_some());

    // Down past every due time, then up again on the same data directory.
    sleep_past(&due, 1500).await;
    let second = TestServer::spawn_in(dir.path().to_path_buf(), |_| {}).await;
    let owner = Client::connect(&second.base, &owner.project, &owner.ak, &owner.sk);
    let sharee = Client::connect(&second.base, &sharee.project, &sharee.ak, &sharee.sk);

    let shown = wait_state(&owner, &blocked, "BLOCK").await;
    assert_eq!(shown["block_reason_code"], "AUTO_OPERATION");
    wait_state(&owner, &binned, "DELETED").await;
    wait_for("the shared asset to become private", 15, || async {
        (owner.show(&shared).await["shared_config"]["shared_type"] == "PRIVATE").then_some(())
    })
    .await;
    sharee
        .get(&format!("/digital-assets/{shared}"))
        .await
        .expect_error(404, "MSS.10001001");
    wait_for("the recycled blob to be removed", 15, || async {
        store.size(&key).await.unwrap().is_none().then_some(())
    })
    .await;
    second.assert_jobs_settled().await;
    second.stop().await;
}

// ---------------------------------------------------------------------------------------
// BLOCK / unblock

#[tokio::test]
async fn an_admin_block_shows_its_reason_stops_downloads_and_unblock_restores_the_previous_state() {
    let server = TestServer::spawn().await;
    let owner = &server.client;
    let sharee = server.new_client(false).await;
    let admin = server.new_client(true).await;
    let data = picture(23);
    let (id, _) = image_with_main(owner, &image("frozen"), &data).await;
    let shown = wait_state(owner, &id, "ACTIVED").await;
    let url = url_of(main_of(&shown)).unwrap().to_owned();
    share_with(owner, &id, &sharee).await;
    let block = format!("/admin/digital-assets/{id}/block");
    let unblock = format!("/admin/digital-assets/{id}/unblock");

    owner
        .post(&block, &json!({"block_reason_code": "X", "reason": "y"}))
        .await
        .expect_error(403, "MSS.00000006");
    admin
        .post(
            &block,
            &json!({"block_reason_code": "x".repeat(65), "reason": "y"}),
        )
        .await
        .expect_error(400, "MSS.00000003");
    admin
        .post(
            "/admin/digital-assets/no-such-asset/block",
            &json!({"reason": "y"}),
        )
        .await
        .expect_error(404, "MSS.10001001");

    let reply = admin
        .post(
            &block,
            &json!({"block_reason_code": "COPYRIGHT", "reason": "reported by the rights holder"}),
        )
        .await;
    assert_eq!(reply.ok()["asset_state"], "BLOCK");
    let shown = owner.show(&id).await;
    assert_eq!(shown["asset_state"], "BLOCK");
    assert_eq!(shown["block_reason_code"], "COPYRIGHT");
    assert_eq!(shown["reason"], "reported by the rights holder");
    assert_eq!(url_of(main_of(&shown)), None);
    assert_eq!(url_of(main_of(&sharee.show(&id).await)), None);
    owner
        .fetch(&url, None)
        .await
        .expect_error(403, "MSS.00000006");
    let summary = owner
        .post("/digital-assets/summarys", &json!({"asset_ids": [id]}))
        .await;
    assert_eq!(
        summary.ok()["asset_list"][0]["block_reason_code"],
        "COPYRIGHT"
    );
    // The owner cannot lift it or edit around it.
    owner
        .put(
            &format!("/digital-assets/{id}"),
            &json!({"asset_state": "ACTIVED"}),
        )
        .await
        .expect_error(400, "MSS.00000003");
    owner
        .put(
            &format!("/digital-assets/{id}"),
            &json!({"asset_name": "x"}),
        )
        .await
        .expect_error(400, "MSS.00000003");
    owner
        .post(&unblock, &json!({"reason": "please"}))
        .await
        .expect_error(403, "MSS.00000006");

    let reply = admin
        .post(&unblock, &json!({"reason": "licence shown"}))
        .await;
    assert_eq!(reply.ok()["asset_state"], "ACTIVED");
    let shown = owner.show(&id).await;
    assert_eq!(shown["asset_state"], "ACTIVED");
    assert_eq!(shown.get("block_reason_code"), None);
    assert_eq!(shown["reason"], "licence shown");
    assert_eq!(owner.fetch(&url, None).await.bytes, data);
    admin
        .post(&unblock, &json!({"reason": "again"}))
        .await
        .expect_error(400, "MSS.00000003");

    // Unblock returns to whatever the state was, e.g. UNACTIVED.
    owner
        .put(
            &format!("/digital-assets/{id}"),
            &json!({"asset_state": "UNACTIVED"}),
        )
        .await
        .ok();
    admin.post(&block, &json!({"reason": "again"})).await.ok();
    assert_eq!(owner.show(&id).await["block_reason_code"], "ADMIN");
    admin.post(&unblock, &json!({"reason": "ok"})).await.ok();
    assert_eq!(state_of(owner, &id).await, "UNACTIVED");
    server.assert_jobs_settled().await;
}

// ---------------------------------------------------------------------------------------
// System properties

#[tokio::test]
async fn system_properties_are_added_and_deleted_by_admins_only_and_checked_per_key() {
    let server = TestServer::spawn().await;
    let owner = &server.client;
    let admin = server.client_for(&owner.project, true).await;
    let id = owner.create_asset(&image("props")).await;
    let path = format!("/digital-assets/{id}");
    let put = |c: &Client, items: Value| {
        let (c, path) = (c.clone(), path.clone());
        async move { c.put(&path, &json!({"system_properties": items})).await }
    };

    let msg = put(
        owner,
        json!([{"action": "ADD", "key": "MATERIAL_IMG", "value": "Yes"}]),
    )
    .await
    .expect_error(400, "MSS.00000003")
    .to_owned();
    assert!(msg.contains("system_properties"), "{msg}");
    for (key, bad, good) in [
        ("MATERIAL_IMG", "No", "Yes"),
        ("BACKGROUND_SCENE", "Diagonal", "Vertical"),
        ("CHAT_IS_AUTHORIZED", "maybe", "YES"),
    ] {
        let msg = put(&admin, json!([{"action": "ADD", "key": key, "value": bad}]))
            .await
            .expect_error(400, "MSS.00000003")
            .to_owned();
        assert!(msg.contains("system_properties[0].value"), "{msg}");
        put(
            &admin,
            json!([{"action": "ADD", "key": key, "value": good}]),
        )
        .await
        .ok();
    }
    put(
        &admin,
        json!([{"action": "ADD", "key": "NOT_A_KEY", "value": "Yes"}]),
    )
    .await
    .expect_error(400, "MSS.00000003");
    assert_eq!(
        owner.show(&id).await["system_properties"],
        json!([
            {"key": "MATERIAL_IMG", "value": "Yes"},
            {"key": "BACKGROUND_SCENE", "value": "Vertical"},
            {"key": "CHAT_IS_AUTHORIZED", "value": "YES"}
        ])
    );
    put(owner, json!([{"action": "DELETE", "key": "MATERIAL_IMG"}]))
        .await
        .expect_error(400, "MSS.00000003");
    let updated = put(&admin, json!([{"action": "DELETE", "key": "MATERIAL_IMG"}])).await;
    assert_eq!(
        updated.ok()["system_properties"],
        json!([
            {"key": "BACKGROUND_SCENE", "value": "Vertical"},
            {"key": "CHAT_IS_AUTHORIZED", "value": "YES"}
        ])
    );
}

// ---------------------------------------------------------------------------------------
// Webhooks

#[tokio::test]
async fn every_state_change_is_posted_to_the_webhook_signed_with_its_secret() {
    let receiver = Receiver::start(Failing {
        first: 0,
        hang_first: None,
    })
    .await;
    // The receiver listens on loopback, which webhooks may only call when allowed.
    let server = TestServer::spawn_with(|c| c.webhook_allow_hosts = vec!["127.0.0.1".into()]).await;
    let c = &server.client;

    c.put("/webhook", &json!({"url": "ftp://example.com/hook"}))
        .await
        .expect_error(400, "MSS.00000003");
    c.put("/webhook", &json!({"url": receiver.url, "secret": "short"}))
        .await
        .expect_error(400, "MSS.00000003");
    let generated = c.put("/webhook", &json!({"url": receiver.url})).await;
    let generated = generated.ok()["secret"].as_str().unwrap().to_owned();
    assert_eq!(
        generated.len(),
        64,
        "a generated secret is 32 random bytes in hex"
    );
    let secret = "a-webhook-secret-of-the-test";
    let reply = c
        .put("/webhook", &json!({"url": receiver.url, "secret": secret}))
        .await;
    assert_eq!(reply.ok(), &json!({"url": receiver.url, "secret": secret}));
    assert_eq!(c.get("/webhook").await.ok(), &json!({"url": receiver.url}));

    let data = picture(24);
    let (id, _) = image_with_main(c, &image("hooked"), &data).await;
    wait_state(c, &id, "ACTIVED").await;
    c.delete(&format!("/digital-assets/{id}")).await.ok();

    let hits = wait_for("three events", 20, || async {
        let hits = receiver.hits_for(&id);
        (hits.len() >= 3).then_some(hits)
    })
    .await;
    let mut changes: Vec<(Value, Value)> = hits
        .iter()
        .map(|hit| {
            assert_signed(hit, secret);
            let event = hit.event();
            assert_eq!(event["event_type"], "asset.state_changed");
            assert_eq!(event["project_id"], c.project);
            assert_eq!(event["asset_name"], "hooked");
            assert_eq!(event["asset_type"], "IMAGE");
            OffsetDateTime::parse(event["time"].as_str().unwrap(), &Rfc3339).unwrap();
            (event["from_state"].clone(), event["to_state"].clone())
        })
        .collect();
    changes.sort_by_key(|(from, _)| from.to_string());
    assert_eq!(
        changes,
        [
            (json!("ACTIVED"), json!("DELETING")),
            (json!("CREATING"), json!("ACTIVED")),
            (Value::Null, json!("CREATING")),
        ]
    );

    // Without a webhook nothing is sent.
    c.delete("/webhook").await.ok();
    assert_eq!(c.get("/webhook").await.ok(), &json!({"url": null}));
    let quiet = c.create_asset(&image("quiet")).await;
    server.assert_jobs_settled().await;
    assert!(receiver.hits_for(&quiet).is_empty());
}

#[tokio::test]
async fn a_failing_webhook_is_retried_with_backoff_without_holding_up_requests() {
    let receiver = Receiver::start(Failing {
        first: 2,
        hang_first: Some(Duration::from_secs(3)),
    })
    .await;
    let server = TestServer::spawn_with(|c| {
        c.webhook_timeout_secs = 1;
        c.webhook_allow_hosts = vec!["127.0.0.1".into()];
    })
    .await;
    let c = &server.client;
    let secret = "retry-secret-0123456789";
    c.put("/webhook", &json!({"url": receiver.url, "secret": secret}))
        .await
        .ok();

    let id = c.create_asset(&image("retried")).await;
    // While the first delivery hangs, another change goes through at once.
    wait_for("the first delivery to arrive", 10, || async {
        (!receiver.hits_for(&id).is_empty()).then_some(())
    })
    .await;
    let started = Instant::now();
    c.delete(&format!("/digital-assets/{id}")).await.ok();
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "the request waited for the webhook"
    );

    let hits = wait_for("both events to be delivered", 40, || async {
        let hits = receiver.hits_for(&id);
        (hits.iter().filter(|h| h.answered == 200).count() == 2).then_some(hits)
    })
    .await;
    for to_state in ["CREATING", "DELETING"] {
        let attempts: Vec<&Hit> = hits
            .iter()
            .filter(|h| h.event()["to_state"] == to_state)
            .collect();
        assert_eq!(
            attempts.iter().map(|h| h.answered).collect::<Vec<_>>(),
            [500, 500, 200],
            "{to_state}: two failures, then success, then nothing more"
        );
        let ids: Vec<Value> = attempts
            .iter()
            .map(|h| h.event()["event_id"].clone())
            .collect();
        assert!(
            ids.iter().all(|i| *i == ids[0]),
            "a retry resends the same event"
        );
        for hit in &attempts {
            assert_signed(hit, secret);
        }
        let gaps: Vec<Duration> = attempts.windows(2).map(|w| w[1].at - w[0].at).collect();
        assert!(
            gaps[0] >= Duration::from_millis(1900) && gaps[1] >= Duration::from_millis(3900),
            "{to_state}: retries back off 2 s, then 4 s; gaps were {gaps:?}"
        );
    }
    server.assert_jobs_settled().await;
}
