//! Hardening: the server under bursts, crashes, hostile input and hostile configuration.
//! Each test here once failed on a defect found by attacking the server (issue 8).

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::child::{assetd, assetd_on, ChildServer};
use common::{png, Client};
use serde_json::json;

const PROJECT: &str = "hardening-project";
const AK: &str = "HARDENINGACCESSKEY01";
const SK: &str = "hardening-secret-key-0123456789";

/// Creates the test credentials in `data_dir` through the CLI.
fn create_credentials(data_dir: &Path) {
    let created = assetd_on(data_dir)
        .args(["credentials", "create", "--project-id", PROJECT])
        .args(["--access-key", AK, "--secret-key", SK])
        .output()
        .unwrap();
    assert!(created.status.success(), "{created:?}");
}

/// Every line of a server log that reports a panic.
fn panics_in(log: &str) -> Vec<&str> {
    log.lines().filter(|l| l.contains("panicked")).collect()
}

/// `clients` clients each create `rounds` IMAGE assets with a small PNG as MAIN file, all at
/// once; returns the asset ids. Every request must succeed (no 5xx).
async fn burst(base: &str, clients: usize, rounds: usize, seed: u32) -> Vec<String> {
    let tasks = (0..clients).map(|i| {
        let c = Client::connect(base, PROJECT, AK, SK);
        tokio::spawn(async move {
            let mut ids = Vec::new();
            for r in 0..rounds {
                let side = 16 + seed + (i * rounds + r) as u32 % 64;
                let data = png(side, side + 1);
                let asset_id = c
                    .create_asset(&json!({"asset_name": format!("burst-{i}-{r}"),
                                          "asset_type": "IMAGE"}))
                    .await;
                c.upload(&asset_id, "small.png", "MAIN", &data).await;
                ids.push(asset_id);
            }
            ids
        })
    });
    let mut ids = Vec::new();
    for task in tasks {
        ids.extend(task.await.expect("a client of the burst failed"));
    }
    ids
}

