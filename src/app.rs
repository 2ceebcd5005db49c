//! Wiring: builds every service from a [`Config`] and serves the router until shutdown.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use rand::RngCore;
use tokio::net::TcpListener;

use crate::blobs::BlobStore;
use crate::catalog::{self, Catalog, Write};
use crate::config::Config;
use crate::error::Code;
use crate::http::listener::MssListener;
use crate::jobs::JobContext;
use crate::media::runner::Runner;
use crate::service::assets::Assets;
use crate::service::auth::Authenticator;
use crate::service::egress::{EgressPolicy, GuardedResolver};
use crate::service::files::Files;
use crate::service::links::Links;
use crate::service::storage::Storage;
use crate::tasks::supervise;

/// Everything a handler can reach; cheap to clone.
#[derive(Clone)]
pub struct App {
    /// The configuration the server started with.
    pub config: Arc<Config>,
    /// The catalogue.
    pub catalog: Arc<dyn Catalog>,
    /// Request authentication.
    pub auth: Arc<Authenticator>,
    /// Signed upload and download URLs.
    pub links: Arc<Links>,
    /// The asset service.
    pub assets: Arc<Assets>,
    /// The file service.
    pub files: Arc<Files>,
    /// What background jobs run with.
    pub jobs: Arc<JobContext>,
    /// Administration.
    pub admin: Arc<crate::service::admin::Admin>,
    /// Webhooks.
    pub webhooks: Arc<crate::service::webhooks::Webhooks>,
    /// Where bytes live.
    pub storage: Arc<Storage>,
    /// The `/ready` checks.
    pub readiness: Arc<crate::service::readiness::Readiness>,
    /// Project quotas and request rates.
    pub quotas: Arc<crate::service::quotas::Quotas>,
    /// Replication between libraries.
    pub replication: Arc<crate::service::replication::Replication>,
}

