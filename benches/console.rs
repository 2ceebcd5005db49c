//! The console benchmark (issue 11), run by `bench/console.sh`: how long the library page's
//! HTML takes with 1,000,000 assets in one project, signed in as a person would be.
//!
//! The assets (each with a MAIN file and a thumbnail, as processing leaves them) are seeded
//! through `Catalog::apply`, 10,000 per `Write`. Then the release `assetd` runs as a child
//! process on loopback; the bench signs in through the sign-in form and GETs library pages
//! one after another over one keep-alive connection. The reference, measured in the same
//! run against the same server, is the same listing through the JSON API
//! (`GET /v1/{p}/digital-assets`, SDK-signed): the ratio says what rendering cards costs on
//! top of the listing.
//!
//! Knobs, all optional: `BENCH_ASSETS` (1000000), `BENCH_SAMPLES` (200 per case),
//! `BENCH_OUT` (table file), `BENCH_TMP` (parent of the scratch directory, /tmp),
//! `BENCH_DIR` (a data directory seeded by an earlier run: list it instead of seeding).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use assetd::catalog::{Asset, Derived, FileRecord, Write};
use assetd::model::{AssetExtraMeta, AssetState, AssetType, FileCategory, FileState};
use axum::http::{HeaderMap, HeaderValue};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use time::OffsetDateTime;

const ASSETD: &str = env!("CARGO_BIN_EXE_assetd");
const SEED_BATCH: u64 = 10_000;
const PROJECT: &str = "bench-console";
const ACCESS_KEY: &str = "BENCHCONSOLEAK";
const SECRET_KEY: &str = "bench-console-secret-key";
/// The library's page size and its default states (all but the recycle bin's).
const PAGE: u64 = 24;
const LIBRARY_STATES: &str = "CREATING,FAILED,UNACTIVED,ACTIVED,WAITING_DELETE,BLOCK";

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() -> anyhow::Result<()> {
    tokio::runtime::Runtime::new()?.block_on(run())
}

// ------------------------------------------------------------------------------ seeding

