//! `assetd library copy`: a library moves from SQLite + local disk to PostgreSQL + S3 and
//! back with every record and every blob's MD5 verified, a copy SIGKILLed midway resumes and
//! ends identical, and a destination holding another library is refused.
//!
//! The middle stop is PostgreSQL when `ASSETD_TEST_DATABASE_URL` names a server and S3 when
//! `ASSETD_TEST_BLOB_URL` names a bucket (`scripts/test.sh` runs the suites once more with
//! both on Garage and a throwaway PostgreSQL); without them it is a second SQLite file and
//! directory, and the test says so.

mod common;

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::child::assetd;
use common::postgres::TestDatabase;
use common::{md5_b64, png, Client, TestServer};
use serde_json::{json, Value};

/// The embedded default in `dir`, as a copy's destination flags.
fn embedded(dir: &Path) -> [String; 2] {
    ["--to-data-dir".into(), dir.display().to_string()]
}

/// `assetd` on the embedded default in `dir` (whatever the test environment selects).
fn assetd_embedded(dir: &Path) -> Command {
    let mut command = assetd();
    command.arg("--data-dir").arg(dir);
    command
}

fn run(mut command: Command) -> Output {
    let output = command.output().expect("assetd runs");
    eprintln!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// `records (N written by this run)` of a copy's summary: (records, written).
fn records_written(stdout: &str) -> (u64, u64) {
    let line = stdout
        .lines()
        .find(|l| l.starts_with("copied "))
        .unwrap_or_else(|| panic!("a summary: {stdout}"));
    let numbers: Vec<u64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .collect();
    // copied T tables: R records (W written by this run), B blobs of N bytes (…)
    (numbers[1], numbers[2])
}

/// Files by name, with their bytes.
type Files = Vec<(String, Vec<u8>)>;

/// The library a test moves: each asset's id, how it was shown, and its files.
struct Library {
    client: Client,
    assets: Vec<(String, Value, Files)>,
}

async fn make_library(server: &TestServer) -> Library {
    let client = server.client.clone();
    let mut assets = Vec::new();
    for i in 0..5u32 {
        let asset_id = client
            .create_asset(&json!({
                "asset_name": format!("moving-{i}"),
                "asset_type": "IMAGE",
                "tags": [format!("tag-{i}"), "moving"],
            }))
            .await;
        // Two assets share content: stored once, referred to twice.
        let data = png(40 + (i % 4) * 8, 30);
        let name = format!("picture-{i}.png");
        client.upload(&asset_id, &name, "MAIN", &data).await;
        assets.push((asset_id, Value::Null, vec![(name, data)]));
    }
    let empty = client
        .create_asset(&json!({"asset_name": "nothing-yet", "asset_type": "IMAGE"}))
        .await;
    assets.push((empty, Value::Null, Vec::new()));
    for (asset_id, shown, files) in &mut assets {
        *shown = settled(&client, asset_id, !files.is_empty()).await;
    }
    Library { client, assets }
}

/// Shows an asset once its processing is over.
async fn settled(client: &Client, asset_id: &str, has_files: bool) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    loop {
        let shown = client.show(asset_id).await;
        if !has_files || shown["asset_state"] == "ACTIVED" {
            return shown;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "asset {asset_id} should become ACTIVED: {shown}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// The parts of an asset a move must keep (URLs carry the serving host and a signature).
fn essence(shown: &Value) -> Value {
    let files: Vec<Value> = shown["files"]
        .as_array()
        .map(|files| {
            files
                .iter()
                .map(|f| json!([f["file_id"], f["file_name"], f["file_md5"], f["file_size"]]))
                .collect()
        })
        .unwrap_or_default();
    json!({
        "asset_name": shown["asset_name"],
        "asset_state": shown["asset_state"],
        "tags": shown["tags"],
        "create_time": shown["create_time"],
        "files": files,
    })
}

/// Serves the library at `database_url` + `blob_url` and checks every asset and every byte.
async fn check_served(library: &Library, database_url: &str, blob_url: &str) {
    let (database_url, blob_url) = (database_url.to_owned(), blob_url.to_owned());
    let server = TestServer::spawn_with(move |config| {
        config.database_url = Some(database_url);
        config.blob_url = Some(blob_url);
    })
    .await;
    let c = &library.client;
    let client = Client::connect(&server.base, &c.project, &c.ak, &c.sk);
    for (asset_id, before, files) in &library.assets {
        let shown = client.show(asset_id).await;
        assert_eq!(essence(&shown), essence(before), "asset {asset_id}");
        for (name, data) in files {
            let file = shown["files"]
                .as_array()
                .and_then(|f| f.iter().find(|f| f["file_name"] == name.as_str()))
                .unwrap_or_else(|| panic!("{name} in {shown}"));
            let url = file["download_url"].as_str().expect("a download URL");
            let got = client.fetch(url, None).await;
            assert_eq!(md5_b64(&got.bytes), md5_b64(data), "{name} of {asset_id}");
        }
    }
    server.stop().await;
}

/// Kills `copy` (started with `--batch-size 1`) once it has committed its first batch.
fn kill_after_first_batch(mut copy: Command) {
    copy.env("ASSETD_LOG", "assetd=debug")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = copy.spawn().expect("assetd starts");
    let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut seen = Vec::new();
    let mut killed = false;
    for line in stderr.lines() {
        let line = line.unwrap();
        let first_batch = line.contains("copied a batch");
        seen.push(line);
        if first_batch {
            child.kill().expect("SIGKILL");
            killed = true;
            break;
        }
    }
    let status = child.wait().unwrap();
    assert!(
        killed && !status.success(),
        "the copy was to be killed after its first batch: {status}\n{}",
        seen.join("\n")
    );
}

#[tokio::test]
async fn library_moves_to_postgres_and_s3_and_back_identical() {
    let home = tempfile::tempdir().unwrap();
    let source: PathBuf = home.path().join("source");
    let source_url = format!("sqlite://{}", source.join("catalog.db").display());
    let server = TestServer::spawn_in(source.clone(), {
        let source_url = source_url.clone();
        move |config| {
            config.database_url = Some(source_url);
            config.blob_url = None;
        }
    })
    .await;
    let library = make_library(&server).await;
    server.stop().await;

    // The middle stop: PostgreSQL + S3 when the test services are there.
    let middle = common::postgres::server_url().map(|server| TestDatabase::create(&server));
    let middle_database = match &middle {
        Some(database) => database.url.clone(),
        None => {
            eprintln!("ASSETD_TEST_DATABASE_URL is not set: copying to SQLite instead");
            format!(
                "sqlite://{}",
                home.path().join("middle/catalog.db").display()
            )
        }
    };
    let middle_blobs = match common::test_blob_url(&uuid::Uuid::new_v4().simple().to_string()) {
        Some(url) => url,
        None => {
            eprintln!("ASSETD_TEST_BLOB_URL is not set: copying to a directory instead");
            home.path().join("middle-blobs").display().to_string()
        }
    };
    let to_middle = |batch: &str| {
        let mut command = assetd_embedded(&source);
        command.args([
            "library",
            "copy",
            "--to-database-url",
            &middle_database,
            "--to-blob-url",
            &middle_blobs,
            "--batch-size",
            batch,
        ]);
        command
    };

    // Interrupted, then resumed: the second run writes only what the first did not.
    kill_after_first_batch(to_middle("1"));
    let resumed = run(to_middle("50"));
    let stdout = String::from_utf8_lossy(&resumed.stdout);
    assert!(resumed.status.success(), "the resumed copy succeeds");
    assert!(
        stdout.contains("the destination is identical to the source"),
        "{stdout}"
    );
    let (records, written) = records_written(&stdout);
    assert!(
        written < records,
        "the resumed copy skips what the killed one wrote: {stdout}"
    );
    check_served(&library, &middle_database, &middle_blobs).await;

    // And back onto the embedded default, elsewhere.
    let back = home.path().join("back");
    let mut to_back = assetd_embedded(&home.path().join("middle"));
    if !middle_database.starts_with("sqlite:") {
        to_back.args(["--database-url", &middle_database]);
    }
    to_back
        .args(["--blob-url", &middle_blobs])
        .args(["library", "copy"])
        .args(embedded(&back));
    let copied = run(to_back);
    assert!(copied.status.success(), "the copy back succeeds");
    let stdout = String::from_utf8_lossy(&copied.stdout);
    assert!(
        stdout.contains("the destination is identical to the source"),
        "{stdout}"
    );
    let back_url = format!("sqlite://{}", back.join("catalog.db").display());
    check_served(
        &library,
        &back_url,
        &back.join("blobs").display().to_string(),
    )
    .await;
}

#[tokio::test]
async fn copy_refuses_another_library_and_reports_damage() {
    let home = tempfile::tempdir().unwrap();
    let source = home.path().join("source");
    let mut create = assetd_embedded(&source);
    create.args(["credentials", "create", "--project-id", "moving-project"]);
    assert!(run(create).status.success());
    let blob_dir = source.join("blobs").join("content").join("ab");
    std::fs::create_dir_all(&blob_dir).unwrap();
    std::fs::write(blob_dir.join("ab0123456789"), b"some stored bytes").unwrap();

    // A destination with a library of its own.
    let other = home.path().join("other");
    let mut create = assetd_embedded(&other);
    create.args(["credentials", "create", "--project-id", "someone-else"]);
    assert!(run(create).status.success());
    let mut copy = assetd_embedded(&source);
    copy.args(["library", "copy"]).args(embedded(&other));
    let refused = run(copy);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("already holds another library"), "{stderr}");

    // A copy whose blob was damaged afterwards (same size, other bytes) fails verification.
    let copy_to = |dir: &Path| {
        let mut copy = assetd_embedded(&source);
        copy.args(["library", "copy"]).args(embedded(dir));
        copy
    };
    let target = home.path().join("target");
    assert!(run(copy_to(&target)).status.success());
    let copied = target.join("blobs/content/ab/ab0123456789");
    assert_eq!(std::fs::read(&copied).unwrap(), b"some stored bytes");
    std::fs::write(&copied, b"SOME STORED BYTES").unwrap();
    let damaged = run(copy_to(&target));
    assert!(!damaged.status.success(), "damage fails the copy");
    let stdout = String::from_utf8_lossy(&damaged.stdout);
    assert!(stdout.contains("MISMATCHES (1)"), "{stdout}");
    assert!(stdout.contains("content/ab/ab0123456789"), "{stdout}");
}
