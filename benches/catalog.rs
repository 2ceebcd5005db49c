//! The catalogue benchmark (issue 2), run by `bench/catalog.sh`:
//!
//! 1. create throughput: the real `assetd` binary against a bare axum handler, both driven
//!    by the same signed load generator over loopback keep-alive connections;
//! 2. list latency over signed HTTP with 1,000,000 assets in one project, per filter;
//! 3. the server's peak RSS (VmHWM) during both.
//!
//! Both servers run as child processes (the bare one is this binary re-run with
//! `bare-server`), so their RSS and CPU time are their own and the load generator is the same
//! for both. The assets are seeded through `Catalog::apply`, 10,000 per `Write`: the rows the
//! server itself writes.
//!
//! Knobs, all optional: `BENCH_ASSETS` (1000000), `BENCH_SECS` (10 per throughput run),
//! `BENCH_CONCURRENCY` (16), `BENCH_SAMPLES` (200 per list case, or what 10 s allow),
//! `BENCH_PHASES` (`create,list`), `BENCH_OUT` (table file), `BENCH_TMP` (parent of the
//! scratch directory, /tmp), `BENCH_KEEP` (keep the scratch directory), `BENCH_LIST_DIR` (list
//! a data directory seeded by an earlier run instead of seeding).
//!
//! Phase `nodes` (not run by default; needs `BENCH_DATABASE_URL`, an empty PostgreSQL
//! database, e.g. from `scripts/services/postgres.sh`): create throughput of one `assetd
//! serve` on that database against two on the same database, the load split evenly between
//! them, interleaved rounds in the same run. `bench/nodes.sh` runs it.

use std::fmt::Write as _;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use assetd::catalog::{Asset, Write};
use assetd::model::{AssetExtraMeta, AssetState, AssetType};
use axum::http::{HeaderMap, HeaderValue};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use time::OffsetDateTime;

/// Path of the server binary cargo built next to this bench.
const ASSETD: &str = env!("CARGO_BIN_EXE_assetd");
/// Assets per `Write` while seeding: one IMMEDIATE transaction each.
const SEED_BATCH: usize = 10_000;
/// Unreserved characters stay as they are in query values, like the SDK sends them.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() -> anyhow::Result<()> {
    // cargo passes `--bench`; the only argument of our own is the bare-server role.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let runtime = tokio::runtime::Runtime::new()?;
    match args.first().map(String::as_str) {
        Some("bare-server") => {
            let port: u16 = args.get(1).and_then(|p| p.parse().ok()).unwrap_or(0);
            runtime.block_on(bare_server(port))
        }
        _ => runtime.block_on(run()),
    }
}

// ---------------------------------------------------------------------------------------
// The bare handler: same route and a similar JSON body, no auth, no database.

async fn bare_server(port: u16) -> anyhow::Result<()> {
    use axum::routing::{get, post};
    async fn create(axum::Json(body): axum::Json<Value>) -> axum::Json<Value> {
        let _ = body.get("asset_name");
        axum::Json(json!({ "asset_id": uuid::Uuid::new_v4().to_string() }))
    }
    let router = axum::Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/v1/{project_id}/digital-assets", post(create));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    axum::serve(listener, router).await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Child processes.

/// A server process, killed on drop.
struct Server {
    child: std::process::Child,
    base: String,
    name: &'static str,
}

impl Server {
    fn spawn(
        name: &'static str,
        mut command: Command,
        port: u16,
        log: &Path,
    ) -> anyhow::Result<Self> {
        let log = std::fs::File::create(log)?;
        let child = command
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        Ok(Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            name,
        })
    }

    async fn wait_healthy(&mut self, http: &reqwest::Client) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(300);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait()? {
                anyhow::bail!("{} exited early: {status}", self.name);
            }
            if let Ok(r) = http.get(format!("{}/health", self.base)).send().await {
                if r.status().is_success() {
                    return Ok(());
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        anyhow::bail!("{} did not become healthy", self.name)
    }

    /// Peak resident set size so far, in KiB (`VmHWM`).
    fn peak_rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }
}

/// CPU time (user + system) a process has used so far, in microseconds.
fn cpu_micros(pid: &str) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<u64> = stat
        .rsplit_once(')')
        .map(|(_, rest)| {
            rest.split_whitespace()
                .map(|f| f.parse().unwrap_or(0))
                .collect()
        })
        .unwrap_or_default();
    // utime and stime are fields 14 and 15 of stat(5), in clock ticks of 10 ms.
    (fields.get(11).unwrap_or(&0) + fields.get(12).unwrap_or(&0)) * 10_000
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn spawn_assetd(data_dir: &Path, log: &Path) -> anyhow::Result<Server> {
    let port = free_port()?;
    let mut command = Command::new(ASSETD);
    command
        .arg("--data-dir")
        .arg(data_dir)
        .arg("serve")
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"));
    Server::spawn("assetd", command, port, log)
}

