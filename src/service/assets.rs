//! Asset rules: create, read, list, update, delete, restore, summaries and batch actions.
//! Who may do what (owner, sharee, admin) and which state changes are allowed are decided
//! here; storage is the catalogue's business and wire shapes are the HTTP layer's.

use std::collections::HashSet;
use std::sync::Arc;

use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime, Time};

use super::auth::Caller;
use super::links::Links;
use super::state::{self, StateConflict, States, Transition};
use super::timers::{timers_for, TimerSettings};
use crate::catalog::Derived;
use crate::catalog::{
    AccessRecord, Asset, AssetQuery, AssetSource, Catalog, CatalogError, Change, FileRecord,
    ShareRole, SortKey, TextMatch, Write,
};
use crate::error::Code;
use crate::model::{
    AssetSharedConfig, AssetState, AssetType, AutoOperationConfig, BatchAction,
    BatchAssetActionBody, CreateAssetBody, FileCategory, FileState, SharedType, SupportedService,
    SystemProperty, SystemPropertyAction, SystemPropertyKey, UpdateAssetBody, Validate,
    ValidationError,
};
use tokio::sync::Notify;

/// Most ids accepted by one summary or batch request.
pub const MAX_IDS_PER_REQUEST: usize = 1000;

/// Why an asset operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum AssetError {
    /// A parameter broke a rule.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// No such asset in the caller's view.
    #[error("asset {0} does not exist in this project")]
    NotFound(String),
    /// The asset's state does not allow the operation.
    #[error(transparent)]
    State(#[from] StateConflict),
    /// The asset is shared with the caller, who may read but not change it.
    #[error("asset {0} belongs to another project; shared assets are read-only")]
    ReadOnly(String),
    /// The record kept changing under concurrent writers.
    #[error("asset {0} is being changed concurrently; retry")]
    Busy(String),
    /// The catalogue failed.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
}

impl AssetError {
    /// The wire code of this failure.
    pub fn code(&self) -> Code {
        match self {
            Self::Invalid(_) | Self::State(_) | Self::Busy(_) => Code::InvalidParameter,
            Self::NotFound(_) => Code::AssetNotFound,
            Self::ReadOnly(_) => Code::Forbidden,
            Self::Catalog(e) => e.code(),
        }
    }
}

fn invalid(field: &str, rule: impl Into<String>) -> AssetError {
    AssetError::Invalid(ValidationError::new(field, rule))
}

/// A file as a caller sees it: the record plus a download URL when it may be downloaded.
#[derive(Debug, Clone)]
pub struct FileView {
    /// The stored record.
    pub file: FileRecord,
    /// Signed download URL, present only for downloadable files.
    pub download_url: Option<String>,
}

/// An asset with its files, as a caller sees it.
#[derive(Debug, Clone)]
pub struct AssetView {
    /// The stored record.
    pub asset: Asset,
    /// Its files, oldest first. The generated thumbnail is not among them: the API has no
    /// category for it and reports it as the summary's `thumbnail_url`.
    pub files: Vec<FileView>,
    /// Download URL of the thumbnail processing made, when it may be downloaded.
    pub thumbnail_url: Option<String>,
    /// What processing of the MAIN file is doing, while it runs (`show` only).
    pub processing: Option<Processing>,
}

/// Where processing of an asset's MAIN file stands, while it is pending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Processing {
    /// The current step; `Queued` while waiting for a worker or a retry.
    pub step: crate::jobs::progress::Step,
    /// Percent done, when the step knows it (transcoding).
    pub percent: Option<u8>,
    /// The attempt running or coming next, from 1.
    pub attempt: i32,
    /// Attempts allowed.
    pub max_attempts: i32,
}

/// Brief information about one asset (`list_asset_summary`).
#[derive(Debug, Clone)]
pub struct AssetSummary {
    /// The asset.
    pub asset: Asset,
    /// Download URL of its cover, if it has one.
    pub cover_url: Option<String>,
    /// Download URL of its thumbnail, if it has one.
    pub thumbnail_url: Option<String>,
}

/// The outcome of a batch action for a group of ids.
#[derive(Debug, Clone)]
pub struct ActionOutcome {
    /// Ids with this outcome.
    pub asset_ids: Vec<String>,
    /// `None` for success; otherwise the code and message of the failure.
    pub error: Option<(Code, String)>,
}

/// The asset service.
pub struct Assets {
    catalog: Arc<dyn Catalog>,
    links: Arc<Links>,
    timers: TimerSettings,
    wake: Arc<Notify>,
}

/// Whether the asset's files may be downloaded at all.
pub fn files_downloadable(asset: &Asset) -> bool {
    !matches!(
        asset.asset_state,
        AssetState::Block | AssetState::Deleting | AssetState::Deleted
    )
}

