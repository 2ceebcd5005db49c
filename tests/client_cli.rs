//! `assetd client`: the real binary as a child process against a test server. The official
//! Python SDK and the CLI see the same library; uploads resume after a kill; errors print the
//! MSS code with distinct exit codes; every list filter reaches the server.

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use axum::Router;
use common::child::assetd;
use common::{ffmpeg, fixture, md5_b64, png, sdk_python, Client, Media, TestServer};
use serde_json::{json, Value};

/// What a CLI run printed and how it ended.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    #[track_caller]
    fn ok(&self) -> &str {
        assert_eq!(
            self.code, 0,
            "stdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        &self.stdout
    }

    fn json_lines(&self) -> Vec<Value> {
        self.ok()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }
}

/// `assetd client` for `client`'s credentials, with a private state and config home.
struct Cli {
    endpoint: String,
    project: String,
    ak: String,
    sk: String,
    home: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl Cli {
    fn new(client: &Client) -> Self {
        Self {
            endpoint: client.base.clone(),
            project: client.project.clone(),
            ak: client.ak.clone(),
            sk: client.sk.clone(),
            home: tempfile::tempdir().unwrap(),
            env: Vec::new(),
        }
    }

    fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut c = assetd();
        c.env("HOME", self.home.path())
            .env("XDG_CONFIG_HOME", self.home.path().join("config"))
            .env("XDG_STATE_HOME", self.home.path().join("state"))
            .env("ASSETD_ENDPOINT", &self.endpoint)
            .env("ASSETD_PROJECT_ID", &self.project)
            .env("ASSETD_ACCESS_KEY", &self.ak)
            .env("ASSETD_SECRET_KEY", &self.sk);
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c.arg("client").args(args);
        tokio::process::Command::from(c)
    }