/// `assetd serve` on the catalogue at `database_url` (scratch space in `data_dir`).
fn spawn_node(data_dir: &Path, database_url: &str, log: &Path) -> anyhow::Result<Server> {
    let port = free_port()?;
    let mut command = Command::new(ASSETD);
    command
        .arg("--data-dir")
        .arg(data_dir)
        .arg("--database-url")
        .arg(database_url)
        .arg("serve")
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .env("ASSETD_LOG", "warn");
    Server::spawn("assetd node", command, port, log)
}

fn spawn_bare(log: &Path) -> anyhow::Result<Server> {
    let port = free_port()?;
    let mut command = Command::new(std::env::current_exe()?);
    command.arg("bare-server").arg(port.to_string());
    Server::spawn("bare handler", command, port, log)
}

/// `assetd credentials create`, returning (access key, secret key).
fn cli_credentials(data_dir: &Path, project: &str) -> anyhow::Result<(String, String)> {
    cli_credentials_on(data_dir, None, project)
}

/// `assetd credentials create` on `database_url` when given, else on `data_dir`'s catalogue.
fn cli_credentials_on(
    data_dir: &Path,
    database_url: Option<&str>,
    project: &str,
) -> anyhow::Result<(String, String)> {
    let mut command = Command::new(ASSETD);
    command.arg("--data-dir").arg(data_dir);
    if let Some(url) = database_url {
        command.arg("--database-url").arg(url);
    }
    let out = command
        .args(["credentials", "create", "--project-id", project])
        .env("ASSETD_LOG", "warn")
        .output()?;
    anyhow::ensure!(out.status.success(), "credentials create failed");
    let mut ak = None;
    let mut sk = None;
    for line in out.stdout.as_slice().lines() {
        let line = line?;
        if let Some(v) = line.strip_prefix("access_key=") {
            ak = Some(v.to_owned());
        }
        if let Some(v) = line.strip_prefix("secret_key=") {
            sk = Some(v.to_owned());
        }
    }
    Ok((
        ak.expect("access_key printed"),
        sk.expect("secret_key printed"),
    ))
}

// ---------------------------------------------------------------------------------------
// The client: signs every request like the official SDK.

#[derive(Clone)]
struct Signer {
    base: String,
    project: String,
    ak: String,
    sk: String,
    http: reqwest::Client,
}

impl Signer {
    fn http(pool: usize) -> reqwest::Client {
        reqwest::Client::builder()
            .no_proxy()
            .tcp_nodelay(true)
            .pool_max_idle_per_host(pool)
            .timeout(Duration::from_secs(120))
            .build()
            .expect("client builds")
    }

    /// Sends a signed request and returns the status and body.
    async fn send(
        &self,
        method: reqwest::Method,
        path_and_query: &str,
        body: Vec<u8>,
    ) -> anyhow::Result<(u16, bytes::Bytes)> {
        let (path, query) = match path_and_query.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (path_and_query, None),
        };
        let mut headers = HeaderMap::new();
        let host = self.base.trim_start_matches("http://");
        headers.insert("host", HeaderValue::from_str(host)?);
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        headers.insert("x-project-id", HeaderValue::from_str(&self.project)?);
        headers.insert(
            "x-sdk-date",
            HeaderValue::from_str(&assetd::signing::format_sdk_date(OffsetDateTime::now_utc()))?,
        );
        let auth = assetd::signing::authorization_header(
            method.as_str(),
            path,
            query,
            &headers,
            &body,
            &self.ak,
            self.sk.as_bytes(),
        );
        headers.insert("authorization", HeaderValue::from_str(&auth)?);
        headers.remove("host");
        let response = self
            .http
            .request(method, format!("{}{path_and_query}", self.base))
            .headers(headers)
            .body(body)
            .send()
            .await?;
        let status = response.status().as_u16();
        Ok((status, response.bytes().await?))
    }
}

// ---------------------------------------------------------------------------------------
// Create throughput.

struct LoadResult {
    /// Requests answered in the whole run, warm-up included.
    all: u64,
    ok: u64,
    failed: u64,
    secs: f64,
    latencies_us: Vec<u64>,
}

impl LoadResult {
    fn rate(&self) -> f64 {
        self.ok as f64 / self.secs
    }
}

fn create_body(n: u64) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "asset_name": format!("Load Test Asset {n}"),
        "asset_type": "IMAGE",
        "asset_description": "created by the catalogue benchmark",
        "tags": ["bench", "load"],
    }))
    .expect("serializes")
}

