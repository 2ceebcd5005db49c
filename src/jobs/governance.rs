//! Timer and outbox jobs: scheduled BLOCK/DELETE, the recycle bin, purging a deleted asset's
//! bytes, share expiry, the abandoned-upload sweep, and webhook delivery. Each handler checks
//! that the asset still wants what the job was scheduled for, so a job that fires twice or
//! after its schedule changed is a harmless no-op.

use crate::service::egress::{self, Refused};
use std::time::Duration;

use hmac::{Hmac, Mac};
use secrecy::ExposeSecret;
use sha2::Sha256;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::{JobContext, JobFailure};
use crate::catalog::{Asset, Change, Write};
use crate::model::{AssetSharedConfig, AssetState, AutoOperation, FileState, SharedType};
use crate::service::state::{self, States, Transition};
use crate::service::timers::{timers_for, TimerSettings};

/// Timer settings from the configuration.
pub fn timer_settings(ctx: &JobContext) -> TimerSettings {
    TimerSettings {
        recycle_retention: time::Duration::seconds(
            i64::try_from(ctx.config.recycle_retention_secs).unwrap_or(i64::MAX / 2),
        ),
        max_attempts: ctx.config.job_max_attempts,
    }
}

/// Read-modify-write of one asset with the timers the change needs. `change` returns
/// whether it changed anything.
pub(super) async fn change_asset(
    ctx: &JobContext,
    asset_id: &str,
    change: impl Fn(&mut Asset) -> bool + Sync,
) -> Result<(), JobFailure> {
    let change = &change;
    let queued = ctx
        .catalog
        .update(
            || async move {
                let Some(before) = ctx.catalog.asset(asset_id).await? else {
                    return Ok(Change::Keep(false));
                };
                let mut after = before.clone();
                if !change(&mut after) {
                    return Ok(Change::Keep(false));
                }
                after.update_time = OffsetDateTime::now_utc();
                let jobs = timers_for(Some(&before), &after, timer_settings(ctx));
                let queued = !jobs.is_empty();
                let write = Write {
                    assets: vec![after],
                    jobs,
                    ..Write::default()
                };
                Ok(Change::Commit(write, queued))
            },
            busy,
        )
        .await?;
    if queued {
        ctx.wake.notify_waiters();
    }
    Ok(())
}

/// The failure of a job whose records kept changing under it: worth another try later.
pub(super) fn busy() -> JobFailure {
    JobFailure::Retryable("asset kept changing".into())
}

fn transition(asset: &mut Asset, t: Transition) -> bool {
    let current = States {
        state: asset.asset_state,
        before_delete: asset.state_before_delete,
        before_block: asset.state_before_block,
    };
    match state::apply(current, t) {
        Ok(next) if next != current => {
            asset.asset_state = next.state;
            asset.state_before_delete = next.before_delete;
            asset.state_before_block = next.before_block;
            if next.state != AssetState::Deleting {
                asset.deleted_at = None;
            }
            true
        }
        _ => false,
    }
}

/// A scheduled BLOCK or DELETE, if the asset still has that schedule.
pub async fn auto_operation(
    ctx: &JobContext,
    asset_id: &str,
    operation: AutoOperation,
    operation_time: &str,
) -> Result<(), JobFailure> {
    change_asset(ctx, asset_id, |asset| {
        let scheduled = asset.auto_operation_config.iter().any(|op| {
            op.operation == Some(operation) && op.operation_time.as_deref() == Some(operation_time)
        });
        if !scheduled {
            return false;
        }
        match operation {
            AutoOperation::Block => {
                let changed = transition(asset, Transition::Block);
                if changed {
                    asset.block_reason_code = Some("AUTO_OPERATION".into());
                    asset.reason = Some(format!("frozen as scheduled at {operation_time}"));
                }
                changed
            }
            AutoOperation::Delete => {
                let changed = transition(asset, Transition::DeleteForce);
                if changed {
                    asset.reason = Some(format!("deleted as scheduled at {operation_time}"));
                }
                changed
            }
        }
    })
    .await?;
    tracing::info!(asset.id = %asset_id, operation = %operation, "scheduled operation ran");
    Ok(())
}

/// Empties the recycle bin for one asset once its retention has passed.
pub async fn recycle(ctx: &JobContext, asset_id: &str, deleted_at: &str) -> Result<(), JobFailure> {
    let entered = OffsetDateTime::parse(deleted_at, &Rfc3339).ok();
    change_asset(ctx, asset_id, |asset| {
        let same_stay =
            asset.deleted_at.map(|t| t.unix_timestamp()) == entered.map(|t| t.unix_timestamp());
        asset.asset_state == AssetState::Deleting
            && same_stay
            && transition(asset, Transition::DeleteForce)
    })
    .await
}

/// Marks every file of a DELETED asset DELETED and drops its reference to its bytes, all in
/// one write; the catalogue then deletes the bytes no other file refers to. Nothing is
/// removed before that write commits, so a conflict or a crash cannot leave a record whose
/// bytes are gone.
pub async fn purge_files(ctx: &JobContext, asset_id: &str) -> Result<(), JobFailure> {
    let attempt = || async move {
        let Some(asset) = ctx.catalog.asset(asset_id).await? else {
            return Ok(Change::Keep(None));
        };
        if asset.asset_state != AssetState::Deleted {
            return Ok(Change::Keep(None));
        }
        let now = OffsetDateTime::now_utc();
        let mut write = Write::default();
        let mut parts = Vec::new();
        for mut file in ctx.catalog.files_of(&[asset_id.to_owned()]).await? {
            if let Some(count) = file.multipart_count {
                parts.push((file.file_id.clone(), count));
            }
            if file.state == FileState::Deleted && file.blob_key.is_none() {
                continue;
            }
            file.state = FileState::Deleted;
            file.blob_key = None;
            file.update_time = now;
            write.files.push(file);
        }
        Ok(Change::Commit(write, Some(parts)))
    };
    let busy = || JobFailure::Retryable("files kept changing".into());
    let Some(parts) = ctx.catalog.update(attempt, busy).await? else {
        return Ok(());
    };
    // Parts are no blobs: nothing refers to them once their upload is over.
    for (file_id, count) in parts {
        ctx.storage
            .blobs()
            .delete_parts(&file_id, count as u32)
            .await?;
    }
    tracing::info!(asset.id = %asset_id, "files of a deleted asset removed");
    Ok(())
}