impl App {
    /// Opens the catalogue and builds every service.
    pub async fn build(mut config: Config) -> anyhow::Result<Self> {
        // Metrics recorded before the recorder exists would be lost.
        crate::telemetry::handle();
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("creating data directory {}", config.data_dir.display()))?;
        // Tools only get absolute paths, and the default `./data` is relative.
        config.data_dir = std::path::absolute(&config.data_dir)
            .with_context(|| format!("resolving data directory {}", config.data_dir.display()))?;
        let catalog = catalog::open(&config.catalog_url())
            .await
            .context("opening the catalogue")?;
        let mut fresh = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut fresh);
        let url_key = catalog.server_secret("url-signing", &fresh).await?;
        let links = Arc::new(Links::new(
            config.public_base_url(),
            url_key,
            std::time::Duration::from_secs(config.upload_url_ttl_secs),
            std::time::Duration::from_secs(config.download_url_ttl_secs),
        ));
        rand::thread_rng().fill_bytes(&mut fresh);
        let csrf_key = catalog.server_secret("console-csrf", &fresh).await?;
        let auth = Arc::new(Authenticator::new(
            catalog.clone(),
            config.max_clock_skew(),
            std::time::Duration::from_secs(config.token_ttl_secs),
            csrf_key,
        ));
        let blobs = BlobStore::open(&config.blob_url())
            .await
            .context("opening the blob store")?;
        let storage = Arc::new(Storage::new(
            catalog.clone(),
            blobs.clone(),
            std::time::Duration::from_secs(config.job_lease_secs),
        ));
        let wake = Arc::new(tokio::sync::Notify::new());
        let timers = crate::service::timers::TimerSettings {
            recycle_retention: time::Duration::seconds(
                i64::try_from(config.recycle_retention_secs).unwrap_or(i64::MAX / 2),
            ),
            max_attempts: config.job_max_attempts,
        };
        let assets = Arc::new(Assets::new(
            catalog.clone(),
            links.clone(),
            timers,
            wake.clone(),
        ));
        let files = Arc::new(Files::new(
            catalog.clone(),
            storage.clone(),
            links.clone(),
            wake.clone(),
            config.job_max_attempts,
        ));
        let replication = Arc::new(crate::service::replication::Replication::new(
            catalog.clone(),
            assets.clone(),
            storage.clone(),
            links.clone(),
            wake.clone(),
            crate::service::replication::Settings {
                keys: crate::service::replication::ReplicationKeys::new(
                    &config.replication_keys,
                    config.replication_key_id.as_deref(),
                )?,
                source: config.public_base_url(),
                ttl: Duration::from_secs(config.replication_ttl_secs),
                fetch_timeout: Duration::from_secs(config.replication_fetch_timeout_secs),
                job_attempts: config.job_max_attempts,
            },
        )?);
        let config = Arc::new(config);
        let egress =
            Arc::new(EgressPolicy::parse(&config.webhook_allow_hosts).map_err(anyhow::Error::msg)?);
        let readiness = Arc::new(crate::service::readiness::Readiness::new(
            catalog.clone(),
            blobs.clone(),
        ));
        let jobs = Arc::new(JobContext {
            catalog: catalog.clone(),
            storage: storage.clone(),
            links: links.clone(),
            runner: Runner::new(config.tool_concurrency).with_limits(config.tool_limits()),
            config: config.clone(),
            wake,
            files: files.clone(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .context("building the HTTP client")?,
            webhook_http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                // A proxy would resolve names itself, past the policy.
                .no_proxy()
                .dns_resolver(Arc::new(GuardedResolver(egress.clone())))
                .build()
                .context("building the webhook HTTP client")?,
            egress: egress.clone(),
        });
        Ok(Self {
            admin: Arc::new(crate::service::admin::Admin::new(
                catalog.clone(),
                links.clone(),
            )),
            webhooks: Arc::new(crate::service::webhooks::Webhooks::new(
                catalog.clone(),
                egress,
            )),
            storage,
            readiness,
            quotas: Arc::new(crate::service::quotas::Quotas::new(catalog.clone())),
            replication,
            config,
            jobs,
            catalog,
            auth,
            links,
            assets,
            files,
        })
    }

    /// Serves on `listener` until `shutdown` resolves.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        self.serve_with_metrics(listener, None, shutdown).await
    }

    /// Serves on `listener`, and `/metrics` alone on `metrics` when given (then the main
    /// listener does not serve it), until `shutdown` resolves.
    pub async fn serve_with_metrics(
        self,
        listener: TcpListener,
        metrics: Option<TcpListener>,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let metrics = metrics.map(|listener| {
            let router = crate::http::metrics_router(self.clone());
            tokio::spawn(async move {
                if let Err(e) = axum::serve(listener, router).await {
                    tracing::error!(error = %e, "the metrics listener stopped");
                }
            })
        });
        match crate::media::runner::JobDir::sweep(&self.config.data_dir.join("work")) {
            Ok(0) | Err(_) => {}
            Ok(n) => tracing::info!(dirs = n, "removed work directories left by a previous run"),
        }
        for (tool, affected) in crate::media::runner::report_missing() {
            tracing::warn!(tool = ?tool, affects = affected, "external tool missing; processing that needs it will fail");
        }
        let sweeper = {
            let app = self.clone();
            supervise("upload sweep scheduler".into(), move || {
                schedule_upload_sweeps(app.clone())
            })
        };
        let blob_timers = {
            let app = self.clone();
            supervise("blob store job scheduler".into(), move || {
                schedule_blob_jobs(app.clone())
            })
        };
        let workers = crate::jobs::spawn_workers(self.jobs.clone(), self.config.workers);
        let watchdog = self.clone();
        let router = crate::http::router(self);
        let served = tokio::select! {
            served = axum::serve(MssListener(listener), router).with_graceful_shutdown(shutdown) => {
                served.context("serving HTTP")
            }
            dead = watchdog.watch_catalog() => Err(dead),
        };
        sweeper.abort();
        blob_timers.abort();
        if let Some(metrics) = metrics {
            metrics.abort();
        }
        for worker in workers {
            worker.abort();
        }
        served
    }

    /// Whether the server can do its work: the catalogue must commit an (empty) write within
    /// [`HEALTH_WRITE_TIMEOUT`]. On SQLite that goes through the writer task and takes the
    /// write lock, so a dead writer or a database locked by something else shows here.
    pub async fn check_health(&self) -> Result<(), HealthError> {
        catalog_writable(self.catalog.as_ref()).await
    }

    /// Resolves (with the reason) once the catalogue has accepted no write for
    /// `catalog_unwritable_exit_secs`, so the process exits non-zero for its supervisor to
    /// restart instead of answering 500 to every write; never resolves when that is 0.
    async fn watch_catalog(self) -> anyhow::Error {
        let limit = Duration::from_secs(self.config.catalog_unwritable_exit_secs);
        if limit.is_zero() {
            return std::future::pending().await;
        }
        let mut last_ok = Instant::now();
        let mut tick = tokio::time::interval(WATCHDOG_PERIOD.min(limit));
        loop {
            tick.tick().await;
            match self.check_health().await {
                Ok(()) => last_ok = Instant::now(),
                Err(e) if last_ok.elapsed() >= limit => {
                    tracing::error!(error = %e, "the catalogue has accepted no write for too long; exiting");
                    return anyhow::anyhow!(
                        "{e}; no write for {}s, exiting so a supervisor can restart the server",
                        limit.as_secs()
                    );
                }
                Err(e) => tracing::warn!(error = %e, "the catalogue does not accept writes"),
            }
        }
    }
}