/// `concurrency` loops each POSTing creates back to back for `warmup + secs`; only
/// requests completed inside the measured window count.
async fn create_load(
    signer: &Signer,
    concurrency: usize,
    warmup: Duration,
    secs: Duration,
) -> LoadResult {
    let path = format!("/v1/{}/digital-assets", signer.project);
    let start = Instant::now();
    let measure_from = start + warmup;
    let measure_to = measure_from + secs;
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for worker in 0..concurrency {
        let signer = signer.clone();
        let path = path.clone();
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            let mut all = 0u64;
            let mut ok = 0u64;
            let mut failed = 0u64;
            let mut latencies = Vec::new();
            let mut n = worker as u64 * 1_000_000_000;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let sent = Instant::now();
                let reply = signer
                    .send(reqwest::Method::POST, &path, create_body(n))
                    .await;
                let done = Instant::now();
                all += 1;
                if done >= measure_to {
                    break;
                }
                if sent < measure_from {
                    continue;
                }
                match reply {
                    Ok((200, _)) => {
                        ok += 1;
                        latencies.push((done - sent).as_micros() as u64);
                    }
                    _ => failed += 1,
                }
            }
            (all, ok, failed, latencies)
        }));
    }
    tokio::time::sleep_until((measure_to).into()).await;
    stop.store(true, Ordering::Relaxed);
    let mut result = LoadResult {
        all: 0,
        ok: 0,
        failed: 0,
        secs: secs.as_secs_f64(),
        latencies_us: Vec::new(),
    };
    for task in tasks {
        let (all, ok, failed, latencies) = task.await.expect("load task");
        result.all += all;
        result.ok += ok;
        result.failed += failed;
        result.latencies_us.extend(latencies);
    }
    result.latencies_us.sort_unstable();
    result
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

struct Throughput {
    bare: Vec<f64>,
    assetd: Vec<f64>,
    failed: u64,
    assetd_p50_ms: f64,
    assetd_p99_ms: f64,
    bare_rss_kib: u64,
    assetd_rss_kib: u64,
    created: u64,
    /// Server CPU per request (µs): bare, assetd.
    server_cpu_us: [f64; 2],
    /// Load generator CPU per request (µs): against bare, against assetd.
    client_cpu_us: [f64; 2],
}

async fn throughput(scratch: &Path, concurrency: usize, secs: u64) -> anyhow::Result<Throughput> {
    let data_dir = scratch.join("throughput");
    std::fs::create_dir_all(&data_dir)?;
    let project = "bench-throughput";
    let (ak, sk) = cli_credentials(&data_dir, project)?;
    let health = Signer::http(1);
    let warmup = Duration::from_secs(2);
    let window = Duration::from_secs(secs);
    let mut out = Throughput {
        bare: Vec::new(),
        assetd: Vec::new(),
        failed: 0,
        assetd_p50_ms: 0.0,
        assetd_p99_ms: 0.0,
        bare_rss_kib: 0,
        assetd_rss_kib: 0,
        created: 0,
        server_cpu_us: [0.0; 2],
        client_cpu_us: [0.0; 2],
    };
    let mut assetd_latencies = Vec::new();
    // Interleaved rounds, so drift on the machine hits both sides alike.
    for round in 0..2 {
        let mut bare = spawn_bare(&scratch.join(format!("bare-{round}.log")))?;
        bare.wait_healthy(&health).await?;
        let signer = Signer {
            base: bare.base.clone(),
            project: project.to_owned(),
            ak: ak.clone(),
            sk: sk.clone(),
            http: Signer::http(concurrency),
        };
        let (server0, client0) = (cpu_micros(&bare.child.id().to_string()), cpu_micros("self"));
        let r = create_load(&signer, concurrency, warmup, window).await;
        let all = r.all.max(1) as f64 * 2.0;
        out.server_cpu_us[0] += (cpu_micros(&bare.child.id().to_string()) - server0) as f64 / all;
        out.client_cpu_us[0] += (cpu_micros("self") - client0) as f64 / all;
        out.failed += r.failed;
        out.bare.push(r.rate());
        out.bare_rss_kib = out.bare_rss_kib.max(bare.peak_rss_kib());
        drop(bare);

        let mut server = spawn_assetd(
            &data_dir,
            &scratch.join(format!("assetd-create-{round}.log")),
        )?;
        server.wait_healthy(&health).await?;
        let signer = Signer {
            base: server.base.clone(),
            http: Signer::http(concurrency),
            ..signer
        };
        let pid = server.child.id().to_string();
        let (server0, client0) = (cpu_micros(&pid), cpu_micros("self"));
        let r = create_load(&signer, concurrency, warmup, window).await;
        let all = r.all.max(1) as f64 * 2.0;
        out.server_cpu_us[1] += (cpu_micros(&pid) - server0) as f64 / all;
        out.client_cpu_us[1] += (cpu_micros("self") - client0) as f64 / all;
        out.failed += r.failed;
        out.assetd.push(r.rate());
        out.created += r.ok;
        assetd_latencies.extend(r.latencies_us);
        out.assetd_rss_kib = out.assetd_rss_kib.max(server.peak_rss_kib());
        drop(server);
    }
    assetd_latencies.sort_unstable();
    out.assetd_p50_ms = percentile(&assetd_latencies, 50.0) as f64 / 1000.0;
    out.assetd_p99_ms = percentile(&assetd_latencies, 99.0) as f64 / 1000.0;
    Ok(out)
}