/// Whether the asset's MAIN file has passed review (and processing). Until then only the
/// owner may download any of its files, derived ones such as the thumbnail included.
pub fn review_passed(asset: &Asset) -> bool {
    !matches!(asset.asset_state, AssetState::Creating | AssetState::Failed)
}

/// 23:59:59 UTC of the day `now` falls on, plus 30 days: the default share expiry.
fn default_share_expiry(now: OffsetDateTime) -> OffsetDateTime {
    now.replace_time(Time::from_hms(23, 59, 59).expect("valid time")) + Duration::days(30)
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.replace_nanosecond(0)
        .unwrap_or(t)
        .format(&Rfc3339)
        .unwrap_or_default()
}

/// Checks a shared config against who is asking and fills the default expiry.
fn settle_shared_config(
    caller: &Caller,
    config: AssetSharedConfig,
    field: &str,
    now: OffsetDateTime,
) -> Result<AssetSharedConfig, AssetError> {
    let shared_type = config.shared_type.unwrap_or(SharedType::Private);
    match shared_type {
        SharedType::Private => Ok(AssetSharedConfig {
            shared_type: Some(SharedType::Private),
            expire_time: None,
            allowed_project_ids: None,
        }),
        SharedType::Public if !caller.is_admin => Err(invalid(
            &format!("{field}.shared_type"),
            "PUBLIC sharing is reserved for administrators (system assets)",
        )),
        _ => {
            let projects = config.allowed_project_ids.clone().unwrap_or_default();
            if shared_type == SharedType::Shared && projects.is_empty() {
                return Err(invalid(
                    &format!("{field}.allowed_project_ids"),
                    "must name at least one project when shared_type is SHARED",
                ));
            }
            let expire_time = match config.expire_time {
                Some(t) => t,
                None => rfc3339(default_share_expiry(now)),
            };
            Ok(AssetSharedConfig {
                shared_type: Some(shared_type),
                expire_time: Some(expire_time),
                allowed_project_ids: (shared_type == SharedType::Shared).then_some(projects),
            })
        }
    }
}

fn check_auto_operations(list: &[AutoOperationConfig]) -> Result<(), AssetError> {
    for (i, item) in list.iter().enumerate() {
        if item.operation.is_none() {
            return Err(invalid(
                &format!("auto_operation_config[{i}].operation"),
                "is required",
            ));
        }
        if item.operation_time.is_none() {
            return Err(invalid(
                &format!("auto_operation_config[{i}].operation_time"),
                "is required",
            ));
        }
    }
    Ok(())
}

/// Checks one system property's value against its key (API.md §3.9).
fn check_system_property_value(
    key: SystemPropertyKey,
    value: &str,
    field: &str,
) -> Result<(), AssetError> {
    use SystemPropertyKey::*;
    let ok = match key {
        BackgroundImg
        | CreatedByPlatform
        | MeituanMaterialApproved
        | IsControlled
        | LiveIsAuthorized
        | VideoIsAuthorized
        | ChatIsAuthorized
        | MaterialImg
        | MaterialVideo => value.eq_ignore_ascii_case("yes"),
        BackgroundScene => {
            value.eq_ignore_ascii_case("horizontal") || value.eq_ignore_ascii_case("vertical")
        }
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        let expected = if key == BackgroundScene {
            "Horizontal or Vertical"
        } else {
            "Yes"
        };
        Err(invalid(
            field,
            format!("value for {key} must be {expected}"),
        ))
    }
}

/// Applies system-property items (ADD by default, or DELETE) to `current`.
fn apply_system_properties(
    current: &mut Vec<SystemProperty>,
    items: &[SystemProperty],
) -> Result<(), AssetError> {
    for (i, item) in items.iter().enumerate() {
        let field = format!("system_properties[{i}]");
        let key = item
            .key
            .ok_or_else(|| invalid(&format!("{field}.key"), "is required"))?;
        current.retain(|p| p.key != Some(key));
        if item.action.unwrap_or(SystemPropertyAction::Add) == SystemPropertyAction::Add {
            let value = item
                .value
                .as_deref()
                .ok_or_else(|| invalid(&format!("{field}.value"), "is required for ADD"))?;
            check_system_property_value(key, value, &format!("{field}.value"))?;
            current.push(SystemProperty {
                action: None,
                key: Some(key),
                value: Some(value.to_owned()),
            });
        }
    }
    Ok(())
}

fn dedup_ids(ids: &[String]) -> Result<Vec<String>, AssetError> {
    if ids.len() > MAX_IDS_PER_REQUEST {
        return Err(invalid(
            "asset_ids",
            format!("at most {MAX_IDS_PER_REQUEST} ids per request"),
        ));
    }
    let mut seen = HashSet::new();
    Ok(ids
        .iter()
        .filter(|id| seen.insert(id.as_str()))
        .cloned()
        .collect())
}

