//! The durable job queue's runtime. Jobs live in the catalogue as [`crate::catalog::Job`]s,
//! enqueued in the same `Write` as the state change that needs them; workers claim one with
//! a lease, heartbeat while it runs, retry with backoff up to a cap, and on permanent failure
//! let the job mark its asset FAILED with a reason.

pub mod governance;
pub mod process;
pub mod progress;
pub mod review;

use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;
use tokio::sync::{Notify, Semaphore};
use tracing::Instrument;

use crate::catalog::{Catalog, Job, JobOutcome, JobRecord, Lane};
use crate::config::Config;
use crate::media::runner::Runner;
use crate::service::links::Links;
use crate::tasks::{supervise, AbortOnDrop};

/// Why an attempt failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum JobFailure {
    /// Worth another try (I/O, a conflict, a tool that timed out).
    #[error("{0}")]
    Retryable(String),
    /// Will never succeed; the asset becomes FAILED with this reason.
    #[error("{reason}")]
    Permanent {
        /// A short machine-readable cause, e.g. `MSS.10002001`-style or `unsupported_format`.
        code: &'static str,
        /// What a person can act on.
        reason: String,
    },
}

impl From<crate::catalog::CatalogError> for JobFailure {
    fn from(e: crate::catalog::CatalogError) -> Self {
        Self::Retryable(format!("catalogue: {e}"))
    }
}

impl From<crate::blobs::BlobError> for JobFailure {
    fn from(e: crate::blobs::BlobError) -> Self {
        Self::Retryable(format!("blob store: {e}"))
    }
}

impl From<crate::service::storage::StorageError> for JobFailure {
    fn from(e: crate::service::storage::StorageError) -> Self {
        Self::Retryable(format!("storage: {e}"))
    }
}

/// Everything a job can use.
pub struct JobContext {
    /// The catalogue.
    pub catalog: Arc<dyn Catalog>,
    /// Where bytes live.
    pub storage: Arc<crate::service::storage::Storage>,
    /// Signed URLs (for reviewers that fetch content).
    pub links: Arc<Links>,
    /// The bounded tool runner.
    pub runner: Runner,
    /// Configuration (limits, timeouts, work directory).
    pub config: Arc<Config>,
    /// Woken when jobs are enqueued.
    pub wake: Arc<Notify>,
    /// The file service (for the upload sweep).
    pub files: Arc<crate::service::files::Files>,
    /// HTTP client for the external reviewer (a URL the operator configured).
    pub http: reqwest::Client,
    /// HTTP client for webhooks (URLs users chose): resolves names through [`Self::egress`].
    pub webhook_http: reqwest::Client,
    /// Which webhook targets may be called.
    pub egress: Arc<crate::service::egress::EgressPolicy>,
}

impl JobContext {
    /// How long a claim lasts without a heartbeat.
    fn lease(&self) -> Duration {
        Duration::from_secs(self.config.job_lease_secs.max(3))
    }
}

/// Delay before retry number `attempt` (1-based): 2 s, 4 s, 8 s, … capped at 5 minutes.
pub fn backoff(attempt: i32) -> Duration {
    let exp = attempt.clamp(1, 16) as u32;
    Duration::from_secs(2u64.saturating_pow(exp).min(300))
}

/// Starts `count` supervised workers (one that panics is started again; the job it held is
/// claimed again once its lease expires); they run until the returned handles are aborted.
///
/// At most `count - 1` of them (at least one) run [`Lane::Heavy`] jobs at a time, so a burst
/// of slow jobs (decks, transcodes) always leaves a worker for quick ones.
pub fn spawn_workers(ctx: Arc<JobContext>, count: usize) -> Vec<tokio::task::JoinHandle<()>> {
    let boot = uuid::Uuid::new_v4().simple().to_string();
    let count = count.max(1);
    let heavy_slots = Arc::new(Semaphore::new((count - 1).max(1)));
    (0..count)
        .map(|i| {
            let ctx = ctx.clone();
            let heavy_slots = heavy_slots.clone();
            let worker = format!("{}-{i}", &boot[..12]);
            supervise(format!("worker {worker}"), move || {
                worker_loop(ctx.clone(), worker.clone(), heavy_slots.clone())
            })
        })
        .collect()
}