    async fn run(&self, args: &[&str]) -> Run {
        let out = self
            .command(args)
            .stdin(std::process::Stdio::null())
            .output()
            .await
            .expect("assetd runs");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

fn write(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, data).unwrap();
    path
}

/// Lists (every page) and shows each asset with the official SDK.
const SDK_SCRIPT: &str = r#"
import json, sys
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkmetastudio.v1 import MetaStudioClient, ListAssetsRequest, ShowAssetRequest
endpoint, project, ak, sk = sys.argv[1:5]
client = (MetaStudioClient.new_builder()
          .with_credentials(BasicCredentials(ak, sk, project))
          .with_endpoint(endpoint).build())
listed = client.list_assets(ListAssetsRequest(limit=100, offset=0))
out = {"count": listed.count, "assets": []}
for a in listed.assets:
    shown = client.show_asset(ShowAssetRequest(asset_id=a.asset_id))
    out["assets"].append({
        "asset_id": shown.asset_id, "asset_name": shown.asset_name,
        "asset_type": shown.asset_type, "asset_state": shown.asset_state,
        "tags": sorted(shown.tags or []),
        "main_md5": [f.file_md5 for f in (shown.files or []) if f.asset_file_category == "MAIN"],
    })
print(json.dumps(out))
"#;

fn summary(asset: &Value) -> Value {
    let mut tags: Vec<String> = asset["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| t.as_str().unwrap().to_owned())
        .collect();
    tags.sort();
    json!({
        "asset_id": asset["asset_id"],
        "asset_name": asset["asset_name"],
        "asset_type": asset["asset_type"],
        "asset_state": asset["asset_state"],
        "tags": tags,
        "main_md5": asset["files"].as_array().into_iter().flatten()
            .filter(|f| f["asset_file_category"] == "MAIN")
            .map(|f| f["file_md5"].clone()).collect::<Vec<_>>(),
    })
}

#[tokio::test]
async fn the_official_sdk_and_the_cli_see_the_same_library() {
    let server = TestServer::spawn().await;
    let cli = Cli::new(&server.client);
    let dir = tempfile::tempdir().unwrap();
    let media = dir.path().join("media");
    std::fs::create_dir(&media).unwrap();
    write(&media, "logo.png", &png(64, 48));
    write(&media, "tone.wav", &fixture(Media::Wav));
    write(&media, "clip.mp4", &fixture(Media::Mp4));
    write(&media, "notes.txt", b"not media");
    write(&media, ".hidden.png", &png(8, 8));

    // One command for a folder of mixed media: types from the extensions, the text file
    // skipped with a note, each asset followed to ACTIVED.
    let run = cli
        .run(&[
            "upload",
            media.to_str().unwrap(),
            "--tag",
            "batch",
            "--wait",
            "--json",
        ])
        .await;
    let lines = run.json_lines();
    assert_eq!(lines.len(), 3, "{}", run.stdout);
    for line in &lines {
        assert_eq!(line["asset_state"], "ACTIVED", "{line}");
        assert!(line["file"]
            .as_str()
            .unwrap()
            .starts_with(media.to_str().unwrap()));
    }
    assert!(
        run.stderr.contains("skipping") && run.stderr.contains("notes.txt"),
        "{}",
        run.stderr
    );
    // And one made through the API directly, still CREATING.
    server
        .client
        .create_asset(&json!({"asset_name": "empty", "asset_type": "IMAGE", "tags": ["x"]}))
        .await;

    let out = tokio::process::Command::new(sdk_python())
        .args([
            "-c",
            SDK_SCRIPT,
            &server.base,
            &cli.project,
            &cli.ak,
            &cli.sk,
        ])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sdk: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(sdk["count"], 4);

    let listed: Value =
        serde_json::from_str(cli.run(&["ls", "--json", "--limit", "100"]).await.ok()).unwrap();
    assert_eq!(listed["count"], 4);
    let mut from_cli = Vec::new();
    for asset in listed["assets"].as_array().unwrap() {
        let id = asset["asset_id"].as_str().unwrap();
        let shown: Value =
            serde_json::from_str(cli.run(&["show", id, "--json"]).await.ok()).unwrap();
        from_cli.push(summary(&shown));
    }
    let from_sdk: Vec<Value> = sdk["assets"].as_array().unwrap().clone();
    assert_eq!(from_cli, from_sdk);
    let types: Vec<&str> = from_cli
        .iter()
        .map(|a| a["asset_type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types.iter().filter(|t| **t == "VIDEO").count(),
        1,
        "{types:?}"
    );
    assert_eq!(
        types.iter().filter(|t| **t == "AUDIO").count(),
        1,
        "{types:?}"
    );
    assert_eq!(
        types.iter().filter(|t| **t == "IMAGE").count(),
        2,
        "{types:?}"
    );
}

#[tokio::test]
async fn ls_passes_every_filter_and_get_rm_restore_work() {
    let server = TestServer::spawn().await;
    let cli = Cli::new(&server.client);
    let dir = tempfile::tempdir().unwrap();
    let image = png(50, 40);
    let a = write(dir.path(), "alpha.png", &image);
    let up = cli
        .run(&[
            "upload",
            a.to_str().unwrap(),
            "--name",
            "Alpha one",
            "--tag",
            "red",
            "--tag",
            "big",
            "--wait",
            "--json",
        ])
        .await;
    let alpha = up.json_lines()[0]["asset_id"].as_str().unwrap().to_owned();
    let b = write(dir.path(), "beta.png", &png(20, 20));
    let up = cli
        .run(&[
            "upload",
            b.to_str().unwrap(),
            "--type",
            "image",
            "--tag",
            "red",
            "--json",
        ])
        .await;
    let beta = up.json_lines()[0]["asset_id"].as_str().unwrap().to_owned();
    assert_eq!(up.json_lines()[0]["asset_state"], "CREATING");

    let ids = |run: Run| -> Vec<String> {
        let v: Value = serde_json::from_str(run.ok()).unwrap();
        v["assets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["asset_id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        ids(cli.run(&["ls", "--json", "--tag", "big"]).await),
        vec![alpha.clone()]
    );
    assert_eq!(
        ids(cli
            .run(&["ls", "--json", "--name", "Alpha one", "--exact", "name"])
            .await),
        vec![alpha.clone()]
    );
    assert_eq!(
        ids(cli
            .run(&[
                "ls",
                "--json",
                "--tag",
                "red",
                "--sort-key",
                "create_time",
                "--sort-dir",
                "asc"
            ])
            .await),
        vec![alpha.clone(), beta.clone()]
    );
    assert_eq!(
        ids(cli
            .run(&["ls", "--json", "--asset-id", &beta, "--type", "IMAGE"])
            .await),
        vec![beta.clone()]
    );
    assert_eq!(
        ids(cli
            .run(&[
                "ls",
                "--json",
                "--limit",
                "1",
                "--offset",
                "1",
                "--sort-dir",
                "asc"
            ])
            .await),
        vec![beta.clone()]
    );
    // The table names every asset.
    let table = cli.run(&["ls"]).await;
    assert!(
        table.ok().contains(&alpha) && table.ok().contains("Alpha one"),
        "{}",
        table.stdout
    );
    // A filter the server refuses comes back as its MSS error.
    let refused = cli.run(&["ls", "--style-id", "s1"]).await;
    assert_eq!(refused.code, 4, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("MSS.00000003"),
        "{}",
        refused.stderr
    );

    let out = dir.path().join("copy.png");
    cli.run(&["get", &alpha, "-o", out.to_str().unwrap()])
        .await
        .ok();
    assert_eq!(std::fs::read(&out).unwrap(), image);
    let shown = cli.run(&["show", &alpha]).await;
    assert!(
        shown.ok().contains("ACTIVED") && shown.ok().contains("alpha.png"),
        "{}",
        shown.stdout
    );

    cli.run(&["rm", &alpha]).await.ok();
    assert_eq!(server.client.show(&alpha).await["asset_state"], "DELETING");
    cli.run(&["restore", &alpha]).await.ok();
    assert_eq!(server.client.show(&alpha).await["asset_state"], "ACTIVED");
    cli.run(&["rm", &beta, "--force"]).await.ok();
    assert_eq!(server.client.show(&beta).await["asset_state"], "DELETED");
    let again = cli.run(&["restore", &beta]).await;
    assert_eq!(
        again.code, 4,
        "a permanently deleted asset cannot come back"
    );
    assert!(again.stderr.contains("MSS.00000003"), "{}", again.stderr);
}

#[tokio::test]
async fn errors_print_the_mss_code_and_exit_codes_tell_usage_auth_and_server_apart() {
    let server = TestServer::spawn().await;
    let mut cli = Cli::new(&server.client);
    // Server: an unknown asset.
    let run = cli
        .run(&["show", "00000000-0000-0000-0000-000000000000"])
        .await;
    assert_eq!(run.code, 4, "{}", run.stderr);
    assert!(run.stderr.contains("MSS.10001001"), "{}", run.stderr);
    // Usage: a flag clap does not know, a file that does not exist, --name for two files.
    assert_eq!(cli.run(&["ls", "--colour"]).await.code, 2);
    let missing = cli.run(&["upload", "/no/such/file.png"]).await;
    assert_eq!(missing.code, 2, "{}", missing.stderr);
    let two = cli
        .run(&["upload", "/etc/hostname", "/etc/hosts", "--name", "x"])
        .await;
    assert_eq!(two.code, 2, "{}", two.stderr);
    // Server unreachable.
    let mut away = Cli::new(&server.client);
    away.endpoint = "http://127.0.0.1:9".into();
    let run = away.run(&["ls"]).await;
    assert_eq!(run.code, 4, "{}", run.stderr);
    assert!(run.stderr.contains("cannot reach"), "{}", run.stderr);
    // Auth: a wrong SK.
    cli.sk = "wrong-secret".into();
    let run = cli.run(&["ls"]).await;
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(run.stderr.contains("MSS.00000001"), "{}", run.stderr);
    // Usage: no SK at all, or an SK file others can read.
    cli.sk = String::new();
    let run = cli.run(&["ls"]).await;
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("ASSETD_SECRET_KEY"), "{}", run.stderr);
    let sk_file = write(cli.home.path(), "sk", server.client.sk.as_bytes());
    set_mode(&sk_file, 0o644);
    let sk_arg = sk_file.to_str().unwrap();
    let run = cli.run(&["ls", "--secret-key-file", sk_arg]).await;
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("readable by others"), "{}", run.stderr);
    set_mode(&sk_file, 0o600);
    cli.run(&["ls", "--secret-key-file", sk_arg]).await.ok();
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[tokio::test]
async fn a_named_profile_supplies_the_connection() {
    let server = TestServer::spawn().await;
    let mut cli = Cli::new(&server.client);
    let config = cli.home.path().join("config/assetd");
    std::fs::create_dir_all(&config).unwrap();
    let sk_file = write(
        cli.home.path(),
        "lab.sk",
        format!("{}\n", cli.sk).as_bytes(),
    );
    set_mode(&sk_file, 0o600);
    std::fs::write(
        config.join("config.toml"),
        format!(
            "[profiles.lab]\nendpoint = \"{}\"\nproject_id = \"{}\"\naccess_key = \"{}\"\nsecret_key_file = \"{}\"\n",
            cli.endpoint,
            cli.project,
            cli.ak,
            sk_file.display()
        ),
    )
    .unwrap();
    // Nothing from the environment: the profile alone connects.
    cli.env = vec![
        ("ASSETD_ENDPOINT".into(), String::new()),
        ("ASSETD_PROJECT_ID".into(), String::new()),
        ("ASSETD_ACCESS_KEY".into(), String::new()),
        ("ASSETD_SECRET_KEY".into(), String::new()),
    ];
    let run = cli.run(&["--profile", "lab", "ls", "--json"]).await;
    let listed: Value = serde_json::from_str(run.ok()).unwrap();
    assert_eq!(listed["count"], 0);
    let run = cli.run(&["--profile", "nope", "ls"]).await;
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("profiles.nope"), "{}", run.stderr);
}

// ------------------------------------------------------------------ resuming a large upload

/// A proxy in front of the server's upload URLs that lets `allow` part PUTs through and holds
/// every later one forever, like a connection that died mid-upload.
#[derive(Clone)]
struct Proxy {
    target: Arc<OnceLock<String>>,
    allow: Arc<AtomicUsize>,
    passed: Arc<AtomicUsize>,
    stored: Arc<AtomicUsize>,
    held: Arc<AtomicUsize>,
    http: reqwest::Client,
}

async fn forward(State(proxy): State<Proxy>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let is_part = parts.method == "PUT"
        && parts.uri.path().starts_with("/uploads/")
        && parts
            .uri
            .query()
            .is_some_and(|q| !q.contains("part=0") && q.contains("part="));
    if is_part {
        if proxy.passed.load(Ordering::SeqCst) >= proxy.allow.load(Ordering::SeqCst) {
            proxy.held.fetch_add(1, Ordering::SeqCst);
            std::future::pending::<()>().await;
        }
        proxy.passed.fetch_add(1, Ordering::SeqCst);
    }
    let url = format!(
        "{}{}",
        proxy.target.get().unwrap(),
        parts.uri.path_and_query().unwrap()
    );
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    let mut forwarded = proxy.http.request(parts.method.clone(), url).body(bytes);
    for (name, value) in &parts.headers {
        if name != "host" {
            forwarded = forwarded.header(name, value);
        }
    }
    let reply = forwarded.send().await.unwrap();
    if is_part {
        proxy.stored.fetch_add(1, Ordering::SeqCst);
    }
    let mut response = Response::builder().status(reply.status().as_u16());
    for (name, value) in reply.headers() {
        response = response.header(name, value);
    }
    response
        .body(Body::from(reply.bytes().await.unwrap()))
        .unwrap()
}

#[tokio::test]
async fn a_large_upload_resumes_after_the_client_is_killed() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy = Proxy {
        target: Arc::default(),
        allow: Arc::new(AtomicUsize::new(3)),
        passed: Arc::default(),
        stored: Arc::default(),
        held: Arc::default(),
        http: reqwest::Client::new(),
    };
    let public = format!("http://{}", listener.local_addr().unwrap());
    let server = TestServer::spawn_with({
        let public = public.clone();
        move |c| c.public_url = Some(public)
    })
    .await;
    proxy.target.set(server.base.clone()).unwrap();
    let router = Router::new().fallback(forward).with_state(proxy.clone());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });

    // 12 s of stereo PCM: about 2 MB, in 256 KiB parts above a 1 MiB threshold.
    let wav = ffmpeg(
        "-f lavfi -i sine=frequency=330:sample_rate=44100 -t 12 -c:a pcm_s16le -ac 2 -f wav",
        "wav",
    );
    let parts = wav.len().div_ceil(256 * 1024);
    assert!(parts >= 8, "{parts}");
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "long.wav", &wav);
    let mut cli = Cli::new(&server.client);
    cli.env = vec![
        (
            "ASSETD_CLIENT_LARGE_FILE_BYTES".into(),
            (1024 * 1024).to_string(),
        ),
        ("ASSETD_CLIENT_PART_BYTES".into(), (256 * 1024).to_string()),
    ];
    let args = [
        "upload",
        path.to_str().unwrap(),
        "--parallel",
        "2",
        "--wait",
        "--json",
    ];

    // First run: three parts get through (and are stored), then the connection hangs; the
    // client is killed.
    let mut first = cli
        .command(&args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while proxy.held.load(Ordering::SeqCst) == 0 || proxy.stored.load(Ordering::SeqCst) < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "the upload never stalled"
        );
        assert!(
            first.try_wait().unwrap().is_none(),
            "the client ended early"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first.kill().await.unwrap();
    assert_eq!(proxy.passed.load(Ordering::SeqCst), 3);
    let state_dir = cli.home.path().join("state/assetd/uploads");
    let saved: Vec<_> = std::fs::read_dir(&state_dir).unwrap().flatten().collect();
    assert_eq!(saved.len(), 1, "one upload in progress is remembered");
    let state: Value = serde_json::from_slice(&std::fs::read(saved[0].path()).unwrap()).unwrap();

    // Second run: the same asset, only the missing parts are sent.
    proxy.allow.store(usize::MAX, Ordering::SeqCst);
    let run = cli.run(&args).await;
    let lines = run.json_lines();
    assert_eq!(lines[0]["asset_id"], state["asset_id"], "{}", run.stderr);
    assert_eq!(lines[0]["asset_state"], "ACTIVED", "{}", run.stdout);
    assert!(run.stderr.contains("resuming"), "{}", run.stderr);
    assert_eq!(
        proxy.passed.load(Ordering::SeqCst),
        parts,
        "the three stored parts were not sent again"
    );
    assert_eq!(
        std::fs::read_dir(&state_dir).unwrap().count(),
        0,
        "state is removed when done"
    );

    // The library holds exactly the file's bytes.
    let id = lines[0]["asset_id"].as_str().unwrap();
    let copy = dir.path().join("copy.wav");
    cli.run(&["get", id, "-o", copy.to_str().unwrap()])
        .await
        .ok();
    assert_eq!(md5_b64(&std::fs::read(&copy).unwrap()), md5_b64(&wav));
    // Only one asset was created across both runs.
    let listed = server.client.get("/digital-assets").await;
    assert_eq!(listed.ok()["count"], 1);
}