impl Assets {
    /// The asset service over `catalog`, building file URLs with `links`.
    pub fn new(
        catalog: Arc<dyn Catalog>,
        links: Arc<Links>,
        timers: TimerSettings,
        wake: Arc<Notify>,
    ) -> Self {
        Self {
            catalog,
            links,
            timers,
            wake,
        }
    }

    /// Commits a write and wakes the workers when it carries jobs.
    async fn commit(&self, write: Write) -> Result<(), CatalogError> {
        let queued = !write.jobs.is_empty();
        self.catalog.apply(write).await?;
        if queued {
            self.wake.notify_waiters();
        }
        Ok(())
    }

    /// Creates an asset in CREATING.
    pub async fn create(
        &self,
        caller: &Caller,
        body: CreateAssetBody,
    ) -> Result<Asset, AssetError> {
        let asset_id = uuid::Uuid::new_v4().to_string();
        let (asset, jobs) = self.prepare(caller, body, asset_id)?;
        self.commit(Write {
            jobs,
            new_assets: vec![asset.clone()],
            ..Write::default()
        })
        .await?;
        tracing::info!(asset.id = %asset.asset_id, asset.r#type = %asset.asset_type, "asset created");
        Ok(asset)
    }

    /// The asset `body` creates for `caller` under `asset_id`, checked by every rule of
    /// `create_digital_asset`, in CREATING, and the timer jobs it needs; nothing is written.
    pub fn prepare(
        &self,
        caller: &Caller,
        body: CreateAssetBody,
        asset_id: String,
    ) -> Result<(Asset, Vec<crate::catalog::NewJob>), AssetError> {
        body.validate()?;
        if !caller.is_admin {
            if let Some(e) = body.needs_admin() {
                return Err(e.into());
            }
        }
        let now = OffsetDateTime::now_utc();
        let shared_config = body
            .shared_config
            .map(|c| settle_shared_config(caller, c, "shared_config", now))
            .transpose()?;
        let auto_operation_config = body.auto_operation_config.unwrap_or_default();
        check_auto_operations(&auto_operation_config)?;
        let mut system_properties = Vec::new();
        apply_system_properties(
            &mut system_properties,
            body.system_properties.as_deref().unwrap_or_default(),
        )?;
        let asset = Asset {
            asset_id,
            project_id: caller.project_id.clone(),
            asset_name: body.asset_name,
            asset_description: body.asset_description,
            app_user_id: caller.app_user_id.clone(),
            asset_type: body.asset_type,
            asset_state: AssetState::Creating,
            state_before_delete: None,
            state_before_block: None,
            fail_type: None,
            block_reason_code: None,
            reason: None,
            tags: body.tags.unwrap_or_default(),
            asset_extra_meta: body
                .asset_extra_meta
                .unwrap_or_default()
                .for_type(body.asset_type)
                .with_defaults(),
            system_properties,
            asset_order: body.asset_order,
            supported_service: body.supported_service.unwrap_or_default(),
            auto_operation_config,
            shared_config,
            review_config: body.review_config,
            is_need_generate_cover: body.is_need_generate_cover.unwrap_or(false),
            create_time: now,
            update_time: now,
            deleted_at: None,
            version: 1,
        };
        let jobs = timers_for(None, &asset, self.timers);
        Ok((asset, jobs))
    }

    /// Whether `caller` may read `asset`: its owner, or a project it is shared with.
    fn readable(&self, caller: &Caller, asset: &Asset, now: OffsetDateTime) -> bool {
        if asset.project_id == caller.project_id {
            return true;
        }
        let Some(config) = &asset.shared_config else {
            return false;
        };
        let unexpired = asset.share_expire().is_none_or(|t| t > now);
        match config.shared_type {
            Some(SharedType::Public) => true,
            Some(SharedType::Shared) => {
                unexpired
                    && config
                        .allowed_project_ids
                        .iter()
                        .flatten()
                        .any(|p| *p == caller.project_id)
            }
            _ => false,
        }
    }

    async fn load_readable(&self, caller: &Caller, asset_id: &str) -> Result<Asset, AssetError> {
        let now = OffsetDateTime::now_utc();
        self.catalog
            .asset(asset_id)
            .await?
            .filter(|a| self.readable(caller, a, now))
            .ok_or_else(|| AssetError::NotFound(asset_id.to_owned()))
    }

    /// Loads an asset the caller owns; sharees get `ReadOnly`, everyone else `NotFound`.
    async fn load_owned(&self, caller: &Caller, asset_id: &str) -> Result<Asset, AssetError> {
        let asset = self.load_readable(caller, asset_id).await?;
        if asset.project_id != caller.project_id {
            return Err(AssetError::ReadOnly(asset_id.to_owned()));
        }
        Ok(asset)
    }

    /// Read-modify-write of one owned asset, retried when another writer got there first.
    async fn modify<F>(
        &self,
        caller: &Caller,
        asset_id: &str,
        change: F,
    ) -> Result<Asset, AssetError>
    where
        F: Fn(&mut Asset) -> Result<(), AssetError> + Sync,
    {
        let change = &change;
        let (asset, queued) = self
            .catalog
            .update(
                || async move {
                    let mut asset = self.load_owned(caller, asset_id).await?;
                    let before = asset.clone();
                    change(&mut asset)?;
                    if asset == before {
                        return Ok(Change::Keep((asset, false)));
                    }
                    asset.update_time = OffsetDateTime::now_utc();
                    let jobs = timers_for(Some(&before), &asset, self.timers);
                    let queued = !jobs.is_empty();
                    let write = Write {
                        assets: vec![asset.clone()],
                        jobs,
                        ..Write::default()
                    };
                    asset.version += 1;
                    Ok(Change::Commit(write, (asset, queued)))
                },
                || AssetError::Busy(asset_id.to_owned()),
            )
            .await?;
        if queued {
            self.wake.notify_waiters();
        }
        Ok(asset)
    }

    fn transition(asset: &mut Asset, t: Transition) -> Result<(), AssetError> {
        let next = state::apply(
            States {
                state: asset.asset_state,
                before_delete: asset.state_before_delete,
                before_block: asset.state_before_block,
            },
            t,
        )?;
        if next.state == AssetState::Deleting && asset.asset_state != AssetState::Deleting {
            asset.deleted_at = Some(OffsetDateTime::now_utc());
        }
        if next.state != AssetState::Deleting {
            asset.deleted_at = None;
        }
        asset.asset_state = next.state;
        asset.state_before_delete = next.before_delete;
        asset.state_before_block = next.before_block;
        Ok(())
    }

    /// Assets with their files as `caller` sees them: download URLs for files that passed,
    /// and for the owner also owner-only URLs of files still in processing or review.
    async fn views(
        &self,
        caller: &Caller,
        assets: Vec<Asset>,
    ) -> Result<Vec<AssetView>, AssetError> {
        let ids: Vec<String> = assets.iter().map(|a| a.asset_id.clone()).collect();
        let mut files = self.catalog.files_of(&ids).await?;
        let now = OffsetDateTime::now_utc();
        Ok(assets
            .into_iter()
            .map(|asset| {
                let downloadable = files_downloadable(&asset);
                let reviewed = review_passed(&asset);
                let (mine, rest): (Vec<_>, Vec<_>) =
                    files.drain(..).partition(|f| f.asset_id == asset.asset_id);
                files = rest;
                // A DELETED asset has no files, whether or not the purge of their records
                // and bytes has run yet.
                let files = mine
                    .into_iter()
                    .filter(|f| f.state != FileState::Deleted)
                    .filter(|_| asset.asset_state != AssetState::Deleted)
                    .map(|file| {
                        let owner = asset.project_id == caller.project_id;
                        let scope = match file.state {
                            _ if !downloadable || file.blob_key.is_none() => None,
                            FileState::Created if reviewed => Some(false),
                            FileState::Created | FileState::Uploaded | FileState::Review
                                if owner =>
                            {
                                Some(true)
                            }
                            _ => None,
                        };
                        let download_url =
                            scope.map(|owner| self.links.download_url(&file.file_id, owner, now));
                        FileView { file, download_url }
                    })
                    .collect::<Vec<_>>();
                let (thumbnails, files): (Vec<_>, Vec<_>) = files
                    .into_iter()
                    .partition(|f| f.file.derived == Some(Derived::Thumbnail));
                let thumbnail_url = thumbnails.into_iter().find_map(|f| f.download_url);
                AssetView {
                    asset,
                    files,
                    thumbnail_url,
                    processing: None,
                }
            })
            .collect())
    }

    /// Records reads of other projects' shared assets in their owners' access logs.
    async fn record_reads(
        &self,
        caller: &Caller,
        assets: &[Asset],
        action: &str,
    ) -> Result<(), AssetError> {
        let at = OffsetDateTime::now_utc();
        let records: Vec<AccessRecord> = assets
            .iter()
            .filter(|a| a.project_id != caller.project_id)
            .map(|a| AccessRecord {
                asset_id: a.asset_id.clone(),
                owner_project_id: a.project_id.clone(),
                reader_project_id: caller.project_id.clone(),
                action: action.to_owned(),
                at,
            })
            .collect();
        Ok(self.catalog.record_access(&records).await?)
    }

    /// Who read an asset the caller owns (shared reads by other projects), newest first.
    pub async fn access_log(
        &self,
        caller: &Caller,
        asset_id: &str,
        params: &[(String, String)],
    ) -> Result<(u64, Vec<AccessRecord>), AssetError> {
        let asset = self.load_owned(caller, asset_id).await?;
        let limit = parse_int(params, "limit", 1, 100, 10)? as u32;
        let offset = parse_int(params, "offset", 0, i64::from(i32::MAX), 0)? as u64;
        Ok(self
            .catalog
            .access_log(&asset.asset_id, limit, offset)
            .await?)
    }

    /// One asset with its files.
    pub async fn show(&self, caller: &Caller, asset_id: &str) -> Result<AssetView, AssetError> {
        let asset = self.load_readable(caller, asset_id).await?;
        self.record_reads(caller, std::slice::from_ref(&asset), "show")
            .await?;
        let mut view = self.views(caller, vec![asset]).await?.remove(0);
        view.processing = self.processing(&view).await?;
        Ok(view)
    }

    /// The pending processing job of the asset's MAIN file, if one is queued or running.
    async fn processing(&self, view: &AssetView) -> Result<Option<Processing>, AssetError> {
        use crate::jobs::progress::{job_key, Report, Step};
        let main = view.files.iter().find(|f| {
            f.file.asset_file_category == FileCategory::Main && f.file.state == FileState::Uploaded
        });
        let Some(main) = main else {
            return Ok(None);
        };
        let Some(job) = self
            .catalog
            .job_status(&job_key(&main.file.file_id))
            .await?
        else {
            return Ok(None);
        };
        let report = job
            .progress
            .as_deref()
            .and_then(|p| serde_json::from_str::<Report>(p).ok());
        let running = job.state == "RUNNING";
        Ok(Some(Processing {
            step: report.filter(|_| running).map_or(Step::Queued, |r| r.step),
            percent: report.filter(|_| running).and_then(|r| r.percent),
            attempt: if running {
                job.attempts
            } else {
                job.attempts + 1
            },
            max_attempts: job.max_attempts,
        }))
    }

    /// A filtered page of assets and the total count.
    pub async fn list(
        &self,
        caller: &Caller,
        params: &[(String, String)],
    ) -> Result<(u64, Vec<AssetView>), AssetError> {
        let query = parse_list_query(caller, params)?;
        let page = self.catalog.list_assets(&query).await?;
        self.record_reads(caller, &page.assets, "list").await?;
        Ok((page.count, self.views(caller, page.assets).await?))
    }

    /// Applies a partial update and returns the updated asset.
    pub async fn update(
        &self,
        caller: &Caller,
        asset_id: &str,
        body: UpdateAssetBody,
    ) -> Result<AssetView, AssetError> {
        if !caller.is_admin {
            if let Some(e) = body.needs_admin() {
                return Err(e.into());
            }
        }
        if let Some(list) = &body.auto_operation_config {
            check_auto_operations(list)?;
        }
        if let Some(s) = body.asset_state.filter(|s| !s.settable_by_update()) {
            return Err(invalid(
                "asset_state",
                format!("{s} cannot be set; only ACTIVED, UNACTIVED or WAITING_DELETE"),
            ));
        }
        let now = OffsetDateTime::now_utc();
        let shared_config = body
            .shared_config
            .clone()
            .map(|c| settle_shared_config(caller, c, "shared_config", now))
            .transpose()?;
        let asset = self
            .modify(caller, asset_id, |asset| {
                match asset.asset_state {
                    AssetState::Deleting | AssetState::Deleted => {
                        return Err(StateConflict {
                            state: asset.asset_state,
                            rule: "deleted assets cannot be updated",
                        }
                        .into())
                    }
                    AssetState::Block if !caller.is_admin => {
                        return Err(StateConflict {
                            state: asset.asset_state,
                            rule: "blocked assets can only be changed by an administrator",
                        }
                        .into())
                    }
                    _ => {}
                }
                body.validate_for(asset.asset_type)?;
                if let Some(t) = body.asset_type.filter(|t| *t != asset.asset_type) {
                    if asset.asset_state != AssetState::Creating {
                        return Err(invalid(
                            "asset_type",
                            "can only change before the main file is uploaded (state CREATING)",
                        ));
                    }
                    asset.asset_type = t;
                }
                if let Some(v) = &body.asset_name {
                    asset.asset_name = v.clone();
                }
                if let Some(v) = &body.asset_description {
                    asset.asset_description = Some(v.clone());
                }
                if let Some(v) = &body.review_config {
                    asset.review_config = Some(v.clone());
                }
                if let Some(v) = &body.tags {
                    asset.tags = v.clone();
                }
                if let Some(patch) = &body.asset_extra_meta {
                    asset
                        .asset_extra_meta
                        .merge(patch.clone().for_type(asset.asset_type));
                }
                asset.asset_extra_meta = std::mem::take(&mut asset.asset_extra_meta)
                    .for_type(asset.asset_type)
                    .with_defaults();
                if let Some(items) = &body.system_properties {
                    apply_system_properties(&mut asset.system_properties, items)?;
                }
                if let Some(v) = &shared_config {
                    asset.shared_config = Some(v.clone());
                }
                if let Some(v) = body.asset_order {
                    asset.asset_order = Some(v);
                }
                if let Some(v) = &body.supported_service {
                    asset.supported_service = v.clone();
                }
                if let Some(v) = &body.auto_operation_config {
                    asset.auto_operation_config = v.clone();
                }
                if let Some(s) = body.asset_state {
                    let t = match s {
                        AssetState::Actived => Transition::Activate,
                        AssetState::Unactived => Transition::Deactivate,
                        _ => Transition::WaitDelete,
                    };
                    Self::transition(asset, t)?;
                }
                Ok(())
            })
            .await?;
        Ok(self.views(caller, vec![asset]).await?.remove(0))
    }

    /// Moves an asset to the recycle bin, or deletes it permanently when `force`.
    pub async fn delete(
        &self,
        caller: &Caller,
        asset_id: &str,
        force: bool,
    ) -> Result<(), AssetError> {
        let t = if force {
            Transition::DeleteForce
        } else {
            Transition::Delete
        };
        self.modify(caller, asset_id, |a| Self::transition(a, t))
            .await?;
        tracing::info!(asset.id = %asset_id, force, "asset deleted");
        Ok(())
    }

    /// Brings an asset back from the recycle bin to the state it had.
    pub async fn restore(&self, caller: &Caller, asset_id: &str) -> Result<(), AssetError> {
        self.modify(caller, asset_id, |a| {
            Self::transition(a, Transition::Restore)
        })
        .await?;
        Ok(())
    }

    /// Brief information on the readable assets among `asset_ids`; unknown ids are skipped.
    pub async fn summaries(
        &self,
        caller: &Caller,
        asset_ids: &[String],
    ) -> Result<Vec<AssetSummary>, AssetError> {
        let ids = dedup_ids(asset_ids)?;
        let now = OffsetDateTime::now_utc();
        let mut assets: Vec<Asset> = self
            .catalog
            .assets(&ids)
            .await?
            .into_iter()
            .filter(|a| self.readable(caller, a, now))
            .collect();
        assets.sort_by_key(|a| ids.iter().position(|id| *id == a.asset_id));
        self.record_reads(caller, &assets, "summary").await?;
        let views = self.views(caller, assets).await?;
        Ok(views
            .into_iter()
            .map(|view| {
                let url_of = |category: FileCategory| {
                    view.files
                        .iter()
                        .find(|f| {
                            f.file.asset_file_category == category && f.download_url.is_some()
                        })
                        .and_then(|f| f.download_url.clone())
                };
                AssetSummary {
                    cover_url: url_of(FileCategory::Cover),
                    thumbnail_url: view.thumbnail_url,
                    asset: view.asset,
                }
            })
            .collect())
    }

    /// Runs one action over many assets; every id gets an outcome.
    pub async fn batch(
        &self,
        caller: &Caller,
        body: BatchAssetActionBody,
    ) -> Result<Vec<ActionOutcome>, AssetError> {
        if body.asset_ids.is_empty() {
            return Err(invalid("asset_ids", "must name at least one asset"));
        }
        let ids = dedup_ids(&body.asset_ids)?;
        let now = OffsetDateTime::now_utc();
        let share = match body.action {
            BatchAction::Share => {
                let params = body.params.as_deref().ok_or_else(|| {
                    invalid(
                        "params",
                        "SHARE needs a JSON object like {\"allowed_project_ids\":[…]}",
                    )
                })?;
                let mut config: AssetSharedConfig = crate::model::parse_json(params.as_bytes())
                    .map_err(|e| invalid("params", e.to_string()))?;
                config.shared_type.get_or_insert(SharedType::Shared);
                Some(settle_shared_config(caller, config, "params", now)?)
            }
            BatchAction::Unshare => Some(AssetSharedConfig {
                shared_type: Some(SharedType::Private),
                ..AssetSharedConfig::default()
            }),
            _ => None,
        };
        let mut outcomes: Vec<ActionOutcome> = vec![ActionOutcome {
            asset_ids: Vec::new(),
            error: None,
        }];
        for id in ids {
            let result = match body.action {
                BatchAction::Delete => self.delete(caller, &id, false).await,
                BatchAction::DeleteForce => self.delete(caller, &id, true).await,
                BatchAction::Restore => self.restore(caller, &id).await,
                BatchAction::Active | BatchAction::Unactive => {
                    let t = if body.action == BatchAction::Active {
                        Transition::Activate
                    } else {
                        Transition::Deactivate
                    };
                    self.modify(caller, &id, |a| Self::transition(a, t))
                        .await
                        .map(drop)
                }
                BatchAction::Share | BatchAction::Unshare => {
                    let config = share.clone();
                    self.modify(caller, &id, |a| {
                        if matches!(a.asset_state, AssetState::Deleting | AssetState::Deleted) {
                            return Err(StateConflict {
                                state: a.asset_state,
                                rule: "deleted assets cannot be shared",
                            }
                            .into());
                        }
                        a.shared_config = config.clone();
                        Ok(())
                    })
                    .await
                    .map(drop)
                }
            };
            match result {
                Ok(()) => outcomes[0].asset_ids.push(id),
                Err(AssetError::Catalog(e)) => return Err(e.into()),
                Err(e) => {
                    // Assets that failed alike are reported together, so the message
                    // speaks of "the asset" and the outcome lists which.
                    let message = e
                        .to_string()
                        .replace(&format!("asset {id}"), "the asset")
                        .replace(&id, "the asset");
                    let key = (e.code(), message);
                    match outcomes.iter_mut().find(|o| o.error.as_ref() == Some(&key)) {
                        Some(o) => o.asset_ids.push(id),
                        None => outcomes.push(ActionOutcome {
                            asset_ids: vec![id],
                            error: Some(key),
                        }),
                    }
                }
            }
        }
        outcomes.retain(|o| !o.asset_ids.is_empty());
        Ok(outcomes)
    }
}

/// The `mode` of `delete_asset`: `force` (any case) deletes for good, no mode moves the
/// asset to the recycle bin; any other mode is refused rather than guessed.
pub fn parse_delete_mode(params: &[(String, String)]) -> Result<bool, AssetError> {
    match single(params, "mode") {
        None => Ok(false),
        Some(mode) if mode.eq_ignore_ascii_case("force") => Ok(true),
        Some(_) => Err(invalid(
            "mode",
            "must be force (delete for good), or omitted to move the asset to the recycle bin",
        )),
    }
}

/// Values of a query parameter: repeated keys and comma-separated lists both count.
fn values<'a>(params: &'a [(String, String)], key: &str) -> Vec<&'a str> {
    params
        .iter()
        .filter(|(k, _)| k == key)
        .flat_map(|(_, v)| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .collect()
}