/// Waits (bounded) until every asset has left CREATING and returns their states.
async fn settle_all(c: &Client, ids: &[String], server: &ChildServer) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut states = Vec::new();
    for id in ids {
        loop {
            let shown = c.show(id).await;
            if shown["asset_state"] != "CREATING" {
                states.push(shown["asset_state"].as_str().unwrap_or_default().to_owned());
                break;
            }
            assert!(
                Instant::now() < deadline,
                "asset {id} still CREATING: {shown}\n{}",
                server.log_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    states
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bursts_and_a_kill_9_with_jobs_in_flight_cause_no_panic_and_lose_no_write() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    create_credentials(&data_dir);
    let config = dir.path().join("assetd.toml");
    std::fs::write(&config, "job_lease_secs = 3\nworkers = 4\n").unwrap();
    // Spans must be enabled for a misused span guard to corrupt anything: log at info.
    let env = [("ASSETD_LOG", "info")];

    let first_log = dir.path().join("serve-1.log");
    let mut first = ChildServer::start_with_env(&data_dir, Some(&config), first_log, &env).await;
    let mut ids = burst(&first.base, 16, 4, 0).await;
    // Jobs of the burst are still queued or running: kill the server under them.
    let more = burst(&first.base, 16, 1, 100).await;
    ids.extend(more);
    first.kill_9();
    let first_log = first.log_text();

    let second_log = dir.path().join("serve-2.log");
    let second = ChildServer::start_with_env(&data_dir, Some(&config), second_log, &env).await;
    ids.extend(burst(&second.base, 16, 4, 200).await);
    let c = Client::connect(&second.base, PROJECT, AK, SK);
    let states = settle_all(&c, &ids, &second).await;
    let not_actived: Vec<_> = ids
        .iter()
        .zip(&states)
        .filter(|(_, s)| *s != "ACTIVED")
        .collect();
    assert!(not_actived.is_empty(), "{not_actived:?}");

    // Writes still work after the burst, and the server says it is healthy.
    let after = c
        .create_asset(&json!({"asset_name": "after", "asset_type": "IMAGE"}))
        .await;
    c.upload(&after, "after.png", "MAIN", &png(20, 20)).await;
    settle_all(&c, &[after], &second).await;
    let health = c.fetch(&format!("{}/health", second.base), None).await;
    assert_eq!(health.status, 200, "{}", health.json);

    let second_log = second.log_text();
    assert!(
        panics_in(&first_log).is_empty() && panics_in(&second_log).is_empty(),
        "the server panicked:\n{}\n{}",
        panics_in(&first_log).join("\n"),
        panics_in(&second_log).join("\n")
    );
}

/// Holds the SQLite write lock of the catalogue at `db` until dropped, the way a stuck
/// writer, a backup tool or a full disk would stop the server from committing.
struct WriteLock(sqlx::SqliteConnection);

impl WriteLock {
    async fn take(db: &Path) -> Self {
        use sqlx::{Connection, Executor};
        let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
            .await
            .unwrap();
        conn.execute("BEGIN IMMEDIATE").await.unwrap();
        Self(conn)
    }

    async fn release(mut self) {
        use sqlx::Executor;
        self.0.execute("ROLLBACK").await.unwrap();
    }
}

/// The lock tests lock the SQLite file itself; another catalogue backend has none.
fn on_sqlite() -> bool {
    let sqlite = std::env::var_os("ASSETD_TEST_DATABASE_URL").is_none();
    if !sqlite {
        eprintln!("skipping: this test locks the SQLite catalogue file");
    }
    sqlite
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_fails_with_an_mss_error_while_the_catalogue_cannot_write() {
    if !on_sqlite() {
        return;
    }
    let server = common::TestServer::spawn().await;
    let c = &server.client;
    let health = format!("{}/health", server.base);
    assert_eq!(c.fetch(&health, None).await.ok()["status"], "ok");

    let lock = WriteLock::take(&server.data_dir().join("catalog.db")).await;
    let sick = c.fetch(&health, None).await;
    let msg = sick.expect_error(503, "MSS.00000007").to_owned();
    assert!(
        !msg.contains(&server.data_dir().display().to_string()),
        "{msg}"
    );

    lock.release().await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while c.fetch(&health, None).await.status != 200 {
        assert!(Instant::now() < deadline, "health never recovered");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_whose_catalogue_stays_unwritable_exits_non_zero() {
    if !on_sqlite() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    create_credentials(&data_dir);
    let config = dir.path().join("assetd.toml");
    std::fs::write(&config, "catalog_unwritable_exit_secs = 1\n").unwrap();
    let mut server =
        ChildServer::start(&data_dir, Some(&config), dir.path().join("serve.log")).await;
    let lock = WriteLock::take(&data_dir.join("catalog.db")).await;
    let status = server.wait_exit(Duration::from_secs(120)).await;
    lock.release().await;
    assert!(!status.success(), "{status}");
    assert!(
        server.log_text().contains("accepted no write"),
        "{}",
        server.log_text()
    );
}

// ---------------------------------------------------------------------------------------
// Hostile decks

/// A ZIP archive of `entries`, stored without compression (enough for OOXML readers).
fn zip_stored(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data) in entries {
        let offset = out.len() as u32;
        let crc = common::crc32(data);
        let header = |sig: u32, central: bool| {
            let mut h = sig.to_le_bytes().to_vec();
            if central {
                h.extend_from_slice(&20u16.to_le_bytes()); // made by
            }
            h.extend_from_slice(&20u16.to_le_bytes()); // version needed
            h.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0x21, 0]); // flags, stored, time, date
            h.extend_from_slice(&crc.to_le_bytes());
            h.extend_from_slice(&(data.len() as u32).to_le_bytes());
            h.extend_from_slice(&(data.len() as u32).to_le_bytes());
            h.extend_from_slice(&(name.len() as u16).to_le_bytes());
            h.extend_from_slice(&0u16.to_le_bytes()); // extra
            if central {
                h.extend_from_slice(&[0; 8]); // comment, disk, internal attributes
                h.extend_from_slice(&0u32.to_le_bytes()); // external attributes
                h.extend_from_slice(&offset.to_le_bytes());
            }
            h.extend_from_slice(name.as_bytes());
            h
        };
        out.extend(header(0x0403_4b50, false));
        out.extend_from_slice(data);
        central.extend(header(0x0201_4b50, true));
    }
    let start = out.len() as u32;
    let size = central.len() as u32;
    out.extend(central);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&size.to_le_bytes());
    out.extend_from_slice(&start.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

/// A one-slide PPTX with `boxes` text boxes: small on disk, while LibreOffice needs
/// gigabytes to lay it out (20,000 boxes went past 3 GB).
fn hostile_deck(boxes: usize) -> Vec<u8> {
    const NS: &str = r#"xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main""#;
    const RELS: &str = "http://schemas.openxmlformats.org/package/2006/relationships";
    const DOC: &str = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";
    let types = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/ppt/presentation.xml" ContentType="application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml"/><Override PartName="/ppt/slides/slide1.xml" ContentType="application/vnd.openxmlformats-officedocument.presentationml.slide+xml"/></Types>"#;
    let root_rels = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{RELS}"><Relationship Id="rId1" Type="{DOC}/officeDocument" Target="ppt/presentation.xml"/></Relationships>"#
    );
    let presentation = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><p:presentation {NS}><p:sldIdLst><p:sldId id="256" r:id="rId1"/></p:sldIdLst><p:sldSz cx="9144000" cy="6858000"/><p:notesSz cx="6858000" cy="9144000"/></p:presentation>"#
    );
    let presentation_rels = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{RELS}"><Relationship Id="rId1" Type="{DOC}/slide" Target="slides/slide1.xml"/></Relationships>"#
    );
    let shapes: String = (0..boxes)
        .map(|i| {
            format!(
                r#"<p:sp><p:nvSpPr><p:cNvPr id="{}" name="T{i}"/><p:cNvSpPr txBox="1"/><p:nvPr/></p:nvSpPr><p:spPr><a:xfrm><a:off x="{}" y="{}"/><a:ext cx="2000000" cy="400000"/></a:xfrm><a:prstGeom prst="rect"><a:avLst/></a:prstGeom></p:spPr><p:txBody><a:bodyPr/><a:p><a:r><a:rPr sz="1800"/><a:t>Box {i} hostile text</a:t></a:r></a:p></p:txBody></p:sp>"#,
                i + 2,
                (i * 7919) % 8_000_000,
                (i * 104_729) % 6_000_000
            )
        })
        .collect();
    let slide = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><p:sld {NS}><p:cSld><p:spTree><p:nvGrpSpPr><p:cNvPr id="1" name=""/><p:cNvGrpSpPr/><p:nvPr/></p:nvGrpSpPr><p:grpSpPr/>{shapes}</p:spTree></p:cSld></p:sld>"#
    );
    zip_stored(&[
        ("[Content_Types].xml", types.as_bytes().to_vec()),
        ("_rels/.rels", root_rels.into_bytes()),
        ("ppt/presentation.xml", presentation.into_bytes()),
        (
            "ppt/_rels/presentation.xml.rels",
            presentation_rels.into_bytes(),
        ),
        ("ppt/slides/slide1.xml", slide.into_bytes()),
    ])
}

