//! How records are laid out on every backend: times as microseconds since the epoch, the
//! sharing columns derived from an asset, and the outbox job of a state change. The backends
//! differ in SQL, not in what they store.

use time::OffsetDateTime;

use super::{state_event, Asset, Job, NewJob};
use crate::model::{AssetState, SharedType};

/// Attempts to deliver one webhook event before it fails for good.
const EVENT_ATTEMPTS: i32 = 8;

/// Microseconds since the epoch: the stored form of every timestamp.
pub(crate) fn micros(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000) as i64
}

/// The time stored as `us` microseconds since the epoch.
pub(crate) fn from_micros(us: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(us) * 1_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// The `shared_type` column: how far an asset is shared.
pub(crate) fn shared_type(asset: &Asset) -> &'static str {
    asset
        .shared_config
        .as_ref()
        .and_then(|c| c.shared_type)
        .unwrap_or(SharedType::Private)
        .as_str()
}

/// The projects an asset is shared with (only SHARED assets have any).
pub(crate) fn shared_with(asset: &Asset) -> impl Iterator<Item = &String> {
    asset
        .shared_config
        .as_ref()
        .filter(|config| config.shared_type == Some(SharedType::Shared))
        .and_then(|config| config.allowed_project_ids.as_ref())
        .into_iter()
        .flatten()
}

/// The outbox job that delivers the event of `asset` entering its state (from `from`, `None`
/// for a new asset), or `None` when the state did not change. A backend enqueues it in the
/// transaction of the change, when the asset's project has a webhook.
pub(crate) fn state_event_job(asset: &Asset, from: Option<AssetState>) -> Option<NewJob> {
    if from == Some(asset.asset_state) {
        return None;
    }
    let now = OffsetDateTime::now_utc();
    let job = Job::DeliverEvent {
        project_id: asset.project_id.clone(),
        event: state_event(asset, from, now),
    };
    Some(NewJob {
        run_after: now,
        ..job.to_new(EVENT_ATTEMPTS)
    })
}