fn single<'a>(params: &'a [(String, String)], key: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

fn parse_bool(params: &[(String, String)], key: &str) -> Result<Option<bool>, AssetError> {
    single(params, key)
        .map(|v| match v {
            "true" | "True" | "TRUE" => Ok(true),
            "false" | "False" | "FALSE" => Ok(false),
            _ => Err(invalid(key, "must be true or false")),
        })
        .transpose()
}

fn parse_int(
    params: &[(String, String)],
    key: &str,
    min: i64,
    max: i64,
    default: i64,
) -> Result<i64, AssetError> {
    match single(params, key) {
        None => Ok(default),
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| (min..=max).contains(n))
            .ok_or_else(|| invalid(key, format!("must be an integer between {min} and {max}"))),
    }
}

fn parse_time(
    params: &[(String, String)],
    key: &str,
) -> Result<Option<OffsetDateTime>, AssetError> {
    single(params, key)
        .map(|v| {
            OffsetDateTime::parse(v, &Rfc3339)
                .map_err(|_| invalid(key, "must be an RFC 3339 time such as 2021-01-10T08:43:17Z"))
        })
        .transpose()
}

fn parse_enum_list<T: std::str::FromStr>(
    params: &[(String, String)],
    key: &str,
) -> Result<Vec<T>, AssetError>
where
    T::Err: std::fmt::Display,
{
    values(params, key)
        .into_iter()
        .map(|v| v.parse::<T>().map_err(|e| invalid(key, e.to_string())))
        .collect()
}

