//! Markup shared by every console page: the frame (sidebar, top bar, flash message), the
//! bare frame of the sign-in and error pages, and small parts such as state badges, asset
//! cards and icons.

use axum::http::StatusCode;
use maud::{html, Markup, PreEscaped, DOCTYPE};
use time::OffsetDateTime;

use super::static_files::url;
use super::{Flash, Session};
use crate::catalog::Derived;
use crate::model::{AssetState, AssetType, FileCategory};
use crate::service::assets::AssetView;

/// htmx settings: no inline indicator styles (the CSP forbids them) and no evaluated code.
const HTMX_CONFIG: &str = r#"{"includeIndicatorStyles":false,"allowEval":false,"allowScriptTags":false,"historyCacheSize":0}"#;

/// The sidebar entry a page belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    /// The asset grid and asset pages.
    Library,
    /// The upload page.
    Upload,
    /// The recycle bin.
    RecycleBin,
    /// The admin page.
    Admin,
}

/// An icon of the console's small set, drawn inline (`aria-hidden`; its text says it).
pub fn icon(name: &str) -> Markup {
    let body = match name {
        "library" => {
            r#"<rect x="3" y="3" width="7.5" height="7.5" rx="1.5"/><rect x="13.5" y="3" width="7.5" height="7.5" rx="1.5"/><rect x="3" y="13.5" width="7.5" height="7.5" rx="1.5"/><rect x="13.5" y="13.5" width="7.5" height="7.5" rx="1.5"/>"#
        }
        "upload" => {
            r#"<path d="M12 15V3"/><path d="M7 8l5-5 5 5"/><path d="M20 15v4a2 2 0 0 1-2 2H6a2 2 0 0 1-2-2v-4"/>"#
        }
        "trash" => {
            r#"<path d="M3 6h18"/><path d="M8 6V4h8v2"/><path d="M6 6l1 14a1 1 0 0 0 1 1h8a1 1 0 0 0 1-1l1-14"/><path d="M10 11v6M14 11v6"/>"#
        }
        "shield" => {
            r#"<path d="M12 3l8 3v6c0 5-3.5 8.5-8 9.5-4.5-1-8-4.5-8-9.5V6z"/><path d="M9 12l2 2 4-4"/>"#
        }
        "image" => {
            r#"<rect x="3" y="3" width="18" height="18" rx="2"/><circle cx="9" cy="9" r="2"/><path d="M21 15l-5-5L5 21"/>"#
        }
        "video" => {
            r#"<rect x="2" y="5" width="14" height="14" rx="2"/><path d="M16 10l6-3v10l-6-3"/>"#
        }
        "audio" => {
            r#"<path d="M9 18V5l12-2v13"/><circle cx="6" cy="18" r="3"/><circle cx="18" cy="16" r="3"/>"#
        }
        "deck" => {
            r#"<rect x="2" y="4" width="20" height="13" rx="2"/><path d="M12 17v4M8 21h8"/><path d="M7 13l3-3 2 2 4-4"/>"#
        }
        "search" => r#"<circle cx="11" cy="11" r="7"/><path d="M21 21l-4.3-4.3"/>"#,
        "sign-out" => {
            r#"<path d="M9 21H5a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2h4"/><path d="M16 17l5-5-5-5"/><path d="M21 12H9"/>"#
        }
        "download" => r#"<path d="M12 3v12"/><path d="M7 10l5 5 5-5"/><path d="M4 21h16"/>"#,
        "restore" => r#"<path d="M3 12a9 9 0 1 0 3-6.7L3 8"/><path d="M3 3v5h5"/>"#,
        "back" => r#"<path d="M15 18l-6-6 6-6"/>"#,
        "next" => r#"<path d="M9 18l6-6-6-6"/>"#,
        "share" => {
            r#"<circle cx="18" cy="5" r="3"/><circle cx="6" cy="12" r="3"/><circle cx="18" cy="19" r="3"/><path d="M8.6 13.5l6.8 4M15.4 6.5l-6.8 4"/>"#
        }
        "clock" => r#"<circle cx="12" cy="12" r="9"/><path d="M12 7v5l3 2"/>"#,
        _ => {
            r#"<path d="M14 3H6a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2V9z"/><path d="M14 3v6h6"/>"#
        }
    };
    html! {
        svg.icon xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" fill="none"
            stroke="currentColor" stroke-width="1.8" stroke-linecap="round"
            stroke-linejoin="round" aria-hidden="true" focusable="false" {
            (PreEscaped(body))
        }
    }
}

