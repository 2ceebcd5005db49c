//! Administration: the manual review queue and its decisions, the review whitelist, and
//! freezing (BLOCK) / unfreezing assets. Only admin credentials may call these; they act on
//! every project.

use std::sync::Arc;

use time::OffsetDateTime;

use super::auth::Caller;
use super::links::Links;
use super::state::{self, activate, reject, StateConflict, States, Transition};
use crate::catalog::{Asset, Catalog, CatalogError, Change, FileRecord, Write};
use crate::error::Code;
use crate::model::{FailType, FileState, ValidationError};

/// Why an admin operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The caller is not an admin.
    #[error("this operation needs admin credentials")]
    NotAdmin,
    /// A parameter broke a rule.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// No such asset.
    #[error("asset {0} not found")]
    AssetNotFound(String),
    /// No such file in the review queue.
    #[error("file {0} is not waiting for review")]
    NotInReview(String),
    /// The asset's state does not allow it.
    #[error(transparent)]
    State(#[from] StateConflict),
    /// The record kept changing.
    #[error("{0} is being changed concurrently; retry")]
    Busy(String),
    /// The catalogue failed.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
}

impl AdminError {
    /// The wire code of this failure.
    pub fn code(&self) -> Code {
        match self {
            Self::NotAdmin => Code::Forbidden,
            Self::Invalid(_) | Self::State(_) | Self::Busy(_) => Code::InvalidParameter,
            Self::AssetNotFound(_) => Code::AssetNotFound,
            Self::NotInReview(_) => Code::FileNotFound,
            Self::Catalog(e) => e.code(),
        }
    }
}

/// A file waiting for a person.
#[derive(Debug, Clone)]
pub struct ReviewItem {
    /// The MAIN file.
    pub file: FileRecord,
    /// Its asset.
    pub asset: Asset,
    /// Where the reviewer can fetch the content.
    pub download_url: String,
}

/// The admin service.
pub struct Admin {
    catalog: Arc<dyn Catalog>,
    links: Arc<Links>,
}

fn require_admin(caller: &Caller) -> Result<(), AdminError> {
    if caller.is_admin {
        Ok(())
    } else {
        Err(AdminError::NotAdmin)
    }
}

fn check_text(field: &str, value: &str, max: usize) -> Result<(), AdminError> {
    let n = value.chars().count();
    if n == 0 || n > max {
        return Err(ValidationError::new(field, format!("must be 1 to {max} characters")).into());
    }
    Ok(())
}

impl Admin {
    /// The admin service.
    pub fn new(catalog: Arc<dyn Catalog>, links: Arc<Links>) -> Self {
        Self { catalog, links }
    }

    /// The manual review queue, oldest first.
    pub async fn review_queue(
        &self,
        caller: &Caller,
        limit: u32,
        offset: u64,
    ) -> Result<(u64, Vec<ReviewItem>), AdminError> {
        require_admin(caller)?;
        let (count, files) = self
            .catalog
            .files_in_state(FileState::Review, limit, offset)
            .await?;
        let ids: Vec<String> = files.iter().map(|f| f.asset_id.clone()).collect();
        let assets = self.catalog.assets(&ids).await?;
        let now = OffsetDateTime::now_utc();
        let items = files
            .into_iter()
            .filter_map(|file| {
                let asset = assets.iter().find(|a| a.asset_id == file.asset_id)?.clone();
                let download_url = self.links.download_url(&file.file_id, true, now);
                Some(ReviewItem {
                    file,
                    asset,
                    download_url,
                })
            })
            .collect();
        Ok((count, items))
    }

