//! The operator's side: `/ready` and `assetd doctor`, `/metrics`, logs without colour or as
//! JSON, `credentials list|revoke|rotate` (tokens end with their SK), the OpenAPI document
//! against the router and the official SDK's request models, and processing progress in
//! `show_asset`.

mod common;

use std::collections::BTreeSet;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use axum::routing::post;
use axum::{Json, Router};
use common::child::{assetd, assetd_on, ChildServer};
use common::{fixture, png, Client, Media, TestServer};
use serde_json::{json, Value};

async fn get(url: &str) -> (u16, String, Option<String>) {
    let r = reqwest::get(url).await.expect("GET");
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, r.text().await.unwrap(), ct)
}

async fn wait_state(client: &Client, id: &str, want: &str) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let asset = client.show(id).await;
        if asset["asset_state"] == want {
            return asset;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "asset never became {want}: {asset}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn upload_asset(client: &Client, kind: &str, name: &str, data: &[u8]) -> String {
    let id = client
        .create_asset(&json!({"asset_name": name, "asset_type": kind}))
        .await;
    client.upload(&id, name, "MAIN", data).await;
    id
}

// ------------------------------------------------------------------------------ readiness

#[tokio::test]
async fn ready_lists_every_dependency_with_its_version_and_health_stays_cheap() {
    let server = TestServer::spawn().await;
    let (status, body, _) = get(&format!("{}/ready", server.base)).await;
    assert_eq!(status, 200, "{body}");
    let reply: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(reply["status"], "ready");
    let checks = reply["checks"].as_array().unwrap();
    let names: Vec<&str> = checks.iter().map(|c| c["name"].as_str().unwrap()).collect();
    for wanted in [
        "catalogue",
        "blob_store",
        "ffmpeg",
        "ffprobe",
        "pdftoppm",
        "soffice",
    ] {
        assert!(names.contains(&wanted), "{wanted} missing from {names:?}");
    }
    for check in checks {
        assert_eq!(check["ok"], true, "{check}");
    }
    let ffmpeg = checks.iter().find(|c| c["name"] == "ffmpeg").unwrap();
    assert!(
        ffmpeg["detail"]
            .as_str()
            .unwrap()
            .starts_with("ffmpeg version"),
        "{ffmpeg}"
    );
    let (status, body, _) = get(&format!("{}/health", server.base)).await;
    assert_eq!((status, body.as_str()), (200, r#"{"status":"ok"}"#));
}

#[tokio::test]
async fn ready_answers_503_naming_a_broken_blob_store_while_health_stays_ok() {
    let server = TestServer::spawn().await;
    let tmp = server.data_dir().join("blobs").join("tmp");
    if !server.data_dir().join("blobs").is_dir() {
        eprintln!("the blob store is not on local disk here; nothing to break");
        return;
    }
    // A file where the store keeps its temporary objects: every write fails.
    std::fs::remove_dir_all(&tmp).ok();
    std::fs::write(&tmp, b"in the way").unwrap();
    let (status, body, _) = get(&format!("{}/ready", server.base)).await;
    assert_eq!(status, 503, "{body}");
    let reply: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(reply["error_code"], "MSS.00000007");
    assert_eq!(reply["status"], "not_ready");
    let msg = reply["error_msg"].as_str().unwrap();
    assert!(msg.contains("blob_store"), "{msg}");
    assert!(
        !msg.contains("catalogue:"),
        "only the store is broken: {msg}"
    );
    let (status, _, _) = get(&format!("{}/health", server.base)).await;
    assert_eq!(status, 200);

    std::fs::remove_file(&tmp).unwrap();
    let (status, body, _) = get(&format!("{}/ready", server.base)).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn doctor_prints_the_same_checks_for_an_operator() {
    let dir = tempfile::tempdir().unwrap();
    let out = tokio::process::Command::from(assetd())
        .arg("--data-dir")
        .arg(dir.path())
        .arg("doctor")
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in [
        "catalogue",
        "blob_store",
        "ffmpeg",
        "ffprobe",
        "pdftoppm",
        "soffice",
    ] {
        assert!(
            text.lines()
                .any(|l| l.starts_with("ok ") && l.contains(line)),
            "{line} not ok in:\n{text}"
        );
    }
    assert!(text.ends_with("ready\n"), "{text}");

    // A data directory that cannot hold a catalogue is reported, with exit 1.
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    let out = tokio::process::Command::from(assetd())
        .arg("--data-dir")
        .arg(&file)
        .arg("doctor")
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("FAIL catalogue / blob store"), "{text}");
    assert!(text.ends_with("NOT READY\n"), "{text}");
}

#[tokio::test]
async fn a_relative_data_dir_still_processes_media() {
    // The default data directory is `./data`; tools must still get absolute paths.
    let dir = tempfile::tempdir().unwrap();
    let out = tokio::process::Command::from(assetd())
        .current_dir(dir.path())
        .args([
            "--data-dir",
            "data",
            "credentials",
            "create",
            "--project-id",
            "rel",
        ])
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut command = assetd();
    let mut child = command
        .current_dir(dir.path())
        .args([
            "--data-dir",
            "data",
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while reqwest::get(format!("{base}/health")).await.is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "server never answered"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let client = Client::connect(
        &base,
        "rel",
        &value_of(&text, "access_key"),
        &value_of(&text, "secret_key"),
    );
    let id = upload_asset(&client, "AUDIO", "tone.wav", &fixture(Media::Wav)).await;
    let asset = wait_until_settled(&client, &id).await;
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(asset["asset_state"], "ACTIVED", "{asset}");
}

async fn wait_until_settled(client: &Client, id: &str) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let asset = client.show(id).await;
        if asset["asset_state"] != "CREATING" {
            return asset;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still CREATING: {asset}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

// -------------------------------------------------------------------------------- metrics

fn metric_value(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .find(|l| {
            labels
                .iter()
                .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test]
async fn metrics_count_requests_by_route_template_bytes_tools_jobs_and_assets() {
    let server = TestServer::spawn().await;
    let client = &server.client;
    let image = png(64, 48);
    let wav = fixture(Media::Wav);
    let image_id = upload_asset(client, "IMAGE", "m.png", &image).await;
    let audio_id = upload_asset(client, "AUDIO", "m.wav", &wav).await;
    wait_state(client, &image_id, "ACTIVED").await;
    let shown = wait_state(client, &audio_id, "ACTIVED").await;
    let url = shown["files"][0]["download_url"].as_str().unwrap();
    assert_eq!(client.fetch(url, None).await.bytes, wav);
    client.get("/digital-assets/no-such-asset").await;

    let (status, text, content_type) = get(&format!("{}/metrics", server.base)).await;
    assert_eq!(status, 200);
    assert!(content_type.unwrap().starts_with("text/plain"));
    let show = metric_value(
        &text,
        "assetd_http_requests_total",
        &[
            ("method", "GET"),
            ("route", "/v1/{project_id}/digital-assets/{asset_id}"),
            ("status", "200"),
        ],
    );
    assert!(show.unwrap_or(0.0) >= 2.0, "{text}");
    assert!(metric_value(
        &text,
        "assetd_http_requests_total",
        &[
            ("route", "/v1/{project_id}/digital-assets/{asset_id}"),
            ("status", "404")
        ]
    )
    .is_some());
    assert!(text.contains("# TYPE assetd_http_request_duration_seconds histogram"));
    assert!(
        metric_value(
            &text,
            "assetd_http_request_duration_seconds_bucket",
            &[("le", "+Inf")]
        )
        .is_some(),
        "{text}"
    );
    let up = metric_value(&text, "assetd_upload_bytes_total", &[]).unwrap();
    assert!(up >= (image.len() + wav.len()) as f64, "{up}");
    let down = metric_value(&text, "assetd_download_bytes_total", &[]).unwrap();
    assert!(down >= wav.len() as f64, "{down}");
    let probes = metric_value(
        &text,
        "assetd_tool_runs_total",
        &[("tool", "ffprobe"), ("outcome", "ok")],
    );
    assert!(probes.unwrap_or(0.0) >= 1.0, "{text}");
    assert!(text.contains("assetd_tool_run_duration_seconds_bucket"));
    assert_eq!(
        metric_value(&text, "assetd_assets", &[("state", "ACTIVED")]),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        metric_value(
            &text,
            "assetd_jobs",
            &[("kind", "process_main_file"), ("state", "running")]
        ),
        Some(0.0)
    );
    assert_eq!(
        metric_value(&text, "assetd_review_queue_length", &[]),
        Some(0.0)
    );
    // No per-asset labels, no raw paths, no secrets.
    for secret in [
        &image_id,
        &audio_id,
        &client.project,
        &client.sk,
        &client.ak,
    ] {
        assert!(
            !text.contains(secret.as_str()),
            "{secret} leaked into metrics"
        );
    }
}

#[tokio::test]
async fn metrics_can_live_on_their_own_address() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = dir.path().join("assetd.toml");
    std::fs::write(&config, format!("metrics_listen = \"127.0.0.1:{port}\"\n")).unwrap();
    let server = ChildServer::start(dir.path(), Some(&config), dir.path().join("log")).await;
    let (status, body, _) = get(&format!("{}/metrics", server.base)).await;
    assert_eq!(
        status, 404,
        "the API listener does not serve metrics: {body}"
    );
    assert!(body.contains("MSS.00010003"));
    let (status, body, _) = get(&format!("http://127.0.0.1:{port}/metrics")).await;
    assert_eq!(status, 200);
    assert!(body.contains("assetd_assets"), "{body}");
}

// ----------------------------------------------------------------------------------- logs

#[tokio::test]
async fn logs_are_plain_text_off_a_terminal_and_json_lines_on_request() {
    for format in ["text", "json"] {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("server.log");
        let mut server = start_logging(dir.path(), &log, format).await;
        let client = reqwest::Client::new();
        client
            .get(format!("{}/v1/p/digital-assets", server.0))
            .send()
            .await
            .unwrap();
        let _ = server.1.kill();
        let _ = server.1.wait();
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(text.contains("assetd ready"), "{text}");
        assert!(
            !text.contains('\u{1b}'),
            "ANSI escapes in {format} logs:\n{text}"
        );
        if format == "json" {
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                let v: Value = serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
                assert!(v["level"].is_string() && v["fields"].is_object(), "{line}");
            }
        }
    }
}

/// `assetd serve` with info logs in `format`, stderr to `log`; returns (base, child).
async fn start_logging(
    dir: &std::path::Path,
    log: &std::path::Path,
    format: &str,
) -> (String, std::process::Child) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut command = assetd();
    let child = command
        .env("ASSETD_LOG", "info")
        .env("ASSETD_LOG_FORMAT", format)
        .arg("--data-dir")
        .arg(dir)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while reqwest::get(format!("{base}/health")).await.is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "server never answered"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (base, child)
}

// ---------------------------------------------------------------------------- credentials

/// `assetd ARGS` on `data_dir`'s catalogue, the one `ChildServer::start` serves.
async fn cli(data_dir: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let out = tokio::process::Command::from(assetd_on(data_dir))
        .args(args)
        .output()
        .await
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn value_of(text: &str, key: &str) -> String {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("no {key} in {text}"))
        .to_owned()
}

async fn token(client: &Client) -> String {
    let reply = client.post("/auth-tokens", &json!({})).await;
    reply.ok()["token"].as_str().unwrap().to_owned()
}

async fn with_token(base: &str, project: &str, token: &str) -> u16 {
    reqwest::Client::new()
        .get(format!("{base}/v1/{project}/digital-assets"))
        .header("x-auth-token", token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn credentials_are_listed_without_secrets_and_rotate_and_revoke_take_effect_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = cli(
        dir.path(),
        &["credentials", "create", "--project-id", "proj-ops"],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let (ak, sk) = (value_of(&out, "access_key"), value_of(&out, "secret_key"));
    let server = ChildServer::start(dir.path(), None, dir.path().join("log")).await;
    let old = Client::connect(&server.base, "proj-ops", &ak, &sk);
    old.get("/digital-assets").await.ok();
    let old_token = token(&old).await;
    assert_eq!(with_token(&server.base, "proj-ops", &old_token).await, 200);

    let (code, out, _) = cli(dir.path(), &["credentials", "list"]).await;
    assert_eq!(code, 0);
    assert!(out.contains(&ak) && out.contains("proj-ops"), "{out}");
    assert!(!out.contains(&sk), "list shows a secret key:\n{out}");
    let (_, json_out, _) = cli(dir.path(), &["credentials", "list", "--json"]).await;
    let row: Value = serde_json::from_str(json_out.lines().next().unwrap()).unwrap();
    assert_eq!(row["access_key"], ak.as_str());
    assert!(!json_out.contains(&sk));

    let (code, out, err) = cli(dir.path(), &["credentials", "rotate", "--access-key", &ak]).await;
    assert_eq!(code, 0, "{err}");
    let new_sk = value_of(&out, "secret_key");
    assert_ne!(new_sk, sk);
    // The old SK and every token issued under it stop working; the new SK works.
    old.get("/digital-assets")
        .await
        .expect_error(401, "MSS.00000001");
    assert_eq!(with_token(&server.base, "proj-ops", &old_token).await, 401);
    let new = Client::connect(&server.base, "proj-ops", &ak, &new_sk);
    new.get("/digital-assets").await.ok();
    let new_token = token(&new).await;
    assert_eq!(with_token(&server.base, "proj-ops", &new_token).await, 200);

    let (code, _, err) = cli(dir.path(), &["credentials", "revoke", "--access-key", &ak]).await;
    assert_eq!(code, 0, "{err}");
    new.get("/digital-assets")
        .await
        .expect_error(401, "MSS.00000001");
    assert_eq!(with_token(&server.base, "proj-ops", &new_token).await, 401);
    let (code, _, err) = cli(dir.path(), &["credentials", "revoke", "--access-key", &ak]).await;
    assert_eq!(code, 1, "revoking an unknown key fails");
    assert!(err.contains(&ak), "{err}");
}

#[tokio::test]
async fn tokens_stop_working_when_their_credentials_sk_changes() {
    let server = TestServer::spawn().await;
    let client = &server.client;
    let issued = token(client).await;
    assert_eq!(
        with_token(&server.base, &client.project, &issued).await,
        200
    );
    // Any SK change, here replacing the credential with `credentials create`'s code path.
    assetd::service::auth::create_credential(
        server.app.catalog.as_ref(),
        &client.project,
        Some(client.ak.clone()),
        Some("a-completely-different-secret".into()),
        false,
    )
    .await
    .unwrap();
    assert_eq!(
        with_token(&server.base, &client.project, &issued).await,
        401
    );
    let fresh = Client::connect(
        &server.base,
        &client.project,
        &client.ak,
        "a-completely-different-secret",
    );
    let new_token = token(&fresh).await;
    assert_eq!(
        with_token(&server.base, &client.project, &new_token).await,
        200
    );
}

// -------------------------------------------------------------------------------- openapi

/// `(METHOD, path)` of every `.route(…)` in the router sources. The web console
/// (`routes/console/`) serves HTML pages, not API operations; `tests/console.rs` covers it.
fn router_routes() -> BTreeSet<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http");
    let mut sources = Vec::new();
    let mut stack = vec![dir];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(d).unwrap().flatten() {
            let p = e.path();
            if p.ends_with("routes/console") {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                sources.push(std::fs::read_to_string(p).unwrap());
            }
        }
    }
    let mut routes = BTreeSet::new();
    for src in sources {
        let mut rest = src.as_str();
        while let Some(at) = rest.find(".route(") {
            rest = &rest[at + ".route(".len()..];
            let Some(open) = rest.find('"') else { break };
            let after = &rest[open + 1..];
            let close = after.find('"').unwrap();
            let path = after[..close].to_owned();
            // The handlers: up to the parenthesis closing `.route(`.
            let mut depth = 1;
            let mut end = 0;
            for (i, c) in rest.char_indices() {
                match c {
                    '(' => depth += 1,
                    ')' => {
                        depth -= 1;
                        if depth == 0 {
                            end = i;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            let handlers = &rest[..end];
            for method in ["get", "post", "put", "delete", "head", "patch"] {
                let called = handlers.match_indices(&format!("{method}(")).any(|(i, _)| {
                    i == 0 || !handlers[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_')
                });
                if called {
                    routes.insert((method.to_uppercase(), path.clone()));
                }
            }
        }
    }
    routes
}

async fn openapi(server: &TestServer) -> Value {
    let (status, body, _) = get(&format!("{}/openapi.json", server.base)).await;
    assert_eq!(status, 200);
    serde_json::from_str(&body).unwrap()
}

#[tokio::test]
async fn every_route_of_the_router_is_in_the_openapi_document() {
    let server = TestServer::spawn().await;
    let doc = openapi(&server).await;
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    let routes = router_routes();
    assert!(
        routes.len() > 30,
        "the source scan found too little: {routes:?}"
    );
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.insert((method.to_uppercase(), path.clone()));
        }
    }
    let missing: Vec<_> = routes.difference(&documented).collect();
    assert!(
        missing.is_empty(),
        "routes missing from /openapi.json: {missing:?}"
    );
    let extra: Vec<_> = documented.difference(&routes).collect();
    assert!(extra.is_empty(), "documented but not routed: {extra:?}");
}

/// Follows `$ref`s into `#/components/schemas`.
fn resolve<'a>(doc: &'a Value, mut schema: &'a Value) -> &'a Value {
    while let Some(r) = schema["$ref"].as_str() {
        let name = r.trim_start_matches("#/components/schemas/");
        schema = &doc["components"]["schemas"][name];
    }
    schema
}

/// The member of a schema that has properties (through `oneOf`/`anyOf`/`allOf` with null).
fn object<'a>(doc: &'a Value, schema: &'a Value) -> Option<&'a Value> {
    let schema = resolve(doc, schema);
    if schema["properties"].is_object() {
        return Some(schema);
    }
    ["oneOf", "anyOf", "allOf"]
        .iter()
        .filter_map(|k| schema[*k].as_array())
        .flatten()
        .find_map(|s| object(doc, s))
}

/// The item schema of an array schema (through `oneOf` with null).
fn items<'a>(doc: &'a Value, schema: &'a Value) -> Option<&'a Value> {
    let schema = resolve(doc, schema);
    if schema["items"].is_object() {
        return Some(&schema["items"]);
    }
    ["oneOf", "anyOf"]
        .iter()
        .filter_map(|k| schema[*k].as_array())
        .flatten()
        .find_map(|s| items(doc, s))
}

fn model_name(sdk_type: &str) -> &str {
    let mut t = sdk_type;
    loop {
        if let Some(inner) = t.strip_prefix("list[").and_then(|x| x.strip_suffix(']')) {
            t = inner;
        } else if let Some(inner) = t.strip_prefix("dict(").and_then(|x| x.strip_suffix(')')) {
            t = inner.split_once(',').map_or(inner, |(_, v)| v.trim());
        } else {
            return t;
        }
    }
}

fn check_model(
    doc: &Value,
    models: &Value,
    model: &str,
    schema: &Value,
    at: &str,
    missing: &mut Vec<String>,
) {
    let Some(fields) = models[model].as_object() else {
        return;
    };
    if fields.is_empty() {
        return;
    }
    let Some(obj) = object(doc, schema) else {
        missing.push(format!("{at}: no object schema for {model}"));
        return;
    };
    for (field, sdk_type) in fields {
        let Some(prop) = obj["properties"].get(field) else {
            missing.push(format!("{at}.{field} ({model})"));
            continue;
        };
        let sdk_type = sdk_type.as_str().unwrap();
        let nested = model_name(sdk_type);
        if models[nested].as_object().is_some_and(|f| !f.is_empty()) && nested != model {
            let sub = if sdk_type.starts_with("list[") {
                match items(doc, prop) {
                    Some(s) => s,
                    None => {
                        missing.push(format!("{at}.{field}: not an array"));
                        continue;
                    }
                }
            } else {
                prop
            };
            check_model(doc, models, nested, sub, &format!("{at}.{field}"), missing);
        }
    }
}

#[tokio::test]
async fn every_field_of_the_sdk_request_models_is_in_the_openapi_schemas() {
    let server = TestServer::spawn().await;
    let doc = openapi(&server).await;
    // Extracted from huaweicloudsdkmetastudio by scripts/sdk-request-models.py.
    let fixture: Value = serde_json::from_str(include_str!("fixtures/sdk_request_models.json"))
        .expect("fixture parses");
    let models = &fixture["models"];
    let mut missing = Vec::new();
    for op in fixture["operations"].as_array().unwrap() {
        let name = op["name"].as_str().unwrap();
        let path = op["path"].as_str().unwrap();
        let method = op["method"].as_str().unwrap().to_lowercase();
        let operation = &doc["paths"][path][&method];
        if !operation.is_object() {
            missing.push(format!("{name}: {method} {path} is not documented"));
            continue;
        }
        let params: Vec<(String, String)> = operation["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| {
                (
                    p["in"].as_str().unwrap().to_owned(),
                    p["name"].as_str().unwrap().to_lowercase(),
                )
            })
            .collect();
        for (kind, key) in [
            ("path", "path_params"),
            ("query", "query_params"),
            ("header", "header_params"),
        ] {
            for p in op[key].as_array().unwrap() {
                let p = p.as_str().unwrap().to_lowercase();
                if !params.contains(&(kind.to_owned(), p.clone())) {
                    missing.push(format!("{name}: {kind} parameter {p}"));
                }
            }
        }
        if let Some(body) = op["body_model"].as_str() {
            let schema = &operation["requestBody"]["content"]["application/json"]["schema"];
            if schema.is_null() {
                missing.push(format!("{name}: no JSON request body"));
            } else {
                check_model(&doc, models, body, schema, name, &mut missing);
            }
        }
    }
    assert!(
        missing.is_empty(),
        "missing from /openapi.json:\n{}",
        missing.join("\n")
    );
}

// ------------------------------------------------------------------- processing progress

/// A reviewer that holds every request until released.
async fn gated_reviewer(gate: Arc<tokio::sync::Notify>) -> String {
    let router = Router::new().route(
        "/review",
        post(move || {
            let gate = gate.clone();
            async move {
                gate.notified().await;
                Json(json!({"verdict": "PASS"}))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}/review")
}

async fn wait_processing(client: &Client, id: &str, step: &str) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let asset = client.show(id).await;
        if asset["processing"]["step"] == step {
            return asset;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never saw step {step}: {asset}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn show_asset_says_which_step_processing_is_in() {
    let gate = Arc::new(tokio::sync::Notify::new());
    let url = gated_reviewer(gate.clone()).await;
    let server = TestServer::spawn_with(move |c| {
        c.review_url = Some(url);
        c.review_timeout_secs = 300;
        c.workers = 1;
    })
    .await;
    let client = &server.client;
    let first = upload_asset(client, "IMAGE", "a.png", &png(40, 30)).await;
    let held = wait_processing(client, &first, "reviewing").await;
    assert_eq!(held["asset_state"], "CREATING");
    assert_eq!(held["processing"]["attempt"], 1);
    assert!(held["processing"]["max_attempts"].as_i64().unwrap() >= 1);
    // The only worker is busy: the next upload waits in the queue, and says so.
    let second = upload_asset(client, "IMAGE", "b.png", &png(30, 40)).await;
    let queued = client.show(&second).await;
    assert_eq!(queued["processing"]["step"], "queued", "{queued}");
    assert!(queued["processing"].get("percent").is_none());

    gate.notify_one();
    let done = wait_state(client, &first, "ACTIVED").await;
    assert!(done.get("processing").is_none(), "{done}");
    wait_processing(client, &second, "reviewing").await;
    gate.notify_one();
    wait_state(client, &second, "ACTIVED").await;
    // Listings never carry it.
    let list = client.get("/digital-assets").await;
    assert!(list.ok()["assets"][0].get("processing").is_none());
}