/// The icon that stands for an asset type.
pub fn type_icon(t: AssetType) -> &'static str {
    match t {
        AssetType::Video => "video",
        AssetType::Image => "image",
        AssetType::Music | AssetType::Audio => "audio",
        AssetType::Ppt => "deck",
        _ => "file",
    }
}

fn logo() -> Markup {
    html! {
        svg.logo xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32" aria-hidden="true" focusable="false" {
            rect width="32" height="32" rx="8" fill="#4f46e5" {}
            path d="M9 20.5l7 3.5 7-3.5M9 16l7 3.5 7-3.5M16 8l7 3.5-7 3.5-7-3.5z" fill="none"
                stroke="#fff" stroke-width="2" stroke-linejoin="round" stroke-linecap="round" {}
        }
    }
}

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            meta name="htmx-config" content=(HTMX_CONFIG);
            title { (title) " · assetd" }
            link rel="icon" type="image/svg+xml" href=(url("favicon.svg"));
            link rel="stylesheet" href=(url("console.css"));
            script src=(url("htmx.min.js")) defer {}
            script src=(url("console.js")) defer {}
        }
    }
}

fn flash(message: Option<&Flash>) -> Markup {
    html! {
        @match message {
            Some(Flash::Notice(text)) => div.flash.flash-notice role="status" { (text) },
            Some(Flash::Error(text)) => div.flash.flash-error role="alert" { (text) },
            None => {},
        }
    }
}

/// The hidden form field every state-changing form carries.
pub fn csrf_field(session: &Session) -> Markup {
    html! { input type="hidden" name="_csrf" value=(session.csrf); }
}

/// A page inside the console's frame.
pub fn layout(session: &Session, title: &str, nav: Nav, content: Markup) -> Markup {
    let caller = &session.caller;
    let csrf_header = serde_json::json!({ "X-CSRF-Token": session.csrf }).to_string();
    let link = |target: Nav, href: &str, icon_name: &str, text: &str| {
        html! {
            li {
                a href=(href) aria-current=[(nav == target).then_some("page")] {
                    (icon(icon_name)) span { (text) }
                }
            }
        }
    };
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body hx-headers=(csrf_header) data-project=(caller.project_id) data-csrf=(session.csrf) {
                div.shell {
                    aside.sidebar {
                        a.brand href="/console" { (logo()) span { "assetd" } }
                        nav aria-label="Main" {
                            ul {
                                (link(Nav::Library, "/console", "library", "Library"))
                                (link(Nav::Upload, "/console/upload", "upload", "Upload"))
                                (link(Nav::RecycleBin, "/console/recycle-bin", "trash", "Recycle bin"))
                                @if caller.is_admin {
                                    (link(Nav::Admin, "/console/admin", "shield", "Admin"))
                                }
                            }
                        }
                        p.sidebar-foot { "MetaStudio-compatible asset library" }
                    }
                    div.main {
                        header.topbar {
                            div.whoami {
                                span.muted { "Project" }
                                code.project-id { (caller.project_id) }
                                @if caller.is_admin { span.pill { "Admin" } }
                            }
                            form method="post" action="/console/sign-out" {
                                (csrf_field(session))
                                button.button.ghost type="submit" { (icon("sign-out")) "Sign out" }
                            }
                        }
                        main #content {
                            (flash(session.flash.as_ref()))
                            (content)
                        }
                    }
                }
            }
        }
    }
}

