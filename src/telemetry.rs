//! Prometheus metrics through the `metrics` crate: the process-wide recorder, the metric
//! names, and [`render`], which adds the catalogue's gauges (jobs by kind, assets by state,
//! review queue) at scrape time. Labels are bounded sets (route templates, tool names, states,
//! job kinds): never an asset id, a raw path or anything secret.

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::catalog::{Catalog, CatalogError};
use crate::media::runner::{Tool, ToolError, ToolOutput};
use crate::model::AssetState;

/// HTTP requests by `method`, `route` (the route template) and `status`.
pub const HTTP_REQUESTS: &str = "assetd_http_requests_total";
/// HTTP request latency by `method`, `route` and `status`.
pub const HTTP_DURATION: &str = "assetd_http_request_duration_seconds";
/// Bytes received by `PUT {upload_url}`.
pub const UPLOAD_BYTES: &str = "assetd_upload_bytes_total";
/// Bytes sent by `GET {download_url}`.
pub const DOWNLOAD_BYTES: &str = "assetd_download_bytes_total";
/// External tool runs by `tool` and `outcome`.
pub const TOOL_RUNS: &str = "assetd_tool_runs_total";
/// External tool run time by `tool` and `outcome`.
pub const TOOL_DURATION: &str = "assetd_tool_run_duration_seconds";
/// Jobs by `kind` and `state` (`queued`, `running`, `failed`).
pub const JOBS: &str = "assetd_jobs";
/// Assets by `state`.
pub const ASSETS: &str = "assetd_assets";
/// Files waiting in the manual review queue.
pub const REVIEW_QUEUE: &str = "assetd_review_queue_length";
/// Files whose stored bytes the scrubber found damaged (downloads refuse them).
pub const DAMAGED_FILES: &str = "assetd_damaged_files";

/// Histogram buckets in seconds, from a fast API call to a long transcode.
const BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
];

/// The route label of requests that matched no route.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// The process-wide recorder's handle, installing the recorder on first use. The `metrics`
/// facade has one recorder per process; every server in the process reports to it.
pub fn handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(BUCKETS)
                .expect("the bucket list is not empty")
                .build_recorder();
            let handle = recorder.handle();
            // Another recorder may already be installed (a host program's); then our
            // metrics go there and this handle renders only what it owns.
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed; /metrics may be empty");
            }
            describe();
            handle
        })
        .clone()
}

fn describe() {
    describe_counter!(
        HTTP_REQUESTS,
        "HTTP requests by method, route template and status"
    );
    describe_histogram!(
        HTTP_DURATION,
        metrics::Unit::Seconds,
        "HTTP request latency by method, route template and status"
    );
    describe_counter!(
        UPLOAD_BYTES,
        metrics::Unit::Bytes,
        "Bytes received by uploads"
    );
    describe_counter!(
        DOWNLOAD_BYTES,
        metrics::Unit::Bytes,
        "Bytes sent by downloads"
    );
    describe_counter!(TOOL_RUNS, "External tool runs by tool and outcome");
    describe_histogram!(
        TOOL_DURATION,
        metrics::Unit::Seconds,
        "External tool run time by tool and outcome, including the wait for a free tool slot"
    );
    describe_gauge!(
        JOBS,
        "Background jobs by kind and state (queued, running, failed)"
    );
    describe_gauge!(ASSETS, "Assets by state");
    describe_gauge!(REVIEW_QUEUE, "Files waiting for manual review");
    describe_gauge!(
        DAMAGED_FILES,
        "Files whose stored bytes the scrubber found damaged"
    );
}

/// Records one HTTP request.
pub fn http_request(method: &str, route: &str, status: u16, elapsed: Duration) {
    let labels = [
        ("method", method.to_owned()),
        ("route", route.to_owned()),
        ("status", status.to_string()),
    ];
    counter!(HTTP_REQUESTS, &labels).increment(1);
    histogram!(HTTP_DURATION, &labels).record(elapsed.as_secs_f64());
}

/// Counts bytes received by an upload.
pub fn uploaded(bytes: usize) {
    counter!(UPLOAD_BYTES).increment(bytes as u64);
}

/// Counts bytes sent by a download.
pub fn downloaded(bytes: usize) {
    counter!(DOWNLOAD_BYTES).increment(bytes as u64);
}

/// The `outcome` label of a tool run.
pub fn tool_outcome(result: &Result<ToolOutput, ToolError>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(ToolError::Failed { .. }) => "failed",
        Err(ToolError::TimedOut { .. }) => "timed_out",
        Err(ToolError::Missing(_)) => "missing",
        Err(ToolError::OutputTooLarge { .. }) => "output_too_large",
        Err(ToolError::OverLimit { .. }) => "over_limit",
        Err(ToolError::NoOutput { .. }) => "no_output",
        Err(ToolError::NotLocalFile(_)) => "refused_path",
        Err(ToolError::Io { .. }) => "io_error",
    }
}

/// Records one tool run.
pub fn tool_run(tool: Tool, result: &Result<ToolOutput, ToolError>, elapsed: Duration) {
    let labels = [
        ("tool", tool.program().to_owned()),
        ("outcome", tool_outcome(result).to_owned()),
    ];
    counter!(TOOL_RUNS, &labels).increment(1);
    histogram!(TOOL_DURATION, &labels).record(elapsed.as_secs_f64());
}

/// The Prometheus text exposition: the recorder's counters and histograms, with the
/// catalogue's gauges refreshed first.
pub async fn render(catalog: &dyn Catalog) -> Result<String, CatalogError> {
    // Gauges are process-wide like everything else in the recorder; refreshing and rendering
    // under one lock keeps two servers in one process (tests) from mixing their numbers.
    static SCRAPE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let handle = handle();
    let _scrape = SCRAPE.lock().await;
    let stats = catalog.stats().await?;
    let mut kinds: Vec<&str> = crate::catalog::Job::KINDS.to_vec();
    for (kind, _) in &stats.jobs {
        if !kinds.contains(&kind.as_str()) {
            kinds.push(kind);
        }
    }
    for kind in kinds {
        let counts = stats
            .jobs
            .iter()
            .find(|(k, _)| k == kind)
            .map(|(_, c)| *c)
            .unwrap_or_default();
        for (state, n) in [
            ("queued", counts.queued),
            ("running", counts.running),
            ("failed", counts.failed),
        ] {
            gauge!(JOBS, "kind" => kind.to_owned(), "state" => state).set(n as f64);
        }
    }
    for state in AssetState::ALL {
        let n = stats
            .assets
            .iter()
            .find(|(s, _)| s == state)
            .map_or(0, |(_, n)| *n);
        gauge!(ASSETS, "state" => state.as_str()).set(n as f64);
    }
    gauge!(REVIEW_QUEUE).set(stats.review_queue as f64);
    let (damaged, _) = catalog.damaged_files(0).await?;
    gauge!(DAMAGED_FILES).set(damaged as f64);
    handle.run_upkeep();
    Ok(handle.render())
}