fn one_of<'a>(
    params: &'a [(String, String)],
    key: &str,
    allowed: &[&str],
) -> Result<Option<&'a str>, AssetError> {
    match single(params, key) {
        None => Ok(None),
        Some(v) if allowed.contains(&v) => Ok(Some(v)),
        Some(_) => Err(invalid(
            key,
            format!("must be one of {}", allowed.join(", ")),
        )),
    }
}

/// Asset types accepted by the list filter: today's types plus legacy names that simply
/// match nothing.
const LEGACY_LIST_TYPES: &[&str] = &["HUMAN_MODEL", "SCENE", "ANIMATION"];

/// Turns `list_assets` query parameters into a validated [`AssetQuery`].
pub fn parse_list_query(
    caller: &Caller,
    params: &[(String, String)],
) -> Result<AssetQuery, AssetError> {
    let exact_fields = values(params, "accurate_query_field");
    for field in &exact_fields {
        if !["name", "tag"].contains(field) {
            return Err(invalid(
                "accurate_query_field",
                "values must be name or tag",
            ));
        }
    }
    let exact = |field: &str| exact_fields.contains(&field);
    if single(params, "style_id").is_some() {
        return Err(invalid(
            "style_id",
            "style filters are not supported by this server",
        ));
    }
    let types = values(params, "asset_type")
        .into_iter()
        .filter(|t| !LEGACY_LIST_TYPES.contains(t))
        .map(|v| {
            v.parse::<AssetType>()
                .map_err(|e| invalid("asset_type", e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let legacy_only = types.is_empty() && !values(params, "asset_type").is_empty();
    let sort = match one_of(
        params,
        "sort_key",
        &["create_time", "update_time", "asset_order", "asset_name"],
    )? {
        Some("update_time") => SortKey::UpdateTime,
        Some("asset_order") => SortKey::AssetOrder,
        Some("asset_name") => SortKey::AssetName,
        _ => SortKey::CreateTime,
    };
    let descending = match single(params, "sort_dir")
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(_) => return Err(invalid("sort_dir", "must be asc or desc")),
    };
    let source = match one_of(params, "asset_source", &["SYSTEM", "CUSTOMIZATION", "ALL"])? {
        Some("SYSTEM") => AssetSource::System,
        Some("ALL") => AssetSource::All,
        _ => AssetSource::Customization,
    };
    let role = match one_of(params, "role", &["SHARER", "SHAREE"])? {
        Some("SHARER") => Some(ShareRole::Sharer),
        Some("SHAREE") => Some(ShareRole::Sharee),
        _ => None,
    };
    let tags_all = matches!(
        one_of(
            params,
            "tag_combination_type",
            &["INTERSECTION", "UNION_SET"]
        )?,
        Some("INTERSECTION")
    );
    let system_properties = values(params, "system_property")
        .into_iter()
        .map(|pair| {
            let (key, value) = pair
                .split_once(':')
                .ok_or_else(|| invalid("system_property", "items must be KEY:VALUE"))?;
            key.parse::<SystemPropertyKey>()
                .map_err(|e| invalid("system_property", e.to_string()))?;
            Ok((key.to_owned(), value.to_owned()))
        })
        .collect::<Result<Vec<_>, AssetError>>()?;
    let supported_service = single(params, "supported_service")
        .map(|v| {
            v.parse::<SupportedService>()
                .map_err(|e| invalid("supported_service", e.to_string()))
        })
        .transpose()?;
    let voice_provider = single(params, "voice_provider")
        .map(|v| {
            if v == "HUAWEI_METASTUDIO" || v.parse::<crate::model::ExternalVoiceProvider>().is_ok()
            {
                Ok(v.to_owned())
            } else {
                Err(invalid(
                    "voice_provider",
                    "must be HUAWEI_METASTUDIO or a third-party TTS provider such as MOBVOI",
                ))
            }
        })
        .transpose()?;
    let voice_sexes = parse_enum_list::<crate::model::VoiceSex>(params, "sex")?
        .into_iter()
        .map(|s| s.as_str().to_owned())
        .collect();
    let voice_languages = parse_enum_list::<crate::model::VoiceLanguage>(params, "language")?
        .into_iter()
        .map(|s| s.as_str().to_owned())
        .collect();
    let human_model_2d_version = single(params, "human_model_2d_version")
        .map(|v| {
            v.parse::<crate::model::HumanModelVersion>()
                .map(|v| v.as_str().to_owned())
                .map_err(|e| invalid("human_model_2d_version", e.to_string()))
        })
        .transpose()?;
    let mut query = AssetQuery {
        project_id: caller.project_id.clone(),
        now: Some(OffsetDateTime::now_utc()),
        limit: parse_int(params, "limit", 1, 100, 10)? as u32,
        offset: parse_int(params, "offset", 0, i64::from(i32::MAX), 0)? as u64,
        name: single(params, "name").map(|text| TextMatch {
            text: text.to_owned(),
            exact: exact("name"),
        }),
        tags: values(params, "tag")
            .into_iter()
            .map(|text| TextMatch {
                text: text.to_owned(),
                exact: exact("tag"),
            })
            .collect(),
        tags_all,
        created_from: parse_time(params, "start_time")?,
        created_to: parse_time(params, "end_time")?,
        types,
        states: parse_enum_list(params, "asset_state")?,
        asset_ids: values(params, "asset_id")
            .into_iter()
            .map(str::to_owned)
            .collect(),
        sort,
        descending,
        source,
        role,
        system_properties,
        supported_service,
        app_user_id: single(params, "app_user_id").map(str::to_owned),
        voice_sexes,
        voice_languages,
        is_realtime_voice: parse_bool(params, "is_realtime_voice")?,
        voice_provider,
        action_editable: parse_bool(params, "action_editable")?,
        is_with_action_library: parse_bool(params, "is_with_action_library")?,
        is_movable: parse_bool(params, "is_movable")?,
        human_model_2d_version,
        include_device_name: single(params, "include_device_name").map(str::to_owned),
        exclude_device_name: single(params, "exclude_device_name").map(str::to_owned),
    };
    if let (Some(from), Some(to)) = (query.created_from, query.created_to) {
        if from > to {
            return Err(invalid("start_time", "must not be after end_time"));
        }
    }
    if legacy_only {
        // Only retired type names were asked for: nothing can match.
        query.asset_ids = vec![String::new()];
    }
    Ok(query)
}