/// A page without the frame: sign-in and errors.
pub fn bare_layout(title: &str, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body.bare {
                main.bare-main {
                    a.brand.brand-large href="/console" { (logo()) span { "assetd" } }
                    (content)
                }
            }
        }
    }
}

/// An error as a page: what went wrong in the API's words, and a way back.
pub fn error_page(status: StatusCode, mss_code: &str, message: &str) -> Markup {
    bare_layout(
        status.canonical_reason().unwrap_or("Error"),
        html! {
            section.panel.narrow {
                p.eyebrow { (status.as_u16()) " · " (mss_code) }
                h1 { (status.canonical_reason().unwrap_or("Something went wrong")) }
                p.lead { (message) }
                p { a.button href="/console" { "Back to the library" } }
            }
        },
    )
}

/// A state badge: the API's own word, coloured by meaning.
pub fn badge(state: AssetState) -> Markup {
    let class = format!("badge badge-{}", state.as_str().to_ascii_lowercase());
    html! { span class=(class) { (state.as_str()) } }
}

/// A type label.
pub fn type_chip(t: AssetType) -> Markup {
    html! { span.chip { (t.as_str()) } }
}

/// The image that stands for an asset: its thumbnail, cover, or first slide page.
pub fn preview_url(view: &AssetView) -> Option<&str> {
    view.thumbnail_url.as_deref().or_else(|| {
        let of = |wanted: &dyn Fn(&crate::catalog::FileRecord) -> bool| {
            view.files
                .iter()
                .find(|f| wanted(&f.file) && f.download_url.is_some())
                .and_then(|f| f.download_url.as_deref())
        };
        of(&|f| f.asset_file_category == FileCategory::Cover)
            .or_else(|| of(&|f| f.derived == Some(Derived::Page)))
    })
}

/// Whether an asset may still change by itself (processing or review).
pub fn pending(state: AssetState) -> bool {
    state == AssetState::Creating
}

/// An asset card of the library grid: a link whose accessible name begins with the asset's
/// name. `oob` marks it for an htmx out-of-band swap (state polling).
pub fn card(view: &AssetView, oob: bool) -> Markup {
    let asset = &view.asset;
    html! {
        a.card id={ "card-" (asset.asset_id) } href={ "/console/assets/" (asset.asset_id) }
            hx-swap-oob=[oob.then_some("true")] {
            span.card-name { (asset.asset_name) }
            span class={ "thumb thumb-" (asset.asset_type.as_str()) } {
                @if let Some(src) = preview_url(view) {
                    img src=(src) alt="" loading="lazy";
                } @else if pending(asset.asset_state) {
                    span.thumb-placeholder.processing { (icon(type_icon(asset.asset_type))) span { "Processing…" } }
                } @else {
                    span.thumb-placeholder { (icon(type_icon(asset.asset_type))) }
                }
            }
            span.card-meta {
                (type_chip(asset.asset_type))
                (badge(asset.asset_state))
            }
        }
    }
}

/// A byte count for people in the seed's binary units (its "100 MB" is 100 × 1024² bytes):
/// `12.3 MB`, `5 GB`.
pub fn human_size(bytes: i64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    let number = format!("{value:.1}");
    format!("{} {}", number.trim_end_matches(".0"), UNITS[unit])
}

/// A time for people, in UTC: `2025-01-10 08:43 UTC`.
pub fn human_time(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute()
    )
}

/// `1 asset`, `2 assets`.
pub fn assets_word(n: u64) -> &'static str {
    if n == 1 {
        "asset"
    } else {
        "assets"
    }
}

/// A count with thousands separators: `1,000,000`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_like_people_write_them() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(human_size(512), "512 B");
        assert_eq!(human_size(1_536), "1.5 KB");
        assert_eq!(human_size(104_857_600), "100 MB");
        assert_eq!(human_size(5 * 1024 * 1024 * 1024), "5 GB");
    }

    #[test]
    fn badges_say_the_api_state_word() {
        let html = badge(AssetState::Actived).into_string();
        assert!(html.contains(">ACTIVED<"), "{html}");
        assert!(html.contains("badge-actived"), "{html}");
    }
}