/// The reconciliation sweep of the blob store.
pub async fn reconcile_blobs(ctx: &JobContext) -> Result<(), JobFailure> {
    let done = ctx.storage.reconcile().await?;
    if !done.is_empty() {
        tracing::info!(
            abandoned_writes = done.abandoned_writes,
            released = done.released,
            deleted = done.deleted,
            orphans = done.orphans,
            staging = done.staging,
            "reconciled the blob store"
        );
    }
    Ok(())
}

/// Longest a background scrub job runs before it makes room for other jobs.
const SCRUB_SLICE: Duration = Duration::from_secs(60);

/// Verifies blobs due for it (last verified more than `scrub_interval_secs` ago) at
/// `scrub_bytes_per_sec`, for at most a minute; the timer enqueues the next slice.
pub async fn scrub_blobs(ctx: &JobContext) -> Result<(), JobFailure> {
    let interval = time::Duration::seconds(
        i64::try_from(ctx.config.scrub_interval_secs).unwrap_or(i64::MAX / 2),
    );
    let done = ctx
        .storage
        .scrub(
            OffsetDateTime::now_utc() - interval,
            ctx.config.scrub_bytes_per_sec,
            Some(SCRUB_SLICE),
        )
        .await?;
    if done.blobs > 0 {
        tracing::info!(
            blobs = done.blobs,
            size_bytes = done.bytes,
            damaged = done.damaged.len(),
            "scrubbed blobs"
        );
    }
    Ok(())
}

/// Ends sharing at its expiry, if the asset is still shared until then.
pub async fn share_expiry(
    ctx: &JobContext,
    asset_id: &str,
    expire_time: &str,
) -> Result<(), JobFailure> {
    change_asset(ctx, asset_id, |asset| {
        let current = asset.shared_config.as_ref();
        let due = current.is_some_and(|c| {
            c.shared_type == Some(SharedType::Shared)
                && c.expire_time.as_deref() == Some(expire_time)
        });
        if due {
            asset.shared_config = Some(AssetSharedConfig {
                shared_type: Some(SharedType::Private),
                ..AssetSharedConfig::default()
            });
        }
        due
    })
    .await
}

/// Cancels uploads abandoned past the configured age and removes stale temporary objects.
pub async fn sweep_uploads(ctx: &JobContext) -> Result<(), JobFailure> {
    let age = Duration::from_secs(ctx.config.abandoned_upload_secs);
    ctx.files
        .sweep(age)
        .await
        .map(drop)
        .map_err(|e| JobFailure::Retryable(format!("upload sweep: {e}")))
}

/// The `X-Assetd-Signature` value: `sha256=` + hex HMAC-SHA256 over `"{timestamp}.{body}"`.
pub fn event_signature(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// POSTs one event to the project's webhook; a non-2xx answer or a timeout is retried with
/// backoff by the queue.
pub async fn deliver_event(
    ctx: &JobContext,
    project_id: &str,
    event: &serde_json::Value,
) -> Result<(), JobFailure> {
    let Some(hook) = ctx.catalog.webhook(project_id).await? else {
        return Ok(());
    };
    // A target the operator did not allow will not become allowed by retrying.
    let refused = |refused: &Refused| JobFailure::Permanent {
        code: "webhook_refused",
        reason: format!("webhook not called: {refused}"),
    };
    let url: reqwest::Url = hook.url.parse().map_err(|e| JobFailure::Permanent {
        code: "webhook_refused",
        reason: format!("webhook not called: its URL does not parse ({e})"),
    })?;
    ctx.egress.check_url(&url).map_err(|e| refused(&e))?;
    let body = serde_json::to_vec(event).expect("events serialize");
    let timestamp = OffsetDateTime::now_utc().unix_timestamp();
    let signature = event_signature(hook.secret.expose_secret().as_bytes(), timestamp, &body);
    // The webhook client resolves names through the egress policy, so the address it
    // connects to is one that was checked.
    let response = ctx
        .webhook_http
        .post(url)
        .timeout(Duration::from_secs(ctx.config.webhook_timeout_secs))
        .header("content-type", "application/json")
        .header("x-assetd-event", "asset.state_changed")
        .header("x-assetd-timestamp", timestamp.to_string())
        .header("x-assetd-signature", signature)
        .body(body)
        .send()
        .await
        .map_err(|e| match egress::refused_in(&e) {
            Some(r) => refused(r),
            None => JobFailure::Retryable(format!("webhook unreachable: {}", e.without_url())),
        })?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(JobFailure::Retryable(format!(
            "webhook answered {}",
            response.status()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_signatures_cover_timestamp_and_body() {
        let a = event_signature(b"k", 1, b"{}");
        assert!(a.starts_with("sha256=") && a.len() == 7 + 64);
        assert_ne!(a, event_signature(b"k", 2, b"{}"));
        assert_ne!(a, event_signature(b"k", 1, b"{ }"));
        assert_ne!(a, event_signature(b"other", 1, b"{}"));
    }
}