const WORDS: &[&str] = &[
    "harbor", "sunset", "meadow", "skyline", "canyon", "lantern", "orchard", "glacier", "harvest",
    "parade", "studio", "voyage", "summit", "breeze", "cobalt", "ember",
];
const KINDS: &[&str] = &[
    "promo",
    "teaser",
    "banner",
    "interview",
    "tutorial",
    "recap",
];
const TYPE_MIX: &[(AssetType, u32)] = &[
    (AssetType::Image, 40),
    (AssetType::Video, 30),
    (AssetType::Audio, 10),
    (AssetType::Ppt, 10),
    (AssetType::CommonFile, 10),
];
const STATE_MIX: &[(AssetState, u32)] = &[
    (AssetState::Actived, 84),
    (AssetState::Unactived, 6),
    (AssetState::Creating, 4),
    (AssetState::Failed, 3),
    (AssetState::Deleting, 2),
    (AssetState::Block, 1),
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

/// An asset and the files processing leaves: the MAIN file and its thumbnail.
fn seeded(rng: &mut StdRng, created: OffsetDateTime) -> (Asset, [FileRecord; 2]) {
    let asset_type = pick(rng, TYPE_MIX);
    let asset_state = pick(rng, STATE_MIX);
    let asset_id = uuid::Uuid::from_u128(rng.gen()).to_string();
    let name = format!(
        "{} {} {} {}",
        WORDS[rng.gen_range(0..WORDS.len())],
        WORDS[rng.gen_range(0..WORDS.len())],
        KINDS[rng.gen_range(0..KINDS.len())],
        rng.gen_range(0..100_000)
    );
    let mut tags = vec![format!("campaign-{}", rng.gen_range(0..50))];
    if rng.gen_bool(0.3) {
        tags.push("featured".to_owned());
    }
    let asset = Asset {
        asset_id: asset_id.clone(),
        project_id: PROJECT.to_owned(),
        asset_name: name,
        asset_description: None,
        app_user_id: None,
        asset_type,
        asset_state,
        state_before_delete: (asset_state == AssetState::Deleting).then_some(AssetState::Actived),
        state_before_block: (asset_state == AssetState::Block).then_some(AssetState::Actived),
        fail_type: None,
        block_reason_code: None,
        reason: (asset_state == AssetState::Failed).then(|| "content check failed".to_owned()),
        tags,
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
        update_time: created,
        deleted_at: (asset_state == AssetState::Deleting).then_some(created),
        version: 1,
    };
    let file = |suffix: &str, derived: Option<Derived>, category: FileCategory| {
        let file_id = format!("{asset_id}-{suffix}");
        FileRecord {
            blob_key: Some(format!("files/{file_id}")),
            file_id,
            asset_id: asset_id.clone(),
            project_id: PROJECT.to_owned(),
            file_name: format!("{suffix}.jpg"),
            file_md5: None,
            file_size: Some(rng_size(&asset_id)),
            file_type: "jpg".to_owned(),
            asset_file_category: category,
            state: FileState::Created,
            reason: None,
            block_reason_code: None,
            multipart_count: None,
            video_transcoding_status: None,
            content_mismatch: None,
            derived,
            create_time: created,
            update_time: created,
            version: 1,
        }
    };
    let files = [
        file("main", None, FileCategory::Main),
        file("thumb", Some(Derived::Thumbnail), FileCategory::Other),
    ];
    (asset, files)
}

/// A size that differs between assets without another random draw.
fn rng_size(asset_id: &str) -> i64 {
    100_000 + asset_id.bytes().map(i64::from).sum::<i64>() * 97
}

/// Seeds `total` assets (with `write` false, only replays the names of an earlier seeding)
/// and returns a name fragment to search for, as a person half-remembers one.
async fn seed(data_dir: &Path, total: u64, write: bool) -> anyhow::Result<(f64, String)> {
    std::fs::create_dir_all(data_dir)?;
    let url = format!("sqlite://{}", data_dir.join("catalog.db").display());
    let catalog = assetd::catalog::open(&url).await?;
    assetd::service::auth::create_credential(
        catalog.as_ref(),
        PROJECT,
        Some(ACCESS_KEY.to_owned()),
        Some(SECRET_KEY.to_owned()),
        false,
    )
    .await?;
    let mut rng = StdRng::seed_from_u64(11);
    let first = OffsetDateTime::now_utc() - time::Duration::days(730);
    let step = time::Duration::days(730) / total.max(1) as f64;
    let started = Instant::now();
    let mut probe = String::new();
    let mut made = 0;
    while made < total {
        let n = (total - made).min(SEED_BATCH);
        let mut batch = Write::default();
        for i in made..made + n {
            let (asset, files) = seeded(&mut rng, first + step * i as f64);
            if i == total / 2 {
                // "meadow harbor teaser 4821" -> "adow harbor tea": mid-word, a few matches.
                let name = &asset.asset_name;
                probe = name[2..name.len().min(17)].to_owned();
            }
            batch.new_assets.push(asset);
            batch.new_files.extend(files);
        }
        if write {
            catalog.apply(batch).await?;
        }
        made += n;
        if write && made % 100_000 == 0 {
            eprintln!("  {made} assets, {:.0} s", started.elapsed().as_secs_f64());
        }
    }
    Ok((started.elapsed().as_secs_f64(), probe))
}

// ------------------------------------------------------------------------------- server

struct Server {
    child: std::process::Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn spawn(data_dir: &Path, log: &Path) -> anyhow::Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let log = std::fs::File::create(log)?;
        let child = Command::new(ASSETD)
            .arg("--data-dir")
            .arg(data_dir)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .env("ASSETD_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        Ok(Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
        })
    }

    async fn wait_healthy(&mut self, http: &reqwest::Client) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(300);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait()? {
                anyhow::bail!("assetd exited early: {status}");
            }
            if let Ok(r) = http.get(format!("{}/health", self.base)).send().await {
                if r.status().is_success() {
                    return Ok(());
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        anyhow::bail!("assetd did not become healthy")
    }

    /// Peak resident set size so far, in KiB (`VmHWM`).
    fn peak_rss_kib(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }
}

