//! The asset page: preview (image, video, audio, slide pages with their text), metadata,
//! files with download links, state and failure reason, and the forms that change it —
//! details, activation, sharing, the BLOCK/DELETE schedule, delete, restore, delete forever.
//! Every form is one call of `Assets` with the session's caller, answered by a redirect.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::views::{
    self, badge, csrf_field, human_size, human_time, icon, pending, type_chip, Nav,
};
use super::{after_form, refresh, ConsoleError, Session};
use crate::app::App;
use crate::catalog::{Asset, Derived};
use crate::error::Code;
use crate::model::{
    AssetSharedConfig, AssetState, AssetType, AutoOperation, AutoOperationConfig, FileCategory,
    SharedType, UpdateAssetBody,
};
use crate::service::assets::{AssetView, FileView};

fn asset_path(asset_id: &str) -> String {
    format!("/console/assets/{asset_id}")
}

/// GET `/console/assets/{asset_id}`.
pub async fn show_asset(
    session: Session,
    State(app): State<App>,
    Path(asset_id): Path<String>,
) -> Result<Response, ConsoleError> {
    let view = app.assets.show(&session.caller, &asset_id).await?;
    let title = view.asset.asset_name.clone();
    let content = asset_page(&session, &view);
    Ok(session.page(&title, Nav::Library, content))
}

/// The state the page was rendered with.
#[derive(Debug, Deserialize)]
pub struct StateQuery {
    #[serde(default)]
    was: String,
}

/// GET `/console/assets/{asset_id}/state?was=STATE`: 204 while the state is unchanged,
/// else `HX-Refresh` so the page shows what processing produced.
pub async fn show_state(
    session: Session,
    State(app): State<App>,
    Path(asset_id): Path<String>,
    Query(query): Query<StateQuery>,
) -> Result<Response, ConsoleError> {
    let view = app.assets.show(&session.caller, &asset_id).await?;
    if view.asset.asset_state.as_str() == query.was {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Ok(refresh())
    }
}

/// The details form.
#[derive(Debug, Deserialize)]
pub struct DetailsForm {
    #[serde(default)]
    asset_name: String,
    #[serde(default)]
    asset_description: String,
    #[serde(default)]
    tags: String,
    #[serde(default)]
    asset_order: String,
}

