//! The library (a grid of asset cards with filters, search as you type, sorting and paging)
//! and the recycle bin. Both are pages of the API's own listing (`Assets::list`), so they
//! show exactly what `list_assets` would.

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use maud::{html, Markup};
use serde::Deserialize;

use super::views::{
    self, assets_word, badge, card, csrf_field, human_time, icon, pending, thousands, Nav,
};
use super::{ConsoleError, Session};
use crate::app::App;
use crate::model::{AssetState, AssetType};
use crate::service::assets::AssetView;

/// Cards per page.
const PAGE_SIZE: u64 = 24;
/// Types a person can pick in the filter: the ones the console can upload and preview
/// first, then the rest.
const TYPES: &[AssetType] = &[
    AssetType::Video,
    AssetType::Image,
    AssetType::Audio,
    AssetType::Music,
    AssetType::Ppt,
    AssetType::CommonFile,
    AssetType::Material,
    AssetType::BusinessCardTemplet,
    AssetType::HumanModel2D,
    AssetType::VoiceModel,
];
/// States the library shows; the recycle bin has the deleted ones.
const LIBRARY_STATES: &[AssetState] = &[
    AssetState::Creating,
    AssetState::Failed,
    AssetState::Unactived,
    AssetState::Actived,
    AssetState::WaitingDelete,
    AssetState::Block,
];

/// The library's query string.
#[derive(Debug, Default, Deserialize)]
pub struct LibraryQuery {
    /// Text searched in names.
    #[serde(default)]
    q: String,
    /// One asset type, or empty for any.
    #[serde(default, rename = "type")]
    asset_type: String,
    /// One state, or empty for every state outside the recycle bin.
    #[serde(default)]
    state: String,
    /// Text searched in tags.
    #[serde(default)]
    tag: String,
    /// `newest` (default), `order` or `name`.
    #[serde(default)]
    sort: String,
    /// 1-based page number.
    #[serde(default)]
    page: String,
}

impl LibraryQuery {
    fn page(&self) -> u64 {
        self.page.parse().unwrap_or(1).max(1)
    }

    /// The `list_assets` parameters this query stands for.
    fn list_params(&self) -> Vec<(String, String)> {
        let mut params = vec![
            ("limit".to_owned(), PAGE_SIZE.to_string()),
            (
                "offset".to_owned(),
                ((self.page() - 1) * PAGE_SIZE).to_string(),
            ),
        ];
        let mut add = |k: &str, v: &str| params.push((k.to_owned(), v.to_owned()));
        if !self.q.trim().is_empty() {
            add("name", self.q.trim());
        }
        if !self.tag.trim().is_empty() {
            add("tag", self.tag.trim());
        }
        if !self.asset_type.is_empty() {
            add("asset_type", &self.asset_type);
        }
        if self.state.is_empty() {
            let all: Vec<&str> = LIBRARY_STATES.iter().map(AssetState::as_str).collect();
            add("asset_state", &all.join(","));
        } else {
            add("asset_state", &self.state);
        }
        let (key, dir) = match self.sort.as_str() {
            "order" => ("asset_order", "asc"),
            "name" => ("asset_name", "asc"),
            _ => ("create_time", "desc"),
        };
        add("sort_key", key);
        add("sort_dir", dir);
        params
    }

    /// This query's URL with another page number.
    fn href(&self, page: u64) -> String {
        let mut url = form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("q", self.q.as_str()),
            ("type", self.asset_type.as_str()),
            ("state", self.state.as_str()),
            ("tag", self.tag.as_str()),
            ("sort", self.sort.as_str()),
        ] {
            if !v.is_empty() {
                url.append_pair(k, v);
            }
        }
        if page > 1 {
            url.append_pair("page", &page.to_string());
        }
        let query = url.finish();
        if query.is_empty() {
            "/console".to_owned()
        } else {
            format!("/console?{query}")
        }
    }
}