async fn worker_loop(ctx: Arc<JobContext>, worker: String, heavy_slots: Arc<Semaphore>) {
    loop {
        let now = OffsetDateTime::now_utc();
        let slot = heavy_slots.clone().try_acquire_owned().ok();
        let lanes: &[Lane] = match slot {
            Some(_) => &[Lane::Light, Lane::Heavy],
            None => &[Lane::Light],
        };
        match ctx
            .catalog
            .claim_job(&worker, now, now + ctx.lease(), lanes)
            .await
        {
            Ok(Some(job)) => {
                // A light job gives the heavy slot back at once.
                let _slot = slot.filter(|_| job.lane == Lane::Heavy);
                run_one(&ctx, &worker, job).await
            }
            Ok(None) => {
                drop(slot);
                tokio::select! {
                    () = ctx.wake.notified() => {}
                    () = tokio::time::sleep(Duration::from_millis(500)) => {}
                }
            }
            Err(e) => {
                drop(slot);
                tracing::warn!(error = %e, "could not claim a job; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// Runs one claimed job inside its span. The span is attached with `instrument`, so it is
/// entered and left around every poll on whichever thread runs it: a guard from
/// `span.enter()` held across an `.await` would stay on the thread's span stack after the
/// task moved on and corrupt what other tasks on that thread log (clippy.toml forbids it).
async fn run_one(ctx: &Arc<JobContext>, worker: &str, record: JobRecord) {
    let span = tracing::info_span!("job", job.id = record.id, job.kind = %record.kind, attempt = record.attempts);
    run_claimed(ctx, worker, record).instrument(span).await;
}

async fn run_claimed(ctx: &Arc<JobContext>, worker: &str, record: JobRecord) {
    let job: Job = match serde_json::from_str(&record.payload) {
        Ok(job) => job,
        Err(e) => {
            tracing::error!(error = %e, "undecodable job payload; failing it");
            let outcome = JobOutcome::Failed {
                error: format!("undecodable payload: {e}"),
            };
            ctx.catalog
                .finish_job(record.id, worker, outcome)
                .await
                .ok();
            return;
        }
    };

    let heartbeat = AbortOnDrop({
        let ctx = ctx.clone();
        let worker = worker.to_owned();
        let id = record.id;
        tokio::spawn(
            async move {
                let mut tick = tokio::time::interval(ctx.lease() / 3);
                tick.tick().await;
                loop {
                    tick.tick().await;
                    let until = OffsetDateTime::now_utc() + ctx.lease();
                    match ctx.catalog.heartbeat_job(id, &worker, until).await {
                        Ok(true) => {}
                        Ok(false) => {
                            tracing::warn!("lost the job's lease");
                            return;
                        }
                        Err(e) => tracing::warn!(error = %e, "heartbeat failed"),
                    }
                }
            }
            .in_current_span(),
        )
    });

    // A panic in a job must not take the worker down: run it as its own task. When the
    // worker is stopped, the guard stops the job and its heartbeat with it; the job's lease
    // then expires and another worker runs it again.
    let mut task = AbortOnDrop({
        let ctx = ctx.clone();
        let job = job.clone();
        tokio::spawn(async move { run_job_in_time(&ctx, &job).await }.in_current_span())
    });
    let result = match (&mut task.0).await {
        Ok(r) => r,
        Err(e) => Err(JobFailure::Retryable(format!("job panicked: {e}"))),
    };
    drop(heartbeat);

    let outcome = match result {
        Ok(()) => {
            tracing::info!("job done");
            JobOutcome::Done
        }
        Err(JobFailure::Retryable(error)) if record.attempts < record.max_attempts => {
            let delay = backoff(record.attempts);
            tracing::warn!(error = %error, retry_in_secs = delay.as_secs(), "job attempt failed; will retry");
            JobOutcome::Retry {
                at: OffsetDateTime::now_utc() + delay,
                error,
            }
        }
        Err(failure) => {
            let reason = match &failure {
                JobFailure::Retryable(e) => {
                    format!("gave up after {} attempts: {e}", record.attempts)
                }
                JobFailure::Permanent { reason, .. } => reason.clone(),
            };
            tracing::warn!(reason = %reason, "job failed for good");
            if let Err(e) = give_up(ctx, &job, &reason).await {
                tracing::error!(error = %e, "could not record the job's failure on its asset");
                let at = OffsetDateTime::now_utc() + backoff(record.attempts);
                let outcome = JobOutcome::Retry { at, error: reason };
                ctx.catalog
                    .finish_job(record.id, worker, outcome)
                    .await
                    .ok();
                return;
            }
            JobOutcome::Failed { error: reason }
        }
    };
    if let Err(e) = ctx.catalog.finish_job(record.id, worker, outcome).await {
        tracing::error!(error = %e, "could not record the job's outcome; its lease will expire and it will run again");
    }
}

/// Runs `job` within `job_timeout_secs`, all its tool runs together. A job past it is
/// stopped (dropping it kills its tools and removes its work directory) and fails for good:
/// the same input would take as long again.
async fn run_job_in_time(ctx: &JobContext, job: &Job) -> Result<(), JobFailure> {
    let limit = Duration::from_secs(ctx.config.job_timeout_secs);
    if limit.is_zero() {
        return run_job(ctx, job).await;
    }
    tokio::time::timeout(limit, run_job(ctx, job))
        .await
        .unwrap_or_else(|_| {
            Err(JobFailure::Permanent {
                code: "job_timeout",
                reason: format!(
                    "processing did not finish within {} s and was stopped; the file is too \
                     complex (or hostile) for the configured job_timeout_secs",
                    limit.as_secs()
                ),
            })
        })
}

async fn run_job(ctx: &JobContext, job: &Job) -> Result<(), JobFailure> {
    match job {
        Job::ProcessMainFile { asset_id, file_id } => {
            process::process_main_file(ctx, asset_id, file_id).await
        }
        Job::AutoOperation {
            asset_id,
            operation,
            operation_time,
        } => governance::auto_operation(ctx, asset_id, *operation, operation_time).await,
        Job::Recycle {
            asset_id,
            deleted_at,
        } => governance::recycle(ctx, asset_id, deleted_at).await,
        Job::PurgeFiles { asset_id } => governance::purge_files(ctx, asset_id).await,
        Job::ShareExpiry {
            asset_id,
            expire_time,
        } => governance::share_expiry(ctx, asset_id, expire_time).await,
        Job::SweepUploads => governance::sweep_uploads(ctx).await,
        Job::DeliverEvent { project_id, event } => {
            governance::deliver_event(ctx, project_id, event).await
        }
        Job::DeleteBlob { key } => {
            ctx.storage.delete_blob(key).await?;
            Ok(())
        }
        Job::ReconcileBlobs => governance::reconcile_blobs(ctx).await,
        Job::ScrubBlobs => governance::scrub_blobs(ctx).await,
    }
}

async fn give_up(ctx: &JobContext, job: &Job, reason: &str) -> Result<(), JobFailure> {
    match job {
        Job::ProcessMainFile { asset_id, file_id } => {
            process::fail_main_file(ctx, asset_id, file_id, reason).await
        }
        // Timers and deliveries have no asset to fail; the FAILED job row is the record.
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff(1), Duration::from_secs(2));
        assert_eq!(backoff(2), Duration::from_secs(4));
        assert_eq!(backoff(20), Duration::from_secs(300));
    }
}
