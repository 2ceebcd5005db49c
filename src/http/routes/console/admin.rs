//! The admin page (admin credentials only; `Admin` refuses everyone else): the manual review
//! queue with previews and approve / reject, block and unblock, and the review whitelist.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;

use super::views::{csrf_field, human_time, icon, thousands, type_chip, Nav};
use super::{after_form, ConsoleError, Session};
use crate::app::App;
use crate::model::AssetType;
use crate::service::admin::ReviewItem;

const ADMIN: &str = "/console/admin";
/// Queue entries shown at once (oldest first).
const QUEUE_PAGE: u32 = 20;

/// GET `/console/admin`.
pub async fn show_admin(
    session: Session,
    State(app): State<App>,
) -> Result<Response, ConsoleError> {
    let (count, queue) = app
        .admin
        .review_queue(&session.caller, QUEUE_PAGE, 0)
        .await?;
    let whitelist = app.admin.whitelist(&session.caller).await?;
    let content = admin_page(&session, count, &queue, &whitelist);
    Ok(session.page("Admin", Nav::Admin, content))
}

/// A reviewer's decision.
#[derive(Debug, Deserialize)]
pub struct ReviewForm {
    #[serde(default)]
    action: String,
    #[serde(default)]
    reason: String,
}

/// POST `/console/admin/reviews/{file_id}`: approve, or reject with a reason.
pub async fn decide_review(
    session: Session,
    State(app): State<App>,
    Path(file_id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<ReviewForm>,
) -> Response {
    let approve = form.action == "approve";
    let reason = Some(form.reason.trim().to_owned()).filter(|r| !r.is_empty());
    let result = app
        .admin
        .decide(&session.caller, &file_id, approve, reason)
        .await;
    let notice = if approve {
        "Approved: the asset is now ACTIVED."
    } else {
        "Rejected: the asset is now FAILED."
    };
    after_form(result, &headers, &app, ADMIN, notice, ADMIN)
}

/// Adding a project to, or removing it from, the review whitelist.
#[derive(Debug, Deserialize)]
pub struct WhitelistForm {
    #[serde(default)]
    project_id: String,
    #[serde(default)]
    action: String,
}

/// POST `/console/admin/whitelist`.
pub async fn update_whitelist(
    session: Session,
    State(app): State<App>,
    headers: HeaderMap,
    Form(form): Form<WhitelistForm>,
) -> Response {
    let add = form.action != "remove";
    let project = form.project_id.trim();
    let result = app
        .admin
        .set_whitelisted(&session.caller, project, add)
        .await;
    let notice = if add {
        format!("Project {project} skips review when it asks to.")
    } else {
        format!("Project {project} is reviewed again.")
    };
    after_form(result, &headers, &app, ADMIN, &notice, ADMIN)
}

/// Blocking or unblocking an asset of any project.
#[derive(Debug, Deserialize)]
pub struct BlockForm {
    #[serde(default)]
    asset_id: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    block_reason_code: String,
    #[serde(default)]
    reason: String,
    /// `asset` to return to the asset page, else the admin page.
    #[serde(default)]
    return_to: String,
}

/// POST `/console/admin/block`.
pub async fn update_block(
    session: Session,
    State(app): State<App>,
    headers: HeaderMap,
    Form(form): Form<BlockForm>,
) -> Response {
    let block = form.action != "unblock";
    let text = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    let asset_id = form.asset_id.trim();
    let result = app
        .admin
        .set_blocked(
            &session.caller,
            asset_id,
            block,
            text(&form.block_reason_code),
            text(&form.reason),
        )
        .await;
    let back = if form.return_to == "asset" {
        format!("/console/assets/{asset_id}")
    } else {
        ADMIN.to_owned()
    };
    let notice = if block {
        "Blocked: its files cannot be downloaded."
    } else {
        "Unblocked."
    };
    after_form(result, &headers, &app, &back, notice, &back)
}

fn admin_page(session: &Session, count: u64, queue: &[ReviewItem], whitelist: &[String]) -> Markup {
    html! {
        header.page-head {
            div {
                h1 { "Admin" }
                p.muted { "Review what automatic checks could not decide, freeze assets, and choose who may skip review." }
            }
        }
        section.panel aria-labelledby="queue-title" {
            h2 #queue-title { "Review queue " span.count-pill { (thousands(count)) } }
            @if queue.is_empty() {
                div.empty.empty-small { (icon("shield")) p { "Nothing is waiting for review." } }
            } @else {
                ul.reviews {
                    @for item in queue { (review(session, item)) }
                }
                @if count > queue.len() as u64 {
                    p.muted { "Showing the oldest " (queue.len()) "; decide these to see more." }
                }
            }
        }
        div.two-columns {
            section.panel aria-labelledby="block-title" {
                h2 #block-title { "Block or unblock an asset" }
                form.stack method="post" action="/console/admin/block" {
                    (csrf_field(session))
                    div.field {
                        label for="block_asset_id" { "Asset ID" }
                        input #block_asset_id name="asset_id" type="text" required spellcheck="false";
                    }
                    div.field {
                        label for="block_reason_code" { "Reason code" }
                        input #block_reason_code name="block_reason_code" type="text" placeholder="ADMIN" maxlength="64";
                    }
                    div.field {
                        label for="block_reason" { "Reason" }
                        input #block_reason name="reason" type="text" maxlength="1024";
                    }
                    div.button-row {
                        button.button.danger-outline type="submit" name="action" value="block" { "Block" }
                        button.button type="submit" name="action" value="unblock" { "Unblock" }
                    }
                }
            }
            section.panel aria-labelledby="whitelist-title" {
                h2 #whitelist-title { "Review whitelist" }
                p.muted { "Assets of these projects skip review when they ask for it (" code { "review_config.no_need_review" } ")." }
                @if whitelist.is_empty() {
                    p.muted { "No project is whitelisted." }
                } @else {
                    ul.whitelist {
                        @for project in whitelist {
                            li {
                                code { (project) }
                                form method="post" action="/console/admin/whitelist" {
                                    (csrf_field(session))
                                    input type="hidden" name="project_id" value=(project);
                                    input type="hidden" name="action" value="remove";
                                    button.button.small type="submit" aria-label={ "Remove " (project) " from the whitelist" } { "Remove" }
                                }
                            }
                        }
                    }
                }
                form.inline-form method="post" action="/console/admin/whitelist" {
                    (csrf_field(session))
                    input type="hidden" name="action" value="add";
                    div.field {
                        label for="whitelist_project" { "Project ID" }
                        input #whitelist_project name="project_id" type="text" required spellcheck="false";
                    }
                    button.button type="submit" { "Add to whitelist" }
                }
            }
        }
    }
}

fn review(session: &Session, item: &ReviewItem) -> Markup {
    let asset = &item.asset;
    let file = &item.file;
    let url = &item.download_url;
    let reject_id = format!("reject-{}", file.file_id);
    html! {
        li.review {
            div.review-preview {
                @match asset.asset_type {
                    AssetType::Image => { img src=(url) alt={ "Content of " (asset.asset_name) }; }
                    AssetType::Video => { video controls preload="metadata" src=(url) aria-label={ "Video: " (asset.asset_name) } {} }
                    AssetType::Audio | AssetType::Music => { audio controls preload="metadata" src=(url) aria-label={ "Audio: " (asset.asset_name) } {} }
                    _ => { a.button href=(url) { (icon("download")) "Open " (file.file_name) } }
                }
            }
            div.review-body {
                h3 { (asset.asset_name) }
                div.row-meta {
                    (type_chip(asset.asset_type))
                    span.muted { "Project " code { (asset.project_id) } }
                    span.muted { "Queued " (human_time(file.update_time)) }
                }
                @if let Some(reason) = &file.reason { p.muted { (reason) } }
                div.review-actions {
                    form method="post" action={ "/console/admin/reviews/" (file.file_id) } {
                        (csrf_field(session))
                        input type="hidden" name="action" value="approve";
                        button.button.primary type="submit" aria-label={ "Approve " (asset.asset_name) } { "Approve" }
                    }
                    form.inline-form method="post" action={ "/console/admin/reviews/" (file.file_id) } {
                        (csrf_field(session))
                        input type="hidden" name="action" value="reject";
                        div.field {
                            label.visually-hidden for=(reject_id) { "Rejection reason for " (asset.asset_name) }
                            input id=(reject_id) name="reason" type="text" required maxlength="1024" placeholder="Reason for rejecting";
                        }
                        button.button.danger-outline type="submit" aria-label={ "Reject " (asset.asset_name) } { "Reject" }
                    }
                }
            }
        }
    }
}