/// Whether htmx asks for the results only (filters, search, paging), not a whole page.
fn wants_results(headers: &HeaderMap) -> bool {
    let header = |name: &str| headers.get(name).map(|v| v.as_bytes());
    header("hx-request").is_some()
        && header("hx-target") == Some(b"results")
        && header("hx-history-restore-request").is_none()
}

/// GET `/console`: the library.
pub async fn show_library(
    session: Session,
    State(app): State<App>,
    Query(query): Query<LibraryQuery>,
    headers: HeaderMap,
) -> Result<Response, ConsoleError> {
    let (count, views) = app
        .assets
        .list(&session.caller, &query.list_params())
        .await?;
    let results = results(&query, count, &views);
    if wants_results(&headers) {
        return Ok(results.into_response());
    }
    Ok(session.page("Library", Nav::Library, library(&query, results)))
}

fn select(name: &str, label: &str, current: &str, options: &[(&str, &str)]) -> Markup {
    html! {
        div.field.field-inline {
            label for=(name) { (label) }
            select #(name) name=(name) {
                @for (value, text) in options {
                    option value=(value) selected[*value == current] { (text) }
                }
            }
        }
    }
}

fn library(query: &LibraryQuery, results: Markup) -> Markup {
    let mut types = vec![("", "Any type")];
    types.extend(TYPES.iter().map(|t| (t.as_str(), t.as_str())));
    let mut states = vec![("", "Any state")];
    states.extend(LIBRARY_STATES.iter().map(|s| (s.as_str(), s.as_str())));
    html! {
        header.page-head {
            div {
                h1 { "Library" }
                p.muted { "Every asset of your project: find it, preview it, put it to work." }
            }
            a.button.primary href="/console/upload" { (icon("upload")) "Upload" }
        }
        form #filters.filters role="search" action="/console" method="get"
            hx-get="/console" hx-target="#results" hx-swap="outerHTML" hx-push-url="true"
            hx-trigger="input changed delay:300ms from:#search, input changed delay:300ms from:#tag, change, submit" {
            div.search {
                label.visually-hidden for="search" { "Search" }
                (icon("search"))
                input #search name="q" type="search" placeholder="Search names…" value=(query.q)
                    autocomplete="off" spellcheck="false";
            }
            (select("type", "Type", &query.asset_type, &types))
            (select("state", "State", &query.state, &states))
            div.field.field-inline {
                label for="tag" { "Tag" }
                input #tag name="tag" type="text" placeholder="Any tag" value=(query.tag) autocomplete="off";
            }
            (select("sort", "Sort", &query.sort, &[("newest", "Newest"), ("order", "Asset order"), ("name", "Name")]))
            noscript { button.button type="submit" { "Apply" } }
        }
        (results)
    }
}

/// The grid, its count and pager; the part htmx swaps.
fn results(query: &LibraryQuery, count: u64, views: &[AssetView]) -> Markup {
    let page = query.page();
    let first = (page - 1) * PAGE_SIZE + 1;
    let last = (first + views.len() as u64).saturating_sub(1);
    let pages = count.div_ceil(PAGE_SIZE).max(1);
    let filtered = !(query.q.is_empty()
        && query.tag.is_empty()
        && query.asset_type.is_empty()
        && query.state.is_empty());
    html! {
        section #results aria-label="Assets" {
            p.count role="status" {
                @if count == 0 { "No assets" }
                @else if views.is_empty() { (thousands(count)) " " (assets_word(count)) " · nothing on this page" }
                @else { "Showing " (thousands(first)) "–" (thousands(last)) " of " strong { (thousands(count)) } " " (assets_word(count)) }
            }
            @if views.is_empty() {
                div.empty {
                    (icon("library"))
                    @if filtered {
                        p { "Nothing matches these filters." }
                        a.button href="/console" { "Clear filters" }
                    } @else {
                        p { "Your library is empty." }
                        a.button.primary href="/console/upload" { (icon("upload")) "Upload files" }
                    }
                }
            } @else {
                div.grid {
                    @for view in views { (card(view, false)) }
                }
            }
            @if pages > 1 {
                nav.pager aria-label="Pages" {
                    @if page > 1 {
                        a.button href=(query.href(page - 1)) hx-get=(query.href(page - 1))
                            hx-target="#results" hx-swap="outerHTML" hx-push-url="true" {
                            (icon("back")) "Previous"
                        }
                    }
                    span.muted { "Page " (thousands(page)) " of " (thousands(pages)) }
                    @if page < pages {
                        a.button href=(query.href(page + 1)) hx-get=(query.href(page + 1))
                            hx-target="#results" hx-swap="outerHTML" hx-push-url="true" {
                            "Next" (icon("next"))
                        }
                    }
                }
            }
            (poller(views, false))
        }
    }
}