/// Whether `catalog` commits an (empty) write within [`HEALTH_WRITE_TIMEOUT`]; shared by
/// `/health` and `/ready`.
pub async fn catalog_writable(catalog: &dyn Catalog) -> Result<(), HealthError> {
    match tokio::time::timeout(HEALTH_WRITE_TIMEOUT, catalog.apply(Write::default())).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(HealthError::CatalogUnwritable(e.to_string())),
        Err(_) => Err(HealthError::CatalogUnwritable(format!(
            "no write committed within {}s",
            HEALTH_WRITE_TIMEOUT.as_secs()
        ))),
    }
}

/// How long `/health` waits for the catalogue to commit a write.
pub const HEALTH_WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// How often the watchdog checks that the catalogue accepts writes.
const WATCHDOG_PERIOD: Duration = Duration::from_secs(10);

/// Why the server is not healthy.
#[derive(Debug, thiserror::Error)]
pub enum HealthError {
    /// The catalogue does not commit writes.
    #[error("the catalogue cannot write: {0}")]
    CatalogUnwritable(String),
}

impl HealthError {
    /// A server that cannot write is unavailable.
    pub fn code(&self) -> Code {
        Code::Unavailable
    }
}

/// Runs the abandoned-upload sweep once per period (a quarter of the abandonment age,
/// between 1 s and 10 min), counted from the Unix epoch. Every node checks four times a
/// period; the one that claims the period in the catalogue enqueues the sweep, so it runs
/// once per period however many nodes there are, and across restarts.
async fn schedule_upload_sweeps(app: App) {
    let age = std::time::Duration::from_secs(app.config.abandoned_upload_secs);
    let period = (age / 4).clamp(
        std::time::Duration::from_secs(1),
        std::time::Duration::from_secs(600),
    );
    let mut tick = tokio::time::interval((period / 4).max(std::time::Duration::from_secs(1)));
    loop {
        tick.tick().await;
        let start = period_start(time::OffsetDateTime::now_utc(), period);
        match app.catalog.claim_period("sweep_uploads", start).await {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "could not schedule the upload sweep");
                continue;
            }
        }
        let write = crate::catalog::Write {
            jobs: vec![crate::catalog::Job::SweepUploads.to_new(app.config.job_max_attempts)],
            ..crate::catalog::Write::default()
        };
        match app.catalog.apply(write).await {
            Ok(()) => app.jobs.wake.notify_waiters(),
            Err(e) => tracing::warn!(error = %e, "could not schedule the upload sweep"),
        }
    }
}

/// Enqueues the blob store's reconciliation sweep at start and every
/// `reconcile_interval_secs`, and a slice of scrubbing every minute while the scrubber is on.
/// Both are jobs with one pending at most, so they run once at a time across nodes.
async fn schedule_blob_jobs(app: App) {
    use crate::catalog::Job;
    let reconcile_every = std::time::Duration::from_secs(app.config.reconcile_interval_secs.max(1));
    let scrub_every = std::time::Duration::from_secs(60);
    let mut next_reconcile = tokio::time::Instant::now();
    let mut next_scrub = tokio::time::Instant::now() + scrub_every;
    loop {
        let mut jobs = Vec::new();
        let now = tokio::time::Instant::now();
        if now >= next_reconcile {
            jobs.push(Job::ReconcileBlobs.to_new(app.config.job_max_attempts));
            next_reconcile = now + reconcile_every;
        }
        if now >= next_scrub {
            if app.config.scrub_bytes_per_sec > 0 {
                jobs.push(Job::ScrubBlobs.to_new(app.config.job_max_attempts));
            }
            next_scrub = now + scrub_every;
        }
        if !jobs.is_empty() {
            let write = crate::catalog::Write {
                jobs,
                ..crate::catalog::Write::default()
            };
            match app.catalog.apply(write).await {
                Ok(()) => app.jobs.wake.notify_waiters(),
                Err(e) => tracing::warn!(error = %e, "could not schedule blob store jobs"),
            }
        }
        tokio::time::sleep_until(next_reconcile.min(next_scrub)).await;
    }
}

/// The start of the period of length `period` (counted from the Unix epoch) that `now` is in.
fn period_start(now: time::OffsetDateTime, period: std::time::Duration) -> time::OffsetDateTime {
    let period = i128::try_from(period.as_nanos())
        .unwrap_or(i128::MAX)
        .max(1);
    let nanos = now.unix_timestamp_nanos();
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos.div_euclid(period) * period)
        .unwrap_or(now)
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown requested");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_node_sees_the_same_periods() {
        let period = std::time::Duration::from_secs(60);
        let at = |secs: i64| time::OffsetDateTime::from_unix_timestamp(secs).unwrap();
        assert_eq!(period_start(at(1_000_000_000), period), at(999_999_960));
        assert_eq!(period_start(at(1_000_000_019), period), at(999_999_960));
        assert_eq!(period_start(at(1_000_000_020), period), at(1_000_000_020));
    }
}