/// Waits (bounded by `within`) until the asset has left CREATING.
async fn settled(c: &Client, asset_id: &str, within: Duration) -> serde_json::Value {
    let deadline = Instant::now() + within;
    loop {
        let shown = c.show(asset_id).await;
        if shown["asset_state"] != "CREATING" {
            return shown;
        }
        assert!(
            Instant::now() < deadline,
            "asset {asset_id} still CREATING after {within:?}: {shown}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_decks_end_failed_in_bounded_time_while_small_uploads_keep_flowing() {
    if !assetd::media::runner::available(assetd::media::runner::Tool::Soffice) {
        eprintln!("skipping: LibreOffice is not installed");
        return;
    }
    // Two workers, as by default. A deck past its memory limit fails; one that somehow
    // would not must still end within the job's total time.
    let server = common::TestServer::spawn_with(|config| {
        config.workers = 2;
        config.tool_memory_mb = 1024;
        config.job_timeout_secs = 300;
    })
    .await;
    let c = &server.client;
    let deck = hostile_deck(20_000);
    let mut decks = Vec::new();
    for name in ["hostile-1.pptx", "hostile-2.pptx"] {
        let asset_id = c
            .create_asset(&json!({"asset_name": name, "asset_type": "PPT",
                                  "asset_extra_meta": {"ppt_meta": {"auto_analysis": true}}}))
            .await;
        c.upload(&asset_id, name, "MAIN", &deck).await;
        decks.push(asset_id);
    }
    // Once a deck is converting, a small image must not wait for the decks.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let converting = c.show(&decks[0]).await["asset_extra_meta"]["ppt_meta"]
            ["ppt_analysis_status"]
            == "CONVERTING";
        if converting {
            break;
        }
        assert!(Instant::now() < deadline, "the first deck never started");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let image = c
        .create_asset(&json!({"asset_name": "small", "asset_type": "IMAGE"}))
        .await;
    c.upload(&image, "small.png", "MAIN", &png(64, 48)).await;
    let shown = settled(c, &image, Duration::from_secs(300)).await;
    assert_eq!(shown["asset_state"], "ACTIVED", "{shown}");
    for deck in &decks {
        let state = c.show(deck).await["asset_state"].clone();
        assert_eq!(
            state, "CREATING",
            "the image waited until a deck finished (deck {deck} is {state})"
        );
    }

    for deck in &decks {
        let shown = settled(c, deck, Duration::from_secs(900)).await;
        assert_eq!(shown["asset_state"], "FAILED", "{shown}");
        let reason = shown["reason"].as_str().unwrap_or_default();
        assert!(reason.contains("deck"), "{reason}");
        assert_eq!(
            shown["asset_extra_meta"]["ppt_meta"]["ppt_analysis_status"], "FAILED",
            "{shown}"
        );
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_past_its_total_time_is_stopped_and_its_asset_failed() {
    // A minute of 720p that is not web-ready: probing, a cover and a transcode together take
    // far longer than one second on any machine.
    let video = common::ffmpeg(
        "-f lavfi -i testsrc2=size=1280x720:rate=25 -t 60 -c:v mpeg4 -q:v 20 -f matroska",
        "mkv",
    );
    let server = common::TestServer::spawn_with(|config| config.job_timeout_secs = 1).await;
    let c = &server.client;
    let asset_id = c
        .create_asset(&json!({"asset_name": "slow", "asset_type": "VIDEO"}))
        .await;
    c.upload(&asset_id, "slow.mkv", "MAIN", &video).await;
    let shown = settled(c, &asset_id, Duration::from_secs(300)).await;
    assert_eq!(shown["asset_state"], "FAILED", "{shown}");
    let reason = shown["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("did not finish within 1 s"), "{reason}");
    // The stopped job's tools and work directory went with it.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !server.work_leftovers().is_empty() {
        assert!(
            Instant::now() < deadline,
            "left in work/: {:?}",
            server.work_leftovers()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server.stop().await;
}

// ---------------------------------------------------------------------------------------
// Webhook SSRF

/// A loopback HTTP server that counts the requests it gets; returns its port and the count.
async fn loopback_receiver() -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let hits = std::sync::Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    let router = axum::Router::new().fallback(move || {
        let counted = counted.clone();
        async move {
            counted.fetch_add(1, Ordering::SeqCst);
            "ok"
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (port, hits)
}

/// Makes a state change of a new asset, which queues an event for the project's webhook,
/// and waits until no job is running.
async fn cause_an_event(server: &common::TestServer) {
    let c = &server.client;
    let asset_id = c
        .create_asset(&json!({"asset_name": "event", "asset_type": "IMAGE"}))
        .await;
    c.upload(&asset_id, "e.png", "MAIN", &png(8, 8)).await;
    settled(c, &asset_id, Duration::from_secs(120)).await;
    server.jobs_idle().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_to_loopback_private_or_link_local_targets_are_refused_by_default() {
    let (port, hits) = loopback_receiver().await;
    let server = common::TestServer::spawn().await;
    let c = &server.client;
    for url in [
        format!("http://127.0.0.1:{port}/hook"),
        format!("http://localhost:{port}/hook"),
        format!("http://[::1]:{port}/hook"),
        "http://169.254.169.254/latest/meta-data".to_owned(),
        "http://10.0.0.1/hook".to_owned(),
        format!("http://[::ffff:127.0.0.1]:{port}/hook"),
    ] {
        let reply = c.put("/webhook", &json!({ "url": url })).await;
        let msg = reply.expect_error(400, "MSS.00000003");
        assert!(msg.contains("webhook_allow_hosts"), "{url}: {msg}");
    }
    assert_eq!(c.get("/webhook").await.ok(), &json!({"url": null}));

    // A name that resolved elsewhere when it was registered is checked again, after
    // resolution, when an event is delivered: here it resolves to loopback.
    let project = c.project.clone();
    server
        .app
        .catalog
        .put_webhook(&assetd::catalog::Webhook {
            project_id: project,
            url: format!("http://localhost:{port}/hook"),
            secret: "a-secret-of-enough-length".to_owned().into(),
        })
        .await
        .unwrap();
    cause_an_event(&server).await;
    assert!(
        server.app.catalog.job_counts().await.unwrap().failed >= 1,
        "the refused delivery ends FAILED"
    );
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_allows_a_private_webhook_target_explicitly() {
    let (port, hits) = loopback_receiver().await;
    let server = common::TestServer::spawn_with(|config| {
        config.webhook_allow_hosts = vec!["127.0.0.0/8".into()];
    })
    .await;
    let c = &server.client;
    c.put(
        "/webhook",
        &json!({ "url": format!("http://127.0.0.1:{port}/hook") }),
    )
    .await
    .ok();
    // Allowing 127.0.0.0/8 does not allow other private networks.
    c.put("/webhook", &json!({"url": "http://192.168.1.1/hook"}))
        .await
        .expect_error(400, "MSS.00000003");
    cause_an_event(&server).await;
    assert!(hits.load(std::sync::atomic::Ordering::SeqCst) >= 1);
    server.assert_jobs_settled().await;
    server.stop().await;
}

#[test]
fn the_allow_list_comes_from_the_environment_as_comma_separated_entries() {
    let dir = tempfile::tempdir().unwrap();
    let out = assetd()
        .env("ASSETD_WEBHOOK_ALLOW_HOSTS", "127.0.0.1,10.0.0.0/99")
        .arg("--data-dir")
        .arg(dir.path())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The bad entry is named on its own: the list was split on commas.
    assert!(stderr.contains("\"10.0.0.0/99\" is neither"), "{stderr}");
}

// ---------------------------------------------------------------------------------------
// Headers that lie, files cut short

/// A 16-bit stereo 44.1 kHz WAV with `seconds` of a tone, whose data size and byte rate are
/// then overwritten with `data_size` and `byte_rate`.
fn lying_wav(seconds: u32, data_size: u32, byte_rate: u32) -> Vec<u8> {
    let mut wav = common::ffmpeg(
        &format!(
            "-f lavfi -i sine=frequency=440:sample_rate=44100 -t {seconds} -c:a pcm_s16le -ac 2 \
             -map_metadata -1 -fflags +bitexact -f wav"
        ),
        "wav",
    );
    assert_eq!(&wav[12..16], b"fmt ");
    wav[28..32].copy_from_slice(&byte_rate.to_le_bytes());
    let data = wav.windows(4).position(|w| w == b"data").unwrap();
    wav[data + 4..data + 8].copy_from_slice(&data_size.to_le_bytes());
    wav
}

const PCM_SECOND: u32 = 44_100 * 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audio_duration_is_what_the_file_holds_and_review_judges_it() {
    let server =
        common::TestServer::spawn_with(|config| config.review_max_duration_secs = Some(5)).await;
    let c = &server.client;
    let upload = |name: &'static str, data: Vec<u8>| async move {
        let asset_id = c
            .create_asset(&json!({"asset_name": name, "asset_type": "AUDIO"}))
            .await;
        c.upload(&asset_id, name, "MAIN", &data).await;
        settled(c, &asset_id, Duration::from_secs(120)).await
    };
    // Ten seconds of samples behind a header claiming one: over the five-second rule.
    let long = upload("long.wav", lying_wav(10, PCM_SECOND, 10 * PCM_SECOND)).await;
    assert_eq!(long["asset_state"], "FAILED", "{long}");
    assert_eq!(long["fail_type"], "AUTOMATIC_REVIEW_REJECT", "{long}");
    assert_eq!(
        long["asset_extra_meta"]["audio_meta"]["duration"], 10,
        "{long}"
    );
    // Two seconds of samples behind a header claiming more than a day: within the rule.
    let short = upload("short.wav", lying_wav(2, u32::MAX - 1, 11)).await;
    assert_eq!(short["asset_state"], "ACTIVED", "{short}");
    assert_eq!(
        short["asset_extra_meta"]["audio_meta"]["duration"], 2,
        "{short}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fast_start_mp4_cut_short_ends_failed_as_truncated() {
    let whole = common::ffmpeg(
        "-f lavfi -i testsrc2=size=320x240:rate=25 -f lavfi -i sine=frequency=440:sample_rate=44100 \
         -t 10 -c:v libx264 -preset veryfast -pix_fmt yuv420p -c:a aac -movflags +faststart -f mp4",
        "mp4",
    );
    let cut = whole[..whole.len() * 2 / 5].to_vec();
    let server = common::TestServer::spawn().await;
    let c = &server.client;
    let asset_id = c
        .create_asset(&json!({"asset_name": "cut", "asset_type": "VIDEO"}))
        .await;
    c.upload(&asset_id, "cut.mp4", "MAIN", &cut).await;
    let shown = settled(c, &asset_id, Duration::from_secs(120)).await;
    assert_eq!(shown["asset_state"], "FAILED", "{shown}");
    let reason = shown["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("truncated"), "{reason}");
    assert!(
        !reason.contains(&server.data_dir().display().to_string()),
        "{reason}"
    );

    // The whole file is fine.
    let asset_id = c
        .create_asset(&json!({"asset_name": "whole", "asset_type": "VIDEO"}))
        .await;
    c.upload(&asset_id, "whole.mp4", "MAIN", &whole).await;
    let shown = settled(c, &asset_id, Duration::from_secs(120)).await;
    assert_eq!(shown["asset_state"], "ACTIVED", "{shown}");
    server.stop().await;
}

// ---------------------------------------------------------------------------------------
// Every error in the MSS shape, none showing a server path

/// Sends `raw` bytes on a fresh connection to `base` and returns what comes back.
async fn raw_http(base: &str, raw: Vec<u8>) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    // The server may answer and close before reading everything: ignore write errors.
    let _ = stream.write_all(&raw).await;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(60), stream.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

/// The JSON body of a raw HTTP response, asserting it is an MSS error with a request id.
#[track_caller]
fn mss_error_of(response: &str, status: u16) -> serde_json::Value {
    let (head, body) = response.split_once("\r\n\r\n").expect("a full response");
    assert!(head.starts_with(&format!("HTTP/1.1 {status} ")), "{head}");
    let lower = head.to_ascii_lowercase();
    assert!(lower.contains("content-type: application/json"), "{head}");
    assert!(lower.contains("x-request-id: "), "{head}");
    let json: serde_json::Value = serde_json::from_str(body).expect("a JSON body");
    assert!(
        json["error_code"].as_str().unwrap().starts_with("MSS."),
        "{json}"
    );
    assert!(!json["error_msg"].as_str().unwrap().is_empty(), "{json}");
    json
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_hyper_refuses_get_mss_errors_too() {
    let server = common::TestServer::spawn().await;
    let long_uri = format!(
        "GET /v1/p/digital-assets?name={} HTTP/1.1\r\nHost: x\r\n\r\n",
        "a".repeat(70_000)
    );
    mss_error_of(&raw_http(&server.base, long_uri.into_bytes()).await, 414);
    let many_headers: String = (0..150).map(|i| format!("X-H{i}: y\r\n")).collect();
    let raw = format!("GET /health HTTP/1.1\r\nHost: x\r\n{many_headers}\r\n");
    mss_error_of(&raw_http(&server.base, raw.into_bytes()).await, 431);
    let raw = b"G@T /health HTTP/1.1\r\nHost: x\r\n\r\n".to_vec();
    mss_error_of(&raw_http(&server.base, raw).await, 400);
    // A well-formed request on the same kind of connection is untouched.
    let ok = raw_http(
        &server.base,
        b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(),
    )
    .await;
    assert!(ok.starts_with("HTTP/1.1 200 "), "{ok}");
    assert!(ok.ends_with(r#"{"status":"ok"}"#), "{ok}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_query_strings_and_paths_get_mss_errors() {
    let server = common::TestServer::spawn().await;
    let c = &server.client;
    let named = c
        .create_asset(&json!({"asset_name": "findable", "asset_type": "IMAGE"}))
        .await;
    for query in ["name=a%00b", "name=%00", "tag=%00x"] {
        let reply = c.get(&format!("/digital-assets?{query}")).await;
        let msg = reply.expect_error(400, "MSS.00000003");
        assert!(msg.contains("control characters"), "{query}: {msg}");
    }
    let found = c.get("/digital-assets?name=findable").await;
    assert_eq!(found.ok()["assets"][0]["asset_id"], named.as_str());
    // Not UTF-8 once decoded: the extractor's rejection is plain text unless reshaped.
    let reply = c.get("/digital-assets/%FF%FE").await;
    assert_eq!(
        reply.status,
        400,
        "{:?}",
        String::from_utf8_lossy(&reply.bytes)
    );
    reply.expect_error(400, "MSS.00000003");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_failure_reasons_name_files_not_server_paths() {
    let server = common::TestServer::spawn().await;
    let c = &server.client;
    // An ISO-BMFF header with nothing playable behind it: the tools refuse it.
    let mut broken = 24u32.to_be_bytes().to_vec();
    broken.extend_from_slice(b"ftypisom\0\0\x02\0isommp41");
    broken.extend_from_slice(&4096u32.to_be_bytes());
    broken.extend_from_slice(b"mdat");
    broken.extend((0..4088).map(|i| (i * 7 % 251) as u8));
    let asset_id = c
        .create_asset(&json!({"asset_name": "broken", "asset_type": "VIDEO"}))
        .await;
    c.upload(&asset_id, "broken.mp4", "MAIN", &broken).await;
    let shown = settled(c, &asset_id, Duration::from_secs(120)).await;
    assert_eq!(shown["asset_state"], "FAILED", "{shown}");
    let text = shown.to_string();
    let data_dir = server.data_dir().display().to_string();
    assert!(!text.contains(&data_dir), "{text}");
    assert!(
        !text.contains("/blobs/") && !text.contains("/work/"),
        "{text}"
    );
    server.stop().await;
}

// ---------------------------------------------------------------------------------------
// Smaller defects a new user runs into

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_action_on_an_unknown_id_says_so_in_plain_words() {
    let server = common::TestServer::spawn().await;
    let c = &server.client;
    let unknown = uuid::Uuid::new_v4().to_string();
    let reply = c
        .post(
            "/digital-assets/batch-action",
            &json!({"action": "DELETE", "asset_ids": [unknown]}),
        )
        .await;
    let result = &reply.ok()["results"][0];
    assert_eq!(result["ret_status"], "FAILED", "{result}");
    assert_eq!(result["asset_ids"], json!([unknown]));
    let msg = result["error_info"]["error_msg"].as_str().unwrap();
    assert_eq!(msg, "the asset does not exist in this project");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_accepts_force_in_any_case_and_refuses_unknown_modes() {
    let server = common::TestServer::spawn().await;
    let c = &server.client;
    let asset_id = c
        .create_asset(&json!({"asset_name": "doomed", "asset_type": "IMAGE"}))
        .await;
    for mode in ["bogus", "forced", "soft"] {
        let reply = c
            .delete(&format!("/digital-assets/{asset_id}?mode={mode}"))
            .await;
        let msg = reply.expect_error(400, "MSS.00000003");
        assert!(msg.starts_with("mode"), "{msg}");
        assert_eq!(c.show(&asset_id).await["asset_state"], "CREATING");
    }
    c.delete(&format!("/digital-assets/{asset_id}?mode=FORCE"))
        .await
        .ok();
    assert_eq!(c.show(&asset_id).await["asset_state"], "DELETED");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_name_asset_types_grammatically() {
    let server = common::TestServer::spawn().await;
    let c = &server.client;
    for (asset_type, name) in [("IMAGE", "a.txt"), ("AUDIO", "a.txt")] {
        let asset_id = c
            .create_asset(&json!({"asset_name": "t", "asset_type": asset_type}))
            .await;
        let reply = c
            .post(
                "/files",
                &json!({"asset_id": asset_id, "file_name": name, "file_md5": common::md5_b64(b"x"),
                        "file_size": 1, "file_type": "txt", "asset_file_category": "MAIN"}),
            )
            .await;
        let msg = reply.expect_error(400, "MSS.00000003");
        assert!(
            msg.contains(&format!("an asset of type {asset_type}")),
            "{msg}"
        );
        assert!(!msg.contains(&format!("a {asset_type}")), "{msg}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_md5_upload_names_both_digests_and_the_asset_says_why() {
    let server = common::TestServer::spawn().await;
    let c = &server.client;
    let data = png(40, 30);
    let asset_id = c
        .create_asset(&json!({"asset_name": "md5", "asset_type": "IMAGE"}))
        .await;
    let (file_id, url) = c.create_file(&asset_id, "a.png", "MAIN", &data).await;
    let mut wrong = data.clone();
    wrong[40] ^= 0xff;
    let reply = c.put_upload(&url, &wrong, None).await;
    let msg = reply.expect_error(400, "MSS.10001010").to_owned();
    let (declared, received) = (common::md5_b64(&data), common::md5_b64(&wrong));
    assert!(
        msg.contains(&declared) && msg.contains(&received),
        "{msg} should name {declared} and {received}"
    );
    let shown = c.show(&asset_id).await;
    let reason = shown["reason"].as_str().unwrap_or_default();
    assert!(reason.contains(&received), "{shown}");
    let file = shown["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["file_id"] == file_id.as_str())
        .unwrap()
        .clone();
    assert_eq!(file["state"], "CREATING", "{file}");

    // The right bytes are accepted, and the stale reason goes.
    c.put_upload(&url, &data, None).await.ok();
    assert!(c.show(&asset_id).await["reason"].is_null());
    c.confirm(&file_id, "CREATED").await.ok();
    let shown = settled(c, &asset_id, Duration::from_secs(120)).await;
    assert_eq!(shown["asset_state"], "ACTIVED", "{shown}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_that_is_not_its_declared_type_fails_with_a_fail_type() {
    let server = common::TestServer::spawn().await;
    let c = &server.client;
    let asset_id = c
        .create_asset(&json!({"asset_name": "liar", "asset_type": "VIDEO"}))
        .await;
    c.upload(&asset_id, "liar.mp4", "MAIN", &png(32, 32)).await;
    let shown = c.show(&asset_id).await;
    assert_eq!(shown["asset_state"], "FAILED", "{shown}");
    assert_eq!(shown["fail_type"], "AUTOMATIC_REVIEW_REJECT", "{shown}");
    server.stop().await;
}

/// `data` (a JPEG) with an EXIF APP1 segment saying orientation 6: shown turned 90°.
fn with_exif_orientation_6(data: &[u8]) -> Vec<u8> {
    let mut app1 =
        b"Exif\0\0MM\0\x2a\0\0\0\x08\0\x01\x01\x12\0\x03\0\0\0\x01\0\x06\0\0\0\0\0\0".to_vec();
    let len = u16::try_from(app1.len() + 2).unwrap().to_be_bytes();
    app1.splice(0..0, [0xFF, 0xE1, len[0], len[1]]);
    let mut out = data[..2].to_vec();
    out.extend_from_slice(&app1);
    out.extend_from_slice(&data[2..]);
    out
}

fn files_in<'a>(shown: &'a serde_json::Value, category: &str) -> Vec<&'a serde_json::Value> {
    shown["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["asset_file_category"] == category && f["state"] == "CREATED")
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_turned_photo_is_reported_as_displayed_and_gets_a_cover_when_asked() {
    let photo = with_exif_orientation_6(&common::ffmpeg(
        "-f lavfi -i testsrc2=size=640x480 -frames:v 1 -f image2 -c:v mjpeg",
        "jpg",
    ));
    let server = common::TestServer::spawn().await;
    let c = &server.client;
    let asset_id = c
        .create_asset(&json!({"asset_name": "upright", "asset_type": "IMAGE",
                              "is_need_generate_cover": true}))
        .await;
    c.upload(&asset_id, "upright.jpg", "MAIN", &photo).await;
    let shown = settled(c, &asset_id, Duration::from_secs(120)).await;
    assert_eq!(shown["asset_state"], "ACTIVED", "{shown}");
    let meta = &shown["asset_extra_meta"]["image_meta"];
    assert_eq!(
        (meta["width"].clone(), meta["height"].clone()),
        (json!(480), json!(640)),
        "{meta}"
    );
    assert_eq!(meta["mode"], "Vertical", "{meta}");
    assert_eq!(files_in(&shown, "COVER").len(), 1, "no generated cover");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deck_gets_its_real_page_count_a_thumbnail_and_a_cover_and_forgets_pages_with_its_file() {
    let texts: Vec<String> = (1..=300).map(|i| format!("Page {i}")).collect();
    let pdf = common::pdf_pages(&texts.iter().map(String::as_str).collect::<Vec<_>>());
    let server = common::TestServer::spawn().await;
    let c = &server.client;
    let asset_id = c
        .create_asset(&json!({"asset_name": "deck", "asset_type": "PPT",
                              "is_need_generate_cover": true,
                              "asset_extra_meta": {"ppt_meta": {"auto_analysis": true}}}))
        .await;
    let main = c.upload(&asset_id, "deck.pdf", "MAIN", &pdf).await;
    let shown = settled(c, &asset_id, Duration::from_secs(300)).await;
    assert_eq!(shown["asset_state"], "ACTIVED", "{}", shown["reason"]);
    let ppt = &shown["asset_extra_meta"]["ppt_meta"];
    assert_eq!(ppt["page_count"], 300, "{}", ppt["page_count"]);
    assert_eq!(ppt["pages"].as_array().unwrap().len(), 50);
    assert_eq!(files_in(&shown, "COVER").len(), 1, "no generated cover");
    let summary = c
        .post(
            "/digital-assets/summarys",
            &json!({"asset_ids": [asset_id]}),
        )
        .await;
    let thumbnail = &summary.ok()["asset_list"][0]["thumbnail_url"];
    assert!(thumbnail.is_string(), "no thumbnail_url: {thumbnail}");

    c.delete(&format!("/files/{main}")).await.ok();
    let shown = c.show(&asset_id).await;
    let ppt = &shown["asset_extra_meta"]["ppt_meta"];
    assert!(
        ppt["pages"].as_array().is_none_or(|p| p.is_empty()),
        "pages of a deleted file: {ppt}"
    );
    assert_ne!(ppt["ppt_analysis_status"], "SUCCEEDED", "{ppt}");
    assert!(
        files_in(&shown, "PAGE").is_empty(),
        "page files outlived their deck"
    );
    server.stop().await;
}