/// Polls the cards of assets still processing every 2 s; empty once none is. `oob` when it
/// replaces itself from a poll's answer.
fn poller(views: &[AssetView], oob: bool) -> Markup {
    let waiting: Vec<&str> = views
        .iter()
        .filter(|v| pending(v.asset.asset_state))
        .map(|v| v.asset.asset_id.as_str())
        .collect();
    let mut url = form_urlencoded::Serializer::new(String::new());
    for id in &waiting {
        url.append_pair("asset_id", id);
    }
    html! {
        @if waiting.is_empty() {
            div #poller hx-swap-oob=[oob.then_some("true")] {}
        } @else {
            div #poller hx-swap-oob=[oob.then_some("true")]
                hx-get={ "/console/library/cards?" (url.finish()) }
                hx-trigger="every 2s" hx-swap="none" {}
        }
    }
}

/// GET `/console/library/cards?asset_id=…`: fresh cards of still-processing assets, as
/// out-of-band swaps, and the poller for those still processing.
pub async fn show_cards(
    session: Session,
    State(app): State<App>,
    axum::extract::RawQuery(raw): axum::extract::RawQuery,
) -> Result<Response, ConsoleError> {
    let ids: Vec<(String, String)> = form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .filter(|(k, _)| k == "asset_id")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .take(PAGE_SIZE as usize)
        .collect();
    if ids.is_empty() {
        return Ok(poller(&[], true).into_response());
    }
    let mut params = ids;
    params.push(("limit".to_owned(), PAGE_SIZE.to_string()));
    let (_, views) = app.assets.list(&session.caller, &params).await?;
    Ok(html! {
        @for view in &views { (card(view, true)) }
        (poller(&views, true))
    }
    .into_response())
}

/// The recycle bin's query string.
#[derive(Debug, Default, Deserialize)]
pub struct RecycleQuery {
    #[serde(default)]
    page: String,
}