// ------------------------------------------------------------------------------ clients

/// Signs in through the form, as a browser does, and returns the session cookie.
async fn sign_in(http: &reqwest::Client, base: &str) -> anyhow::Result<String> {
    let response = http
        .post(format!("{base}/console/sign-in"))
        .form(&[
            ("project_id", PROJECT),
            ("access_key", ACCESS_KEY),
            ("secret_key", SECRET_KEY),
        ])
        .send()
        .await?;
    anyhow::ensure!(response.status() == 303, "sign-in: {}", response.status());
    let cookie = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("assetd_session="))
        .and_then(|c| c.split(';').next())
        .ok_or_else(|| anyhow::anyhow!("no session cookie"))?;
    Ok(cookie.to_owned())
}

/// A signed API GET, as the official SDK sends it.
fn api_get(http: &reqwest::Client, base: &str, path_and_query: &str) -> reqwest::RequestBuilder {
    let (path, query) = path_and_query
        .split_once('?')
        .map_or((path_and_query, None), |(p, q)| (p, Some(q)));
    let mut headers = HeaderMap::new();
    let host = base.trim_start_matches("http://");
    headers.insert("host", HeaderValue::from_str(host).expect("host"));
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    headers.insert(
        "x-sdk-date",
        HeaderValue::from_str(&assetd::signing::format_sdk_date(OffsetDateTime::now_utc()))
            .expect("date"),
    );
    let auth = assetd::signing::authorization_header(
        "GET",
        path,
        query,
        &headers,
        b"",
        ACCESS_KEY,
        SECRET_KEY.as_bytes(),
    );
    headers.insert("authorization", HeaderValue::from_str(&auth).expect("auth"));
    headers.remove("host");
    http.get(format!("{base}{path_and_query}")).headers(headers)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

struct Timing {
    p50: f64,
    p99: f64,
    bytes: usize,
}

/// `samples` requests one after another (after 5 unmeasured), in milliseconds.
async fn time_requests(
    samples: usize,
    mut send: impl FnMut() -> reqwest::RequestBuilder,
) -> anyhow::Result<Timing> {
    let mut times = Vec::with_capacity(samples);
    let mut bytes = 0;
    for i in 0..samples + 5 {
        let started = Instant::now();
        let response = send().send().await?;
        let status = response.status();
        let body = response.bytes().await?;
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        anyhow::ensure!(
            status == 200,
            "HTTP {status}: {}",
            String::from_utf8_lossy(&body)
        );
        bytes = body.len();
        if i >= 5 {
            times.push(ms);
        }
    }
    times.sort_by(f64::total_cmp);
    Ok(Timing {
        p50: percentile(&times, 50.0),
        p99: percentile(&times, 99.0),
        bytes,
    })
}

/// One library view: the console URL and the same listing through the API.
struct Case {
    name: &'static str,
    console: String,
    api: String,
}

fn cases(probe: &str) -> Vec<Case> {
    // `%20`, not `+`: the API reads query strings as the SDK signs them, `+` literally.
    let encode = |s: &str| {
        percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    let api = |extra: &str, sort: &str, offset: u64| {
        format!("/v1/{PROJECT}/digital-assets?limit={PAGE}&offset={offset}&{extra}&{sort}")
    };
    let states = format!("asset_state={LIBRARY_STATES}");
    let newest = "sort_key=create_time&sort_dir=desc";
    vec![
        Case {
            name: "library (newest, page 1)",
            console: "/console".into(),
            api: api(&states, newest, 0),
        },
        Case {
            name: "sorted by name",
            console: "/console?sort=name".into(),
            api: api(&states, "sort_key=asset_name&sort_dir=asc", 0),
        },
        Case {
            name: "sorted by asset_order",
            console: "/console?sort=order".into(),
            api: api(&states, "sort_key=asset_order&sort_dir=asc", 0),
        },
        Case {
            name: "type VIDEO",
            console: "/console?type=VIDEO".into(),
            api: api(&format!("asset_type=VIDEO&{states}"), newest, 0),
        },
        Case {
            name: "state FAILED",
            console: "/console?state=FAILED".into(),
            api: api("asset_state=FAILED", newest, 0),
        },
        Case {
            name: "tag campaign-17",
            console: "/console?tag=campaign-17".into(),
            api: api(&format!("tag=campaign-17&{states}"), newest, 0),
        },
        Case {
            name: "search (mid-word name)",
            console: format!("/console?q={}", encode(probe)),
            api: api(&format!("name={}&{states}", encode(probe)), newest, 0),
        },
        Case {
            name: "search, results only (htmx)",
            console: format!("/console?q={}", encode(probe)),
            api: api(&format!("name={}&{states}", encode(probe)), newest, 0),
        },
        Case {
            name: "page 100",
            console: "/console?page=100".into(),
            api: api(&states, newest, 99 * PAGE),
        },
    ]
}

async fn run() -> anyhow::Result<()> {
    let total = env_num("BENCH_ASSETS", 1_000_000);
    let samples = env_num("BENCH_SAMPLES", 200) as usize;
    let out_path = std::env::var("BENCH_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/out/console.txt"));
    let scratch = tempfile::Builder::new()
        .prefix("assetd-bench-console-")
        .tempdir_in(std::env::var("BENCH_TMP").unwrap_or_else(|_| "/tmp".to_owned()))?;
    let reuse = std::env::var_os("BENCH_DIR").map(PathBuf::from);
    let data_dir = reuse.clone().unwrap_or_else(|| scratch.path().join("data"));

    eprintln!("seeding {total} assets (MAIN file + thumbnail each), {SEED_BATCH} per Write");
    let (seed_secs, probe) = seed(&data_dir, total, reuse.is_none()).await?;
    let http = reqwest::Client::builder()
        .no_proxy()
        .tcp_nodelay(true)
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(1)
        .timeout(Duration::from_secs(120))
        .build()?;
    let mut server = Server::spawn(&data_dir, &scratch.path().join("assetd.log"))?;
    server.wait_healthy(&http).await?;
    let cookie = sign_in(&http, &server.base).await?;

    let mut t = String::new();
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    writeln!(
        t,
        "assetd console benchmark ({cpus} CPUs, embedded SQLite, release build)\n\n\
         library page HTML: GET /console with a session cookie, {total} assets in one project \
         ({PAGE} cards a page, each with a signed thumbnail URL), one connection, {samples} \
         samples a case; reference: the same listing through the signed JSON API, same server\n"
    )?;
    writeln!(
        t,
        "  {:<30} {:>11} {:>11} {:>9} {:>11} {:>11} {:>9}",
        "view", "HTML p50", "HTML p99", "HTML KiB", "API p50", "API p99", "p99 ratio"
    )?;
    let mut worst: f64 = 0.0;
    for case in cases(&probe) {
        eprintln!("  {}", case.name);
        let htmx = case.name.contains("htmx");
        let html = time_requests(samples, || {
            let mut request = http
                .get(format!("{}{}", server.base, case.console))
                .header("cookie", &cookie);
            if htmx {
                request = request
                    .header("hx-request", "true")
                    .header("hx-target", "results");
            }
            request
        })
        .await?;
        let api = time_requests(samples, || api_get(&http, &server.base, &case.api)).await?;
        worst = worst.max(html.p99);
        writeln!(
            t,
            "  {:<30} {:>8.2} ms {:>8.2} ms {:>9.1} {:>8.2} ms {:>8.2} ms {:>9.2}",
            case.name,
            html.p50,
            html.p99,
            html.bytes as f64 / 1024.0,
            api.p50,
            api.p99,
            html.p99 / api.p99
        )?;
    }
    writeln!(
        t,
        "\n  worst HTML p99 {worst:.2} ms (target < 50 ms); search probe {probe:?}; \
         seeding {seed_secs:.0} s; assetd peak RSS {:.1} MiB",
        server.peak_rss_kib() as f64 / 1024.0
    )?;
    drop(server);
    print!("{t}");
    if let Some(dir) = out_path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&out_path, &t)?;
    eprintln!("written to {}", out_path.display());
    Ok(())
}