/// Create throughput (creates/s per round) of one node, and of two nodes sharing the load,
/// all on the PostgreSQL database `database_url`.
struct Nodes {
    one: Vec<f64>,
    two: Vec<f64>,
    failed: u64,
}

async fn nodes_throughput(
    scratch: &Path,
    database_url: &str,
    concurrency: usize,
    secs: u64,
) -> anyhow::Result<Nodes> {
    let project = "bench-nodes";
    let dirs = [scratch.join("node-a"), scratch.join("node-b")];
    for dir in &dirs {
        std::fs::create_dir_all(dir)?;
    }
    let (ak, sk) = cli_credentials_on(&dirs[0], Some(database_url), project)?;
    let health = Signer::http(1);
    let warmup = Duration::from_secs(2);
    let window = Duration::from_secs(secs);
    let mut out = Nodes {
        one: Vec::new(),
        two: Vec::new(),
        failed: 0,
    };
    // Both nodes run in every round, so one node's run has the same machine around it as
    // the two nodes' run; only the load moves.
    for round in 0..2 {
        let mut servers = Vec::new();
        for (i, dir) in dirs.iter().enumerate() {
            let log = scratch.join(format!("node-{i}-{round}.log"));
            let mut server = spawn_node(dir, database_url, &log)?;
            server.wait_healthy(&health).await?;
            servers.push(server);
        }
        let signers: Vec<Signer> = servers
            .iter()
            .map(|s| Signer {
                base: s.base.clone(),
                project: project.to_owned(),
                ak: ak.clone(),
                sk: sk.clone(),
                http: Signer::http(concurrency),
            })
            .collect();
        let r = create_load(&signers[0], concurrency, warmup, window).await;
        out.failed += r.failed;
        out.one.push(r.rate());
        let half = concurrency.div_ceil(2);
        let (a, b) = tokio::join!(
            create_load(&signers[0], half, warmup, window),
            create_load(&signers[1], concurrency - half, warmup, window),
        );
        out.failed += a.failed + b.failed;
        out.two.push(a.rate() + b.rate());
        drop(servers);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// Seeding: realistic, varied assets written through `Catalog::apply`, many per `Write`.

const ADJECTIVES: &[&str] = &[
    "Amber", "Ancient", "Arctic", "Azure", "Bold", "Brave", "Bright", "Calm", "Clever", "Cosmic",
    "Crimson", "Crystal", "Daring", "Dusty", "Eager", "Electric", "Emerald", "Fierce", "Gentle",
    "Golden", "Grand", "Happy", "Hidden", "Humble", "Icy", "Jolly", "Kind", "Lively", "Lucky",
    "Lunar", "Magic", "Mellow", "Misty", "Modern", "Noble", "Orange", "Pale", "Proud", "Quiet",
    "Rapid", "Royal", "Rustic", "Silent", "Silver", "Smart", "Solar", "Swift", "Tender", "Urban",
    "Velvet", "Vivid", "Warm", "Wild", "Windy", "Young", "Zesty",
];
const NOUNS: &[&str] = &[
    "Anchor",
    "Avatar",
    "Banner",
    "Beacon",
    "Breeze",
    "Canyon",
    "Castle",
    "Comet",
    "Coral",
    "Dancer",
    "Delta",
    "Desert",
    "Dragon",
    "Falcon",
    "Forest",
    "Fountain",
    "Galaxy",
    "Garden",
    "Glacier",
    "Harbor",
    "Horizon",
    "Island",
    "Jungle",
    "Lagoon",
    "Lantern",
    "Meadow",
    "Mirror",
    "Monsoon",
    "Mountain",
    "Nebula",
    "Oasis",
    "Ocean",
    "Orchid",
    "Panda",
    "Phoenix",
    "Pilot",
    "Prairie",
    "Presenter",
    "Rainbow",
    "River",
    "Rocket",
    "Sailor",
    "Savanna",
    "Shadow",
    "Studio",
    "Summit",
    "Sunrise",
    "Teacher",
    "Thunder",
    "Tiger",
    "Valley",
    "Voyage",
    "Willow",
    "Zephyr",
];
const KINDS: &[&str] = &[
    "intro", "promo", "lecture", "banner", "jingle", "cover", "clip", "deck", "voice", "pose",
];
const TOPIC_TAGS: &[&str] = &[
    "marketing",
    "education",
    "news",
    "product",
    "finance",
    "retail",
    "travel",
    "sports",
    "music",
    "medical",
    "gaming",
    "female",
    "male",
    "chinese",
    "english",
    "outdoor",
    "indoor",
    "holiday",
    "business",
    "casual",
    "formal",
    "kids",
    "festival",
    "launch",
];

/// (type, weight in percent)
const TYPE_MIX: &[(AssetType, u32)] = &[
    (AssetType::Image, 35),
    (AssetType::Video, 25),
    (AssetType::Audio, 10),
    (AssetType::CommonFile, 10),
    (AssetType::Music, 5),
    (AssetType::Ppt, 5),
    (AssetType::Material, 5),
    (AssetType::HumanModel2D, 3),
    (AssetType::VoiceModel, 2),
];
const STATE_MIX: &[(AssetState, u32)] = &[
    (AssetState::Actived, 80),
    (AssetState::Unactived, 8),
    (AssetState::Creating, 5),
    (AssetState::Failed, 3),
    (AssetState::Deleting, 2),
    (AssetState::Block, 1),
    (AssetState::WaitingDelete, 1),
];

fn pick<T: Copy>(rng: &mut StdRng, mix: &[(T, u32)]) -> T {
    let mut roll = rng.gen_range(0..mix.iter().map(|(_, w)| w).sum::<u32>());
    for (item, weight) in mix {
        if roll < *weight {
            return *item;
        }
        roll -= weight;
    }
    mix[0].0
}

fn asset_name(rng: &mut StdRng) -> String {
    format!(
        "{} {} {} {}",
        ADJECTIVES[rng.gen_range(0..ADJECTIVES.len())],
        NOUNS[rng.gen_range(0..NOUNS.len())],
        KINDS[rng.gen_range(0..KINDS.len())],
        rng.gen_range(0..100_000)
    )
}

fn asset_tags(rng: &mut StdRng) -> Vec<String> {
    let mut tags = Vec::new();
    for _ in 0..rng.gen_range(1..=3) {
        let tag = TOPIC_TAGS[rng.gen_range(0..TOPIC_TAGS.len())].to_owned();
        if !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    if rng.gen_bool(0.5) {
        tags.push(format!("batch-{:04}", rng.gen_range(0..2000)));
    }
    if rng.gen_bool(0.2) {
        tags.push(format!(
            "campaign-{}q{}",
            rng.gen_range(2019..2026),
            rng.gen_range(1..=4)
        ));
    }
    tags
}

/// One asset as the server would store it after creation and later state changes.
fn seeded_asset(
    rng: &mut StdRng,
    project: &str,
    created: OffsetDateTime,
    now: OffsetDateTime,
) -> Asset {
    let asset_type = pick(rng, TYPE_MIX);
    let asset_state = pick(rng, STATE_MIX);
    let updated = (created + time::Duration::seconds(rng.gen_range(0..30 * 86_400))).min(now);
    let deleting = asset_state == AssetState::Deleting;
    let blocked = asset_state == AssetState::Block;
    Asset {
        asset_id: uuid::Uuid::from_u128(rng.gen()).to_string(),
        project_id: project.to_owned(),
        asset_name: asset_name(rng),
        asset_description: rng
            .gen_bool(0.5)
            .then(|| "uploaded from the console".to_owned()),
        app_user_id: None,
        asset_type,
        asset_state,
        state_before_delete: deleting.then_some(AssetState::Actived),
        state_before_block: blocked.then_some(AssetState::Actived),
        fail_type: None,
        block_reason_code: blocked.then(|| "ILLEGAL_CONTENT".to_owned()),
        reason: (asset_state == AssetState::Failed).then(|| "main file failed review".to_owned()),
        tags: asset_tags(rng),
        asset_extra_meta: AssetExtraMeta::default()
            .for_type(asset_type)
            .with_defaults(),
        system_properties: Vec::new(),
        asset_order: rng.gen_bool(0.4).then(|| rng.gen_range(0..10_000)),
        supported_service: Vec::new(),
        auto_operation_config: Vec::new(),
        shared_config: None,
        review_config: None,
        is_need_generate_cover: false,
        create_time: created,
        update_time: updated,
        deleted_at: deleting.then_some(updated),
        version: 1,
    }
}

struct Seeded {
    secs: f64,
    ak: String,
    sk: String,
    /// Substrings of real names, for selective name searches.
    name_probes: Vec<String>,
}

/// Seeds `total` assets, or with `write` false only recomputes what a seeding would have
/// produced (for `BENCH_LIST_DIR`, a data directory seeded earlier).
async fn seed(data_dir: &Path, project: &str, total: u64, write: bool) -> anyhow::Result<Seeded> {
    std::fs::create_dir_all(data_dir)?;
    let url = format!("sqlite://{}", data_dir.join("catalog.db").display());
    let catalog = assetd::catalog::open(&url).await?;
    let (ak, sk) =
        assetd::service::auth::create_credential(catalog.as_ref(), project, None, None, false)
            .await?;
    let mut rng = StdRng::seed_from_u64(20_240_601);
    let now = OffsetDateTime::now_utc();
    let span = time::Duration::days(730);
    let first = now - span;
    let step_us = span.whole_microseconds() as f64 / total.max(1) as f64;
    let mut name_probes = Vec::new();
    let started = Instant::now();
    let mut made = 0u64;
    while made < total {
        let n = (total - made).min(SEED_BATCH as u64);
        let mut batch = Write::default();
        for i in made..made + n {
            let created = first + time::Duration::microseconds((i as f64 * step_us) as i64);
            let asset = seeded_asset(&mut rng, project, created, now);
            if i % 997 == 0 {
                // "Harbor promo 4821" -> "rbor promo 482": what a user half-remembers.
                let name = &asset.asset_name;
                let words: Vec<&str> = name.split(' ').collect();
                let probe = format!("{} {}", &words[1][2..], words[2]);
                let digits = &words[3][..words[3].len().min(3)];
                name_probes.push(format!("{probe} {digits}"));
            }
            batch.new_assets.push(asset);
        }
        if write {
            catalog.apply(batch).await?;
        }
        made += n;
        if made % 100_000 == 0 {
            eprintln!(
                "  seeded {made} assets in {:.0} s",
                started.elapsed().as_secs_f64()
            );
        }
    }
    Ok(Seeded {
        secs: started.elapsed().as_secs_f64(),
        ak,
        sk,
        name_probes,
    })
}

// ---------------------------------------------------------------------------------------
// List latency.

struct ListCase {
    label: &'static str,
    /// Query strings to rotate through (values already percent-encoded).
    queries: Vec<String>,
}

struct ListResult {
    label: &'static str,
    median_count: u64,
    p50_ms: f64,
    p99_ms: f64,
    samples: usize,
}

fn q(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", utf8_percent_encode(v, QUERY_VALUE)))
        .collect::<Vec<_>>()
        .join("&")
}

fn list_cases(seeded: &Seeded) -> Vec<ListCase> {
    let fixed = |label, pairs: &[(&str, &str)]| ListCase {
        label,
        queries: vec![q(pairs)],
    };
    let name_probes = seeded
        .name_probes
        .iter()
        .map(|p| q(&[("name", p.as_str())]))
        .collect();
    let batch_tags = (0..50)
        .map(|i| q(&[("tag", &format!("batch-{:04}", i * 37 % 2000))]))
        .collect::<Vec<_>>();
    let exact_batch_tags = (0..50)
        .map(|i| {
            q(&[
                ("tag", &format!("batch-{:04}", i * 41 % 2000)),
                ("accurate_query_field", "tag"),
            ])
        })
        .collect::<Vec<_>>();
    let nouns = NOUNS
        .iter()
        .map(|n| q(&[("name", &n.to_lowercase())]))
        .collect();
    vec![
        fixed("no filter (create_time asc)", &[]),
        fixed("no filter, newest first", &[("sort_dir", "desc")]),
        fixed("asset_type=VIDEO", &[("asset_type", "VIDEO")]),
        fixed("asset_type=IMAGE,VIDEO", &[("asset_type", "IMAGE,VIDEO")]),
        fixed("asset_state=ACTIVED", &[("asset_state", "ACTIVED")]),
        fixed("asset_state=FAILED", &[("asset_state", "FAILED")]),
        fixed(
            "type=IMAGE & state=ACTIVED, desc",
            &[
                ("asset_type", "IMAGE"),
                ("asset_state", "ACTIVED"),
                ("sort_dir", "desc"),
            ],
        ),
        ListCase {
            label: "name fuzzy, selective",
            queries: name_probes,
        },
        ListCase {
            label: "name fuzzy, one word (~1.9%)",
            queries: nouns,
        },
        fixed("name fuzzy \"a\" (non-selective)", &[("name", "a")]),
        fixed("name fuzzy \"er\" (non-selective)", &[("name", "er")]),
        ListCase {
            label: "tag fuzzy batch-NNNN",
            queries: batch_tags,
        },
        ListCase {
            label: "tag exact batch-NNNN",
            queries: exact_batch_tags,
        },
        fixed("tag fuzzy \"market\" (~10%)", &[("tag", "market")]),
        fixed("tag fuzzy \"a\" (non-selective)", &[("tag", "a")]),
        fixed("sort_key=asset_order asc", &[("sort_key", "asset_order")]),
        fixed(
            "sort_key=asset_order desc",
            &[("sort_key", "asset_order"), ("sort_dir", "desc")],
        ),
        fixed(
            "asset_order & type=VIDEO",
            &[("sort_key", "asset_order"), ("asset_type", "VIDEO")],
        ),
        fixed("offset=10000 (page 1001)", &[("offset", "10000")]),
    ]
}

async fn list_latency(
    signer: &Signer,
    cases: &[ListCase],
    samples: usize,
) -> anyhow::Result<Vec<ListResult>> {
    let mut results = Vec::new();
    let path = format!("/v1/{}/digital-assets", signer.project);
    for case in cases {
        let mut latencies = Vec::new();
        let mut counts = Vec::new();
        let started = Instant::now();
        // A few untimed requests first; then up to `samples`, or what 10 s allow (at least 5).
        for i in 0..samples + 3 {
            let query = &case.queries[i % case.queries.len()];
            let url = if query.is_empty() {
                path.clone()
            } else {
                format!("{path}?{query}")
            };
            let sent = Instant::now();
            let (status, body) = signer.send(reqwest::Method::GET, &url, Vec::new()).await?;
            let took = sent.elapsed();
            anyhow::ensure!(
                status == 200,
                "{}: HTTP {status}: {}",
                case.label,
                String::from_utf8_lossy(&body)
            );
            if i < 3 {
                continue;
            }
            let reply: Value = serde_json::from_slice(&body)?;
            counts.push(reply["count"].as_u64().unwrap_or(0));
            latencies.push(took.as_micros() as u64);
            if started.elapsed() > Duration::from_secs(10) && latencies.len() >= 5 {
                break;
            }
        }
        latencies.sort_unstable();
        counts.sort_unstable();
        let result = ListResult {
            label: case.label,
            median_count: counts[counts.len() / 2],
            p50_ms: percentile(&latencies, 50.0) as f64 / 1000.0,
            p99_ms: percentile(&latencies, 99.0) as f64 / 1000.0,
            samples: latencies.len(),
        };
        eprintln!(
            "  {:<36} count {:>8}  p50 {:>8.2} ms  p99 {:>8.2} ms",
            result.label, result.median_count, result.p50_ms, result.p99_ms
        );
        results.push(result);
    }
    Ok(results)
}

// ---------------------------------------------------------------------------------------

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

async fn run() -> anyhow::Result<()> {
    let total = env_num("BENCH_ASSETS", 1_000_000);
    let secs = env_num("BENCH_SECS", 10);
    let concurrency = env_num("BENCH_CONCURRENCY", 16) as usize;
    let samples = env_num("BENCH_SAMPLES", 200) as usize;
    let phases = std::env::var("BENCH_PHASES").unwrap_or_else(|_| "create,list".to_owned());
    let tmp_parent = std::env::var("BENCH_TMP").unwrap_or_else(|_| "/tmp".to_owned());
    let out_path = std::env::var("BENCH_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/out/catalog.txt"));
    let scratch = tempfile::Builder::new()
        .prefix("assetd-bench-")
        .tempdir_in(&tmp_parent)?;

    let mut t = String::new();
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    writeln!(
        t,
        "assetd catalogue benchmark ({cpus} CPUs, embedded SQLite, release build)"
    )?;

    if phases.contains("create") {
        eprintln!("create throughput: {concurrency} connections, {secs} s per run, 2 rounds");
        let tp = throughput(scratch.path(), concurrency, secs).await?;
        let bare = tp.bare.iter().sum::<f64>() / tp.bare.len() as f64;
        let assetd_rate = tp.assetd.iter().sum::<f64>() / tp.assetd.len() as f64;
        eprintln!(
            "  bare {:?} req/s, assetd {:?} creates/s",
            tp.bare, tp.assetd
        );
        writeln!(t)?;
        writeln!(
            t,
            "create throughput: signed POST /digital-assets, {concurrency} keep-alive \
             connections, {secs} s x 2 interleaved rounds each"
        )?;
        writeln!(t, "  bare axum handler (no auth, no DB) {bare:>10.0} req/s")?;
        writeln!(
            t,
            "  assetd create_asset                {assetd_rate:>10.0} creates/s"
        )?;
        writeln!(
            t,
            "  ratio assetd / bare                {:>10.2}   (aim >= 0.5)",
            assetd_rate / bare
        )?;
        writeln!(
            t,
            "  assetd create latency              p50 {:.2} ms, p99 {:.2} ms; {} failed requests",
            tp.assetd_p50_ms, tp.assetd_p99_ms, tp.failed
        )?;
        writeln!(
            t,
            "  CPU per request: bare server {:.0} us, assetd {:.0} us; load generator {:.0} / {:.0} us",
            tp.server_cpu_us[0], tp.server_cpu_us[1], tp.client_cpu_us[0], tp.client_cpu_us[1]
        )?;
        writeln!(
            t,
            "  peak RSS: bare {:.1} MiB, assetd {:.1} MiB (after {} creates)",
            mib(tp.bare_rss_kib),
            mib(tp.assetd_rss_kib),
            tp.created
        )?;
    }

    if phases.contains("list") {
        eprintln!("seeding {total} assets through Catalog::apply, {SEED_BATCH} per Write");
        let project = "bench-list";
        let reuse = std::env::var_os("BENCH_LIST_DIR").map(PathBuf::from);
        let data_dir = reuse.clone().unwrap_or_else(|| scratch.path().join("list"));
        let seeded = seed(&data_dir, project, total, reuse.is_none()).await?;
        let db_bytes = std::fs::metadata(data_dir.join("catalog.db"))?.len();

        eprintln!("list latency: signed GET, one connection, up to {samples} samples per case");
        let health = Signer::http(1);
        let mut server = spawn_assetd(&data_dir, &scratch.path().join("assetd-list.log"))?;
        server.wait_healthy(&health).await?;
        let signer = Signer {
            base: server.base.clone(),
            project: project.to_owned(),
            ak: seeded.ak.clone(),
            sk: seeded.sk.clone(),
            http: Signer::http(1),
        };
        let cases = list_cases(&seeded);
        let lists = list_latency(&signer, &cases, samples).await?;
        let list_rss = server.peak_rss_kib();
        drop(server);

        writeln!(t)?;
        writeln!(
            t,
            "list latency: signed GET /digital-assets (limit 10), one connection, {total} \
             assets in one project"
        )?;
        writeln!(
            t,
            "  {:<36} {:>9} {:>9} {:>9} {:>5}",
            "filter", "count", "p50 ms", "p99 ms", "n"
        )?;
        for r in &lists {
            writeln!(
                t,
                "  {:<36} {:>9} {:>9.2} {:>9.2} {:>5}",
                r.label, r.median_count, r.p50_ms, r.p99_ms, r.samples
            )?;
        }
        writeln!(
            t,
            "  peak RSS of assetd serving these lists: {:.1} MiB",
            mib(list_rss)
        )?;
        writeln!(
            t,
            "  seeding: {:.0} s ({:.0} assets/s) via Catalog::apply, {SEED_BATCH} per Write; \
             catalog.db {:.0} MiB",
            seeded.secs,
            total as f64 / seeded.secs,
            db_bytes as f64 / 1024.0 / 1024.0
        )?;
    }

    if phases.contains("nodes") {
        let url = std::env::var("BENCH_DATABASE_URL")
            .map_err(|_| anyhow::anyhow!("phase nodes needs BENCH_DATABASE_URL (PostgreSQL)"))?;
        eprintln!(
            "create throughput on PostgreSQL: 1 node, then 2 nodes, {concurrency} connections"
        );
        let nodes = nodes_throughput(scratch.path(), &url, concurrency, secs).await?;
        let one = nodes.one.iter().sum::<f64>() / nodes.one.len() as f64;
        let two = nodes.two.iter().sum::<f64>() / nodes.two.len() as f64;
        writeln!(t)?;
        writeln!(
            t,
            "create throughput on one PostgreSQL: signed POST /digital-assets, {concurrency} \
             keep-alive connections in all, {secs} s x 2 interleaved rounds each"
        )?;
        writeln!(
            t,
            "  1 node                  {one:>10.0} creates/s  {:?}",
            nodes.one
        )?;
        writeln!(
            t,
            "  2 nodes (load split)    {two:>10.0} creates/s  {:?}",
            nodes.two
        )?;
        writeln!(
            t,
            "  ratio 2 nodes / 1 node  {:>10.2}   (aim >= 1.0: no loss); {} failed requests",
            two / one,
            nodes.failed
        )?;
    }

    if std::env::var_os("BENCH_KEEP").is_some() {
        eprintln!("keeping {}", scratch.keep().display());
    }
    print!("{t}");
    if let Some(dir) = out_path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&out_path, &t)?;
    eprintln!("results written to {}", out_path.display());
    Ok(())
}