fn split_list(text: &str) -> Vec<String> {
    text.split([',', '\n', ' ', '\t', '\r'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

impl DetailsForm {
    fn body(self) -> Result<UpdateAssetBody, ConsoleError> {
        let asset_order = match self.asset_order.trim() {
            "" => None,
            text => Some(text.parse::<i32>().map_err(|_| {
                ConsoleError::new(
                    Code::InvalidParameter,
                    "asset_order must be a whole number from 0 to 32767",
                )
            })?),
        };
        let tags = self
            .tags
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect();
        Ok(UpdateAssetBody {
            asset_name: Some(self.asset_name.trim().to_owned()),
            asset_description: Some(self.asset_description),
            tags: Some(tags),
            asset_order,
            ..UpdateAssetBody::default()
        })
    }
}

/// POST `/console/assets/{asset_id}/details`: name, description, tags and order.
pub async fn update_details(
    session: Session,
    State(app): State<App>,
    Path(asset_id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<DetailsForm>,
) -> Response {
    let body = form.body();
    update_from_form(&session, &app, &asset_id, &headers, body, "Details saved.").await
}

/// Applies a form's partial update with `Assets::update`; answers with a redirect back.
async fn update_from_form(
    session: &Session,
    app: &App,
    asset_id: &str,
    headers: &HeaderMap,
    body: Result<UpdateAssetBody, ConsoleError>,
    notice: &str,
) -> Response {
    let result = match body {
        Ok(body) => app
            .assets
            .update(&session.caller, asset_id, body)
            .await
            .map_err(ConsoleError::from),
        Err(e) => Err(e),
    };
    let back = asset_path(asset_id);
    after_form(result, headers, app, &back, notice, &back)
}

/// The activation buttons.
#[derive(Debug, Deserialize)]
pub struct ActivationForm {
    state: AssetState,
}

/// POST `/console/assets/{asset_id}/activation`: ACTIVED or UNACTIVED.
pub async fn update_activation(
    session: Session,
    State(app): State<App>,
    Path(asset_id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<ActivationForm>,
) -> Response {
    let body = UpdateAssetBody {
        asset_state: Some(form.state),
        ..UpdateAssetBody::default()
    };
    let notice = format!("The asset is now {}.", form.state);
    update_from_form(&session, &app, &asset_id, &headers, Ok(body), &notice).await
}

/// The sharing form.
#[derive(Debug, Deserialize)]
pub struct SharingForm {
    #[serde(default)]
    shared_type: String,
    #[serde(default)]
    allowed_project_ids: String,
    #[serde(default)]
    expire_time: String,
}

/// A `datetime-local` value taken as UTC, as RFC 3339; `None` when empty.
fn utc_input(field: &str, value: &str) -> Result<Option<String>, ConsoleError> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    let full = if value.len() == 16 {
        format!("{value}:00Z")
    } else {
        format!("{value}Z")
    };
    OffsetDateTime::parse(&full, &Rfc3339)
        .map(|_| Some(full))
        .map_err(|_| {
            ConsoleError::new(
                Code::InvalidParameter,
                format!("{field} must be a date and time such as 2030-01-31T18:00"),
            )
        })
}

/// An RFC 3339 time as a `datetime-local` value in UTC.
fn utc_value(rfc3339: Option<&str>) -> String {
    rfc3339
        .and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok())
        .map(|t| {
            let t = t.to_offset(time::UtcOffset::UTC);
            format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute()
            )
        })
        .unwrap_or_default()
}

impl SharingForm {
    fn body(self) -> Result<UpdateAssetBody, ConsoleError> {
        let config = match self.shared_type.as_str() {
            "SHARED" => AssetSharedConfig {
                shared_type: Some(SharedType::Shared),
                expire_time: utc_input("expire_time", &self.expire_time)?,
                allowed_project_ids: Some(split_list(&self.allowed_project_ids)),
            },
            _ => AssetSharedConfig {
                shared_type: Some(SharedType::Private),
                ..AssetSharedConfig::default()
            },
        };
        Ok(UpdateAssetBody {
            shared_config: Some(config),
            ..UpdateAssetBody::default()
        })
    }
}

/// POST `/console/assets/{asset_id}/sharing`.
pub async fn update_sharing(
    session: Session,
    State(app): State<App>,
    Path(asset_id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<SharingForm>,
) -> Response {
    let body = form.body();
    update_from_form(&session, &app, &asset_id, &headers, body, "Sharing saved.").await
}

/// The schedule form: when to BLOCK and when to DELETE, each optional.
#[derive(Debug, Deserialize)]
pub struct ScheduleForm {
    #[serde(default)]
    block_at: String,
    #[serde(default)]
    delete_at: String,
}

impl ScheduleForm {
    fn body(self) -> Result<UpdateAssetBody, ConsoleError> {
        let mut list = Vec::new();
        for (operation, field, value) in [
            (AutoOperation::Block, "block_at", &self.block_at),
            (AutoOperation::Delete, "delete_at", &self.delete_at),
        ] {
            if let Some(at) = utc_input(field, value)? {
                list.push(AutoOperationConfig {
                    operation: Some(operation),
                    operation_time: Some(at),
                });
            }
        }
        Ok(UpdateAssetBody {
            auto_operation_config: Some(list),
            ..UpdateAssetBody::default()
        })
    }
}

/// POST `/console/assets/{asset_id}/schedule`.
pub async fn update_schedule(
    session: Session,
    State(app): State<App>,
    Path(asset_id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<ScheduleForm>,
) -> Response {
    let body = form.body();
    update_from_form(&session, &app, &asset_id, &headers, body, "Schedule saved.").await
}

/// POST `/console/assets/{asset_id}/delete`: into the recycle bin.
pub async fn delete_asset(
    session: Session,
    State(app): State<App>,
    Path(asset_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let result = app.assets.delete(&session.caller, &asset_id, false).await;
    let back = asset_path(&asset_id);
    let notice = "Moved to the recycle bin.";
    after_form(result, &headers, &app, "/console", notice, &back)
}

/// POST `/console/assets/{asset_id}/restore`: out of the recycle bin.
pub async fn restore_asset(
    session: Session,
    State(app): State<App>,
    Path(asset_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let result = app.assets.restore(&session.caller, &asset_id).await;
    let to = asset_path(&asset_id);
    after_form(
        result,
        &headers,
        &app,
        &to,
        "Restored.",
        "/console/recycle-bin",
    )
}

/// POST `/console/assets/{asset_id}/purge`: permanent deletion.
pub async fn purge_asset(
    session: Session,
    State(app): State<App>,
    Path(asset_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let result = app.assets.delete(&session.caller, &asset_id, true).await;
    let to = "/console/recycle-bin";
    after_form(result, &headers, &app, to, "Deleted forever.", to)
}

// ------------------------------------------------------------------------------- markup

fn main_file(view: &AssetView) -> Option<&FileView> {
    view.files
        .iter()
        .find(|f| f.file.asset_file_category == FileCategory::Main && f.file.derived.is_none())
}

fn derived(view: &AssetView, kind: Derived) -> Option<&FileView> {
    view.files.iter().find(|f| f.file.derived == Some(kind))
}

fn asset_page(session: &Session, view: &AssetView) -> Markup {
    let asset = &view.asset;
    let owner = asset.project_id == session.caller.project_id;
    html! {
        nav.breadcrumb aria-label="Breadcrumb" {
            @if asset.asset_state == AssetState::Deleting {
                a href="/console/recycle-bin" { "Recycle bin" }
            } @else {
                a href="/console" { "Library" }
            }
            span aria-hidden="true" { "/" }
            span { (asset.asset_name) }
        }
        header.asset-head {
            div {
                h1 { (asset.asset_name) }
                div.asset-meta {
                    (type_chip(asset.asset_type))
                    (badge(asset.asset_state))
                    span.muted { "Created " (human_time(asset.create_time)) }
                    span.muted { "Updated " (human_time(asset.update_time)) }
                }
            }
            @if owner { (actions(session, asset)) }
        }
        (state_notice(asset))
        @if !owner {
            div.alert.alert-info role="status" {
                "Shared with you by project " code { (asset.project_id) } ". You can view and download it; only its owner can change it."
            }
        }
        div.asset-layout {
            div.col-main {
                (preview(view))
                (files(view))
                (metadata(asset))
            }
            div.col-side {
                @if owner && !matches!(asset.asset_state, AssetState::Deleting | AssetState::Deleted) {
                    (details_form(session, asset))
                    (sharing_form(session, asset))
                    (schedule_form(session, asset))
                }
                @if session.caller.is_admin { (admin_panel(session, asset)) }
            }
        }
    }
}

fn actions(session: &Session, asset: &Asset) -> Markup {
    let id = &asset.asset_id;
    html! {
        div.actions {
            @match asset.asset_state {
                AssetState::Actived | AssetState::WaitingDelete => {
                    form method="post" action={ "/console/assets/" (id) "/activation" } {
                        (csrf_field(session))
                        input type="hidden" name="state" value="UNACTIVED";
                        button.button type="submit" { "Deactivate" }
                    }
                }
                AssetState::Unactived => {
                    form method="post" action={ "/console/assets/" (id) "/activation" } {
                        (csrf_field(session))
                        input type="hidden" name="state" value="ACTIVED";
                        button.button.primary type="submit" { "Activate" }
                    }
                }
                _ => {}
            }
            @if asset.asset_state == AssetState::Deleting {
                form method="post" action={ "/console/assets/" (id) "/restore" } {
                    (csrf_field(session))
                    button.button.primary type="submit" { (icon("restore")) "Restore" }
                }
                form method="post" action={ "/console/assets/" (id) "/purge" }
                    data-confirm={ "Delete “" (asset.asset_name) "” forever? It cannot be restored." } {
                    (csrf_field(session))
                    button.button.danger type="submit" { "Delete forever" }
                }
            } @else if asset.asset_state != AssetState::Deleted {
                form method="post" action={ "/console/assets/" (id) "/delete" } {
                    (csrf_field(session))
                    button.button.danger-outline type="submit" { (icon("trash")) "Move to recycle bin" }
                }
            }
        }
    }
}

fn state_notice(asset: &Asset) -> Markup {
    html! {
        @match asset.asset_state {
            AssetState::Failed => div.alert.alert-error role="alert" {
                strong { "Processing failed" }
                @if let Some(kind) = asset.fail_type { " (" (kind.as_str()) ")" }
                ": " span.reason { (asset.reason.as_deref().unwrap_or("no reason was recorded")) }
            },
            AssetState::Block => div.alert.alert-warning role="status" {
                strong { "Blocked" }
                @if let Some(code) = &asset.block_reason_code { " (" (code) ")" }
                @if let Some(reason) = &asset.reason { ": " (reason) }
                ". Its files cannot be downloaded until an administrator unblocks it."
            },
            AssetState::Creating => div.alert.alert-info.processing role="status"
                hx-get={ "/console/assets/" (asset.asset_id) "/state?was=CREATING" }
                hx-trigger="every 2s" hx-swap="none" {
                span.spinner aria-hidden="true" {}
                strong { "Processing" }
                " — the file is being checked, analysed and reviewed. This page updates by itself."
            },
            AssetState::Deleting => div.alert.alert-warning role="status" {
                strong { "In the recycle bin." }
                " Restore it to use it again."
            },
            _ => {},
        }
    }
}

fn preview(view: &AssetView) -> Markup {
    let asset = &view.asset;
    let main = main_file(view).and_then(|f| f.download_url.as_deref());
    let poster = view.thumbnail_url.as_deref();
    html! {
        section.panel.preview aria-label="Preview" {
            @match asset.asset_type {
                AssetType::Image if main.or(poster).is_some() => {
                    img.preview-image src=[main.or(poster)] alt=(asset.asset_name);
                }
                AssetType::Video if main.is_some() => {
                    @let rendition = derived(view, Derived::Rendition).and_then(|f| f.download_url.as_deref());
                    video.preview-video controls preload="metadata" poster=[poster]
                        src=[rendition.or(main)] aria-label={ "Video: " (asset.asset_name) } {}
                    p.caption {
                        @if rendition.is_some() { "Playing the web rendition (H.264/AAC MP4)." }
                        @else { "Playing the original file." }
                    }
                }
                AssetType::Audio | AssetType::Music if main.is_some() => {
                    div.audio-stage { (icon("audio")) }
                    audio.preview-audio controls preload="metadata" src=[main]
                        aria-label={ "Audio: " (asset.asset_name) } {}
                }
                AssetType::Ppt => (pages(view)),
                _ => {
                    div.preview-empty {
                        (icon(views::type_icon(asset.asset_type)))
                        @if pending(asset.asset_state) { p { "The preview appears when processing finishes." } }
                        @else { p { "No preview for this asset." } }
                    }
                }
            }
        }
    }
}

fn pages(view: &AssetView) -> Markup {
    let pages = view
        .asset
        .asset_extra_meta
        .ppt_meta
        .as_ref()
        .and_then(|m| m.pages.as_deref())
        .unwrap_or_default();
    let url_of = |file_id: &str| {
        view.files
            .iter()
            .find(|f| f.file.file_id == file_id)
            .and_then(|f| f.download_url.as_deref())
    };
    html! {
        @if pages.is_empty() {
            div.preview-empty {
                (icon("deck"))
                @if pending(view.asset.asset_state) { p { "Page images appear when processing finishes." } }
                @else { p { "No page images: page analysis was not requested for this deck." } }
            }
        } @else {
            ol.pages {
                @for page in pages {
                    li.page {
                        @let no = page.page_no.unwrap_or_default();
                        @if let Some(src) = page.file_id.as_deref().and_then(url_of) {
                            img src=(src) alt={ "Page " (no) } loading="lazy";
                        }
                        div.page-text {
                            span.page-no { "Page " (no) }
                            @match page.page_content.as_deref().filter(|t| !t.trim().is_empty()) {
                                Some(text) => p { (text) },
                                None => p.muted { "No text on this page." },
                            }
                        }
                    }
                }
            }
        }
    }
}

fn files(view: &AssetView) -> Markup {
    let (page_files, listed): (Vec<&FileView>, Vec<&FileView>) = view
        .files
        .iter()
        .partition(|f| f.file.derived == Some(Derived::Page));
    html! {
        section.panel aria-labelledby="files-title" {
            h2 #files-title { "Files" }
            table.files {
                thead { tr { th { "File" } th { "Role" } th { "Size" } th { "State" } th { span.visually-hidden { "Download" } } } }
                tbody {
                    @for f in &listed {
                        tr {
                            td.file-name { (f.file.file_name) }
                            td { (role(f)) }
                            td { (f.file.file_size.map(human_size).unwrap_or_else(|| "—".into())) }
                            td {
                                span.chip { (f.file.state.as_str()) }
                                @if let Some(reason) = &f.file.reason { div.muted.small { (reason) } }
                            }
                            td.download {
                                @if let Some(url) = &f.download_url {
                                    a.button.small href=(url) download aria-label={ "Download " (f.file.file_name) } {
                                        (icon("download")) "Download"
                                    }
                                }
                            }
                        }
                    }
                    @if !page_files.is_empty() {
                        tr {
                            td.file-name { (page_files.len()) " page images" }
                            td { "PAGE" }
                            td { (human_size(page_files.iter().filter_map(|f| f.file.file_size).sum())) }
                            td { span.chip { "generated" } }
                            td {}
                        }
                    }
                }
            }
            @if listed.is_empty() && page_files.is_empty() {
                p.muted { "No files yet." }
            }
        }
    }
}

fn role(f: &FileView) -> String {
    match f.file.derived {
        Some(Derived::Rendition) => "web rendition".into(),
        Some(Derived::Cover) => "COVER (generated)".into(),
        Some(Derived::Thumbnail) => "thumbnail".into(),
        Some(Derived::Page) => "PAGE".into(),
        None => f.file.asset_file_category.as_str().into(),
    }
}

/// `video_transcoding_status` → `Video transcoding status`.
fn humanize(key: &str) -> String {
    let text = key.replace('_', " ");
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// A metadata value with the unit the seed gives its field.
fn value_text(key: &str, value: &serde_json::Value) -> String {
    let text = match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let unit = match key {
        "duration" => " s",
        "video_bit_rate" | "audio_bit_rate" => " kbit/s",
        "sample" => " Hz",
        "width" | "height" => " px",
        "frame_rate" => " fps",
        "size" => return value.as_i64().map(human_size).unwrap_or(text),
        _ => "",
    };
    format!("{text}{unit}")
}

fn metadata(asset: &Asset) -> Markup {
    let extra = serde_json::to_value(&asset.asset_extra_meta).unwrap_or_default();
    let sections: Vec<(&String, &serde_json::Map<String, serde_json::Value>)> = extra
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| v.as_object().map(|o| (k, o)))
        .collect();
    html! {
        section.panel aria-labelledby="meta-title" {
            h2 #meta-title { "Metadata" }
            dl.meta {
                dt { "Asset ID" } dd { code { (asset.asset_id) } }
                dt { "Description" } dd { (asset.asset_description.as_deref().filter(|d| !d.is_empty()).unwrap_or("—")) }
                dt { "Tags" } dd {
                    @if asset.tags.is_empty() { "—" }
                    @for tag in &asset.tags { span.tag { (tag) } " " }
                }
                dt { "Order" } dd { (asset.asset_order.map(|o| o.to_string()).unwrap_or_else(|| "—".into())) }
                @if let Some(config) = &asset.shared_config {
                    dt { "Sharing" } dd {
                        (config.shared_type.map(|t| t.as_str()).unwrap_or("PRIVATE"))
                        @if let Some(projects) = &config.allowed_project_ids { " with " (projects.join(", ")) }
                        @if let Some(expire) = &config.expire_time { " until " (expire) }
                    }
                }
                @for op in &asset.auto_operation_config {
                    dt { "Scheduled " (op.operation.map(|o| o.as_str()).unwrap_or("operation")) }
                    dd { (op.operation_time.as_deref().unwrap_or("—")) }
                }
                @for (name, fields) in &sections {
                    @for (key, value) in fields.iter().filter(|(k, _)| *k != "pages") {
                        dt { (humanize(key)) }
                        dd { (value_text(key, value)) }
                    }
                    @if fields.is_empty() { dt { (humanize(name)) } dd { "—" } }
                }
            }
        }
    }
}

fn details_form(session: &Session, asset: &Asset) -> Markup {
    html! {
        section.panel aria-labelledby="details-title" {
            h2 #details-title { "Details" }
            form.stack method="post" action={ "/console/assets/" (asset.asset_id) "/details" } {
                (csrf_field(session))
                div.field {
                    label for="asset_name" { "Name" }
                    input #asset_name name="asset_name" type="text" required maxlength="256" value=(asset.asset_name);
                }
                div.field {
                    label for="asset_description" { "Description" }
                    textarea #asset_description name="asset_description" rows="3" maxlength="4096" {
                        (asset.asset_description.as_deref().unwrap_or_default())
                    }
                }
                div.field {
                    label for="tags" { "Tags" }
                    input #tags name="tags" type="text" value=(asset.tags.join(", ")) aria-describedby="tags-hint";
                    span #tags-hint.hint { "Separate tags with commas." }
                }
                div.field {
                    label for="asset_order" { "Order" }
                    input #asset_order name="asset_order" type="number" min="0" max="32767"
                        value=[asset.asset_order] aria-describedby="order-hint";
                    span #order-hint.hint { "Lower numbers come first when the library is sorted by asset order." }
                }
                button.button.primary type="submit" { "Save details" }
            }
        }
    }
}

fn sharing_form(session: &Session, asset: &Asset) -> Markup {
    let config = asset.shared_config.clone().unwrap_or_default();
    let shared = config.shared_type == Some(SharedType::Shared);
    html! {
        section.panel aria-labelledby="sharing-title" {
            h2 #sharing-title { (icon("share")) "Sharing" }
            form.stack method="post" action={ "/console/assets/" (asset.asset_id) "/sharing" } {
                (csrf_field(session))
                fieldset.choices {
                    legend.visually-hidden { "Who can use this asset" }
                    label.choice {
                        input type="radio" name="shared_type" value="PRIVATE" checked[!shared];
                        span { strong { "PRIVATE" } " — only this project" }
                    }
                    label.choice {
                        input type="radio" name="shared_type" value="SHARED" checked[shared];
                        span { strong { "SHARED" } " — also the projects below" }
                    }
                }
                div.field {
                    label for="allowed_project_ids" { "Allowed projects" }
                    textarea #allowed_project_ids name="allowed_project_ids" rows="2" spellcheck="false"
                        aria-describedby="allowed-hint" {
                        (config.allowed_project_ids.unwrap_or_default().join(", "))
                    }
                    span #allowed-hint.hint { "Project IDs, separated by commas or spaces." }
                }
                div.field {
                    label for="expire_time" { "Share expires (UTC)" }
                    input #expire_time name="expire_time" type="datetime-local"
                        value=(utc_value(config.expire_time.as_deref())) aria-describedby="expire-hint";
                    span #expire-hint.hint { "Empty: 30 days from today." }
                }
                button.button.primary type="submit" { "Save sharing" }
            }
        }
    }
}

fn schedule_form(session: &Session, asset: &Asset) -> Markup {
    let at = |op: AutoOperation| {
        utc_value(
            asset
                .auto_operation_config
                .iter()
                .find(|c| c.operation == Some(op))
                .and_then(|c| c.operation_time.as_deref()),
        )
    };
    html! {
        section.panel aria-labelledby="schedule-title" {
            h2 #schedule-title { (icon("clock")) "Schedule" }
            form.stack method="post" action={ "/console/assets/" (asset.asset_id) "/schedule" } {
                (csrf_field(session))
                div.field {
                    label for="block_at" { "Block at (UTC)" }
                    input #block_at name="block_at" type="datetime-local" value=(at(AutoOperation::Block));
                }
                div.field {
                    label for="delete_at" { "Delete at (UTC)" }
                    input #delete_at name="delete_at" type="datetime-local" value=(at(AutoOperation::Delete));
                }
                p.hint { "The asset is frozen (BLOCK) or moved to the recycle bin (DELETE) at that time. Clear a field to cancel it." }
                button.button.primary type="submit" { "Save schedule" }
            }
        }
    }
}

fn admin_panel(session: &Session, asset: &Asset) -> Markup {
    html! {
        section.panel.panel-admin aria-labelledby="admin-title" {
            h2 #admin-title { (icon("shield")) "Administration" }
            form.stack method="post" action="/console/admin/block" {
                (csrf_field(session))
                input type="hidden" name="asset_id" value=(asset.asset_id);
                input type="hidden" name="return_to" value="asset";
                @if asset.asset_state == AssetState::Block {
                    input type="hidden" name="action" value="unblock";
                    button.button type="submit" { "Unblock" }
                } @else {
                    input type="hidden" name="action" value="block";
                    div.field {
                        label for="block_reason" { "Block reason" }
                        input #block_reason name="reason" type="text" maxlength="1024";
                    }
                    button.button.danger-outline type="submit" { "Block" }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detail_forms_become_partial_updates() {
        let body = DetailsForm {
            asset_name: " Sunset ".into(),
            asset_description: "at the beach".into(),
            tags: "beach, , summer ".into(),
            asset_order: "".into(),
        }
        .body()
        .unwrap();
        assert_eq!(body.asset_name.as_deref(), Some("Sunset"));
        assert_eq!(body.tags, Some(vec!["beach".into(), "summer".into()]));
        assert_eq!(body.asset_order, None);
        assert!(DetailsForm {
            asset_name: "x".into(),
            asset_description: String::new(),
            tags: String::new(),
            asset_order: "first".into(),
        }
        .body()
        .is_err());
    }

    #[test]
    fn metadata_values_carry_their_units() {
        assert_eq!(value_text("duration", &serde_json::json!(3)), "3 s");
        assert_eq!(
            value_text("video_bit_rate", &serde_json::json!(731)),
            "731 kbit/s"
        );
        assert_eq!(value_text("size", &serde_json::json!(2048)), "2 KB");
        assert_eq!(
            value_text("video_codec", &serde_json::json!("h264")),
            "h264"
        );
    }

    #[test]
    fn local_times_are_taken_as_utc_and_shown_back() {
        assert_eq!(
            utc_input("t", "2030-01-31T18:00").unwrap().as_deref(),
            Some("2030-01-31T18:00:00Z")
        );
        assert_eq!(
            utc_input("t", "2030-01-31T18:00:05").unwrap().as_deref(),
            Some("2030-01-31T18:00:05Z")
        );
        assert_eq!(utc_input("t", " ").unwrap(), None);
        assert!(utc_input("t", "tomorrow").is_err());
        assert_eq!(
            utc_value(Some("2030-01-31T20:00:00+02:00")),
            "2030-01-31T18:00"
        );
        assert_eq!(utc_value(None), "");
    }

    #[test]
    fn sharing_lists_accept_commas_and_spaces() {
        let body = SharingForm {
            shared_type: "SHARED".into(),
            allowed_project_ids: "p1, p2\np3  p4".into(),
            expire_time: String::new(),
        }
        .body()
        .unwrap();
        let config = body.shared_config.unwrap();
        assert_eq!(config.shared_type, Some(SharedType::Shared));
        assert_eq!(
            config.allowed_project_ids.unwrap(),
            vec!["p1", "p2", "p3", "p4"]
        );
        let private = SharingForm {
            shared_type: "PRIVATE".into(),
            allowed_project_ids: "p1".into(),
            expire_time: "2030-01-01T00:00".into(),
        }
        .body()
        .unwrap();
        assert_eq!(
            private.shared_config.unwrap().allowed_project_ids,
            None,
            "PRIVATE drops the projects"
        );
    }
}
