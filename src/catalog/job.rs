//! The job vocabulary: every kind of background work, as it is persisted in the queue. It
//! lives with the catalogue so that services enqueue work (as [`NewJob`]s in their `Write`)
//! and the job runtime (`crate::jobs`) runs it, without either importing the other.
//! A job kind's serde tag is persisted: never rename it.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{Lane, NewJob};

/// A unit of background work. Jobs are idempotent: running one twice ends the same way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub enum Job {
    /// Check, probe and convert a confirmed MAIN file, then activate its asset.
    #[serde(rename = "process_main_file")]
    ProcessMainFile {
        /// The asset.
        asset_id: String,
        /// Its MAIN file.
        file_id: String,
    },
    /// Run a scheduled BLOCK or DELETE (`auto_operation_config`).
    #[serde(rename = "auto_operation")]
    AutoOperation {
        /// The asset.
        asset_id: String,
        /// What to do.
        operation: crate::model::AutoOperation,
        /// The scheduled time as configured; the job is void if the schedule changed.
        operation_time: String,
    },
    /// Empty the recycle bin: DELETING → DELETED once the retention has passed.
    #[serde(rename = "recycle")]
    Recycle {
        /// The asset.
        asset_id: String,
        /// When it entered the recycle bin; void if it was restored and deleted again.
        deleted_at: String,
    },
    /// Remove the bytes of every file of a DELETED asset.
    #[serde(rename = "purge_files")]
    PurgeFiles {
        /// The asset.
        asset_id: String,
    },
    /// End sharing at `expire_time`.
    #[serde(rename = "share_expiry")]
    ShareExpiry {
        /// The asset.
        asset_id: String,
        /// The expiry as configured; void if sharing changed since.
        expire_time: String,
    },
    /// Cancel abandoned uploads and remove stale temporary objects.
    #[serde(rename = "sweep_uploads")]
    SweepUploads,
    /// POST an event to the project's webhook.
    #[serde(rename = "deliver_event")]
    DeliverEvent {
        /// The project whose webhook receives it.
        project_id: String,
        /// The event.
        event: serde_json::Value,
    },
    /// Remove the bytes of a blob no file refers to any more (enqueued by the catalogue).
    #[serde(rename = "delete_blob")]
    DeleteBlob {
        /// The blob's key.
        key: String,
    },
    /// The reconciliation sweep of the blob store (`service::storage::Storage::reconcile`).
    #[serde(rename = "reconcile_blobs")]
    ReconcileBlobs,
    /// Verify the blobs due for it, at the configured rate, for a while.
    #[serde(rename = "scrub_blobs")]
    ScrubBlobs,
}

impl Job {
    /// Every persisted tag, for reporting queue depth per kind.
    pub const KINDS: &'static [&'static str] = &[
        "process_main_file",
        "auto_operation",
        "recycle",
        "purge_files",
        "share_expiry",
        "sweep_uploads",
        super::EVENT_JOB_KIND,
    ];

    /// The dedup key of the job processing MAIN file `file_id` (also how its progress is
    /// found).
    pub fn processing_key(file_id: &str) -> String {
        format!("process_main_file:{file_id}")
    }

    /// The persisted tag.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::ProcessMainFile { .. } => "process_main_file",
            Self::AutoOperation { .. } => "auto_operation",
            Self::Recycle { .. } => "recycle",
            Self::PurgeFiles { .. } => "purge_files",
            Self::ShareExpiry { .. } => "share_expiry",
            Self::SweepUploads => "sweep_uploads",
            Self::DeliverEvent { .. } => super::EVENT_JOB_KIND,
            Self::DeleteBlob { .. } => super::BLOB_DELETE_JOB_KIND,
            Self::ReconcileBlobs => "reconcile_blobs",
            Self::ScrubBlobs => "scrub_blobs",
        }
    }

    /// The job as a catalogue row, due now.
    pub fn to_new(&self, max_attempts: i32) -> NewJob {
        let dedup_key = match self {
            Self::ProcessMainFile { file_id, .. } => Some(Self::processing_key(file_id)),
            Self::AutoOperation {
                asset_id,
                operation,
                operation_time,
            } => Some(format!(
                "auto_operation:{asset_id}:{operation}:{operation_time}"
            )),
            Self::Recycle {
                asset_id,
                deleted_at,
            } => Some(format!("recycle:{asset_id}:{deleted_at}")),
            Self::PurgeFiles { asset_id } => Some(format!("purge_files:{asset_id}")),
            Self::ShareExpiry {
                asset_id,
                expire_time,
            } => Some(format!("share_expiry:{asset_id}:{expire_time}")),
            Self::SweepUploads => Some("sweep_uploads".to_owned()),
            Self::DeliverEvent { .. } => None,
            Self::DeleteBlob { key } => Some(format!("{}:{key}", self.kind())),
            Self::ReconcileBlobs | Self::ScrubBlobs => Some(self.kind().to_owned()),
        };
        NewJob {
            kind: self.kind().to_owned(),
            payload: serde_json::to_string(self).expect("jobs serialize"),
            dedup_key,
            run_after: OffsetDateTime::now_utc(),
            max_attempts,
            lane: Lane::Light,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_listed() {
        let jobs = [
            Job::ProcessMainFile {
                asset_id: "a".into(),
                file_id: "f".into(),
            },
            Job::AutoOperation {
                asset_id: "a".into(),
                operation: crate::model::AutoOperation::Block,
                operation_time: "t".into(),
            },
            Job::Recycle {
                asset_id: "a".into(),
                deleted_at: "t".into(),
            },
            Job::PurgeFiles {
                asset_id: "a".into(),
            },
            Job::ShareExpiry {
                asset_id: "a".into(),
                expire_time: "t".into(),
            },
            Job::SweepUploads,
            Job::DeliverEvent {
                project_id: "p".into(),
                event: serde_json::Value::Null,
            },
        ];
        let kinds: Vec<&str> = jobs.iter().map(Job::kind).collect();
        assert_eq!(kinds, Job::KINDS);
    }

    #[test]
    fn job_tags_are_stable() {
        let job = Job::ProcessMainFile {
            asset_id: "a".into(),
            file_id: "f".into(),
        };
        let json = serde_json::to_string(&job).unwrap();
        assert_eq!(
            json,
            r#"{"kind":"process_main_file","asset_id":"a","file_id":"f"}"#
        );
        assert_eq!(serde_json::from_str::<Job>(&json).unwrap(), job);
        assert_eq!(
            job.to_new(5).dedup_key.as_deref(),
            Some("process_main_file:f")
        );
    }

    #[test]
    fn the_catalogue_spells_delete_blob_jobs_as_the_runtime_reads_them() {
        let job = Job::DeleteBlob {
            key: "content/ab/abc".into(),
        };
        let new = job.to_new(5);
        assert_eq!(new.kind, super::super::BLOB_DELETE_JOB_KIND);
        assert_eq!(new.dedup_key.as_deref(), Some("delete_blob:content/ab/abc"));
        let spelled = serde_json::json!({"kind": "delete_blob", "key": "content/ab/abc"});
        assert_eq!(serde_json::from_value::<Job>(spelled).unwrap(), job);
    }
}
