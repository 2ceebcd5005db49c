//! Every timer of the library is a job with a `run_after` in the durable queue, so it fires
//! once, survives restarts and catches up after downtime. This module decides which timers a
//! change to an asset needs; the jobs themselves check, when they fire, that the asset still
//! wants them (a changed schedule simply makes the old job a no-op).

use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use crate::catalog::{Asset, Job, NewJob};
use crate::model::{AssetState, SharedType};

/// Settings the timers depend on.
#[derive(Debug, Clone, Copy)]
pub struct TimerSettings {
    /// How long an asset stays in the recycle bin.
    pub recycle_retention: Duration,
    /// Attempts per timer job.
    pub max_attempts: i32,
}

fn at(job: Job, when: OffsetDateTime, max_attempts: i32) -> NewJob {
    let mut new = job.to_new(max_attempts);
    new.run_after = when;
    new
}

fn parse(t: Option<&str>) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(t?, &Rfc3339).ok()
}

/// The timer jobs `after` needs that `before` (the stored version, `None` for a new asset)
/// did not already have.
pub fn timers_for(before: Option<&Asset>, after: &Asset, settings: TimerSettings) -> Vec<NewJob> {
    let mut jobs = Vec::new();
    let id = after.asset_id.clone();
    let state_changed = before.map(|b| b.asset_state) != Some(after.asset_state);
    if state_changed && after.asset_state == AssetState::Deleting {
        if let Some(deleted_at) = after.deleted_at {
            let job = Job::Recycle {
                asset_id: id.clone(),
                deleted_at: deleted_at.format(&Rfc3339).unwrap_or_default(),
            };
            jobs.push(at(
                job,
                deleted_at + settings.recycle_retention,
                settings.max_attempts,
            ));
        }
    }
    if state_changed && after.asset_state == AssetState::Deleted {
        let job = Job::PurgeFiles {
            asset_id: id.clone(),
        };
        jobs.push(job.to_new(settings.max_attempts));
    }
    if before.map(|b| &b.auto_operation_config) != Some(&after.auto_operation_config) {
        for op in &after.auto_operation_config {
            // An entry kept from `before` already has its job (pending, or run): enqueueing
            // it again would run a BLOCK or DELETE that already fired a second time.
            if before.is_some_and(|b| b.auto_operation_config.contains(op)) {
                continue;
            }
            let (Some(operation), Some(when)) = (op.operation, parse(op.operation_time.as_deref()))
            else {
                continue;
            };
            let job = Job::AutoOperation {
                asset_id: id.clone(),
                operation,
                operation_time: op.operation_time.clone().unwrap_or_default(),
            };
            jobs.push(at(job, when, settings.max_attempts));
        }
    }
    let expiry = |a: &Asset| {
        a.shared_config
            .as_ref()
            .filter(|c| c.shared_type == Some(SharedType::Shared))
            .and_then(|c| c.expire_time.clone())
    };
    if let Some(expire_time) = expiry(after).filter(|e| before.and_then(expiry).as_ref() != Some(e))
    {
        if let Some(when) = parse(Some(&expire_time)) {
            let job = Job::ShareExpiry {
                asset_id: id,
                expire_time,
            };
            jobs.push(at(job, when, settings.max_attempts));
        }
    }
    jobs
}