    /// Approves (asset becomes ACTIVED) or rejects (FAILED, MANUAL_REVIEW_REJECT) a file in
    /// the review queue.
    pub async fn decide(
        &self,
        caller: &Caller,
        file_id: &str,
        approve: bool,
        reason: Option<String>,
    ) -> Result<(), AdminError> {
        require_admin(caller)?;
        let reason = reason.unwrap_or_default();
        if !approve {
            check_text("reason", &reason, 1024)?;
        }
        let reason = &reason;
        let not_queued = || AdminError::NotInReview(file_id.to_owned());
        self.catalog
            .update(
                || async move {
                    let mut file = self.catalog.file(file_id).await?.ok_or_else(not_queued)?;
                    if file.state != FileState::Review {
                        return Err(not_queued());
                    }
                    let mut asset = self
                        .catalog
                        .asset(&file.asset_id)
                        .await?
                        .ok_or_else(not_queued)?;
                    let now = OffsetDateTime::now_utc();
                    if approve {
                        file.state = FileState::Created;
                        file.reason = None;
                        activate(&mut asset);
                    } else {
                        file.state = FileState::Failed;
                        file.reason = Some(reason.clone());
                        reject(&mut asset, FailType::ManualReviewReject, reason);
                    }
                    file.update_time = now;
                    asset.update_time = now;
                    let write = Write {
                        assets: vec![asset],
                        files: vec![file],
                        ..Write::default()
                    };
                    Ok(Change::Commit(write, ()))
                },
                || AdminError::Busy(file_id.to_owned()),
            )
            .await?;
        tracing::info!(file.id = %file_id, approve, "manual review decided");
        Ok(())
    }

    /// Projects whose `review_config.no_need_review` is honoured.
    pub async fn whitelist(&self, caller: &Caller) -> Result<Vec<String>, AdminError> {
        require_admin(caller)?;
        Ok(self.catalog.review_whitelist().await?)
    }

    /// Adds or removes a project from the review whitelist.
    pub async fn set_whitelisted(
        &self,
        caller: &Caller,
        project_id: &str,
        on: bool,
    ) -> Result<(), AdminError> {
        require_admin(caller)?;
        check_text("project_id", project_id, 64)?;
        Ok(self.catalog.set_review_whitelisted(project_id, on).await?)
    }

    /// Freezes (`block`) or unfreezes an asset of any project.
    pub async fn set_blocked(
        &self,
        caller: &Caller,
        asset_id: &str,
        block: bool,
        block_reason_code: Option<String>,
        reason: Option<String>,
    ) -> Result<Asset, AdminError> {
        require_admin(caller)?;
        if let Some(code) = &block_reason_code {
            check_text("block_reason_code", code, 64)?;
        }
        if let Some(text) = &reason {
            check_text("reason", text, 1024)?;
        }
        let (block_reason_code, reason) = (&block_reason_code, &reason);
        let asset = self
            .catalog
            .update(
                || async move {
                    let mut asset = self
                        .catalog
                        .asset(asset_id)
                        .await?
                        .ok_or_else(|| AdminError::AssetNotFound(asset_id.to_owned()))?;
                    let current = States {
                        state: asset.asset_state,
                        before_delete: asset.state_before_delete,
                        before_block: asset.state_before_block,
                    };
                    let next = state::apply(
                        current,
                        if block {
                            Transition::Block
                        } else {
                            Transition::Unblock
                        },
                    )?;
                    asset.asset_state = next.state;
                    asset.state_before_delete = next.before_delete;
                    asset.state_before_block = next.before_block;
                    if block {
                        asset.block_reason_code =
                            Some(block_reason_code.clone().unwrap_or_else(|| "ADMIN".into()));
                    } else {
                        asset.block_reason_code = None;
                    }
                    asset.reason = reason.clone();
                    asset.update_time = OffsetDateTime::now_utc();
                    let write = Write {
                        assets: vec![asset.clone()],
                        ..Write::default()
                    };
                    asset.version += 1;
                    Ok(Change::Commit(write, asset))
                },
                || AdminError::Busy(asset_id.to_owned()),
            )
            .await?;
        tracing::info!(asset.id = %asset_id, block, "asset block changed");
        Ok(asset)
    }
}