/// GET `/console/recycle-bin`.
pub async fn show_recycle_bin(
    session: Session,
    State(app): State<App>,
    Query(query): Query<RecycleQuery>,
) -> Result<Response, ConsoleError> {
    let page: u64 = query.page.parse().unwrap_or(1).max(1);
    let params: Vec<(String, String)> = [
        ("asset_state", "DELETING".to_owned()),
        ("sort_key", "update_time".to_owned()),
        ("sort_dir", "desc".to_owned()),
        ("limit", PAGE_SIZE.to_string()),
        ("offset", ((page - 1) * PAGE_SIZE).to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let (count, views) = app.assets.list(&session.caller, &params).await?;
    let retention = time::Duration::seconds(
        i64::try_from(app.config.recycle_retention_secs).unwrap_or(i64::MAX / 2),
    );
    let pages = count.div_ceil(PAGE_SIZE).max(1);
    let content = html! {
        header.page-head {
            div {
                h1 { "Recycle bin" }
                p.muted {
                    "Deleted assets stay here for " (retention.whole_days()) " days, then they and their files are removed for good."
                }
            }
        }
        p.count role="status" { (thousands(count)) " " (assets_word(count)) " in the recycle bin" }
        @if views.is_empty() {
            div.empty { (icon("trash")) p { "The recycle bin is empty." } }
        } @else {
            ul.rows {
                @for view in &views { (recycle_row(&session, view, retention)) }
            }
        }
        @if pages > 1 {
            nav.pager aria-label="Pages" {
                @if page > 1 { a.button href={ "/console/recycle-bin?page=" (page - 1) } { (icon("back")) "Previous" } }
                span.muted { "Page " (page) " of " (pages) }
                @if page < pages { a.button href={ "/console/recycle-bin?page=" (page + 1) } { "Next" (icon("next")) } }
            }
        }
    };
    Ok(session.page("Recycle bin", Nav::RecycleBin, content))
}

fn recycle_row(session: &Session, view: &AssetView, retention: time::Duration) -> Markup {
    let asset = &view.asset;
    let id = &asset.asset_id;
    html! {
        li.row {
            span.row-thumb {
                @if let Some(src) = views::preview_url(view) { img src=(src) alt=""; }
                @else { (icon(views::type_icon(asset.asset_type))) }
            }
            div.row-main {
                a.row-title href={ "/console/assets/" (id) } { (asset.asset_name) }
                div.row-meta {
                    (views::type_chip(asset.asset_type)) (badge(asset.asset_state))
                    @if let Some(at) = asset.deleted_at {
                        span.muted { "Deleted " (human_time(at)) " · removed for good after " (human_time(at + retention)) }
                    }
                }
            }
            div.row-actions {
                form method="post" action={ "/console/assets/" (id) "/restore" } {
                    (csrf_field(session))
                    button.button type="submit" aria-label={ "Restore " (asset.asset_name) } { (icon("restore")) "Restore" }
                }
                form method="post" action={ "/console/assets/" (id) "/purge" }
                    data-confirm={ "Delete “" (asset.asset_name) "” forever? Its files are removed and it cannot be restored." } {
                    (csrf_field(session))
                    button.button.danger type="submit" aria-label={ "Delete " (asset.asset_name) " forever" } { "Delete forever" }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> LibraryQuery {
        let raw = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        let uri: axum::http::Uri = format!("/console?{raw}").parse().unwrap();
        Query::<LibraryQuery>::try_from_uri(&uri).unwrap().0
    }

    fn param<'a>(params: &'a [(String, String)], key: &str) -> Option<&'a str> {
        params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn the_library_hides_the_recycle_bin_unless_a_state_is_chosen() {
        let params = query(&[]).list_params();
        let states = param(&params, "asset_state").unwrap();
        assert!(!states.contains("DELETING") && !states.contains("DELETED"));
        assert!(states.contains("ACTIVED"));
        let params = query(&[("state", "FAILED")]).list_params();
        assert_eq!(param(&params, "asset_state"), Some("FAILED"));
    }

    #[test]
    fn filters_and_sorts_become_list_parameters() {
        let params = query(&[
            ("q", " sunset "),
            ("type", "VIDEO"),
            ("tag", "beach"),
            ("sort", "name"),
            ("page", "3"),
        ])
        .list_params();
        assert_eq!(param(&params, "name"), Some("sunset"));
        assert_eq!(param(&params, "asset_type"), Some("VIDEO"));
        assert_eq!(param(&params, "tag"), Some("beach"));
        assert_eq!(param(&params, "sort_key"), Some("asset_name"));
        assert_eq!(param(&params, "offset"), Some("48"));
        let newest = query(&[]).list_params();
        assert_eq!(param(&newest, "sort_key"), Some("create_time"));
        assert_eq!(param(&newest, "sort_dir"), Some("desc"));
        assert_eq!(param(&newest, "offset"), Some("0"));
        let order = query(&[("sort", "order")]).list_params();
        assert_eq!(param(&order, "sort_key"), Some("asset_order"));
    }

    #[test]
    fn page_links_keep_the_filters() {
        let q = query(&[("q", "a b"), ("type", "VIDEO"), ("page", "2")]);
        assert_eq!(q.href(3), "/console?q=a+b&type=VIDEO&page=3");
        assert_eq!(q.href(1), "/console?q=a+b&type=VIDEO");
        assert_eq!(query(&[]).href(1), "/console");
        assert_eq!(query(&[("page", "x")]).page(), 1);
    }
}
