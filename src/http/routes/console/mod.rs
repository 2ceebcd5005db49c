//! The web console at `/console`: server-rendered pages (maud) made live with htmx, every
//! file they need compiled into the binary.
//!
//! A person signs in with project id, AK and SK; `service::auth` checks them and issues a
//! session token (a row of the token table) that travels in an `HttpOnly; SameSite=Strict`
//! cookie scoped to `/console`. Pages call the same services as the API with the session's
//! [`Caller`], so the console can do nothing the API would refuse. The upload page's script
//! drives the API's own asset and file handlers, mounted under `/console/api/v1/…` behind
//! session authentication instead of signatures.
//!
//! Every state-changing request must come from our own origin and carry the session's CSRF
//! token (a form field or the `X-CSRF-Token` header); every response carries a CSP without
//! inline script, `nosniff` and `frame-ancestors 'none'`.

mod admin;
mod asset;
mod library;
mod session;
mod static_files;
mod upload;
mod views;

use axum::body::Body;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{from_fn_with_state, map_response, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use cookie::{Cookie, SameSite};
use maud::Markup;

use super::{assets as api_assets, files as api_files};
use crate::app::App;
use crate::error::Code;
use crate::http::error::{wire, ApiError, HasCode};
use crate::service::auth::{AuthError, Caller};

/// The session cookie: the session token itself.
const SESSION_COOKIE: &str = "assetd_session";
/// A one-shot message shown by the next page (after a form's redirect).
const FLASH_COOKIE: &str = "assetd_flash";
/// Where the console lives; every console cookie is scoped to it.
const ROOT: &str = "/console";
const SIGN_IN: &str = "/console/sign-in";
/// Largest form body a console page accepts.
const MAX_FORM_BYTES: usize = 64 * 1024;

/// Builds the console's routes.
pub fn router(app: &App) -> Router<App> {
    let pages = Router::new()
        .route(ROOT, get(library::show_library))
        .route(SIGN_IN, get(session::show_sign_in).post(session::sign_in))
        .route("/console/sign-out", post(session::sign_out))
        .route("/console/library/cards", get(library::show_cards))
        .route("/console/upload", get(upload::show_upload))
        .route("/console/recycle-bin", get(library::show_recycle_bin))
        .route("/console/assets/{asset_id}", get(asset::show_asset))
        .route("/console/assets/{asset_id}/state", get(asset::show_state))
        .route(
            "/console/assets/{asset_id}/details",
            post(asset::update_details),
        )
        .route(
            "/console/assets/{asset_id}/activation",
            post(asset::update_activation),
        )
        .route(
            "/console/assets/{asset_id}/sharing",
            post(asset::update_sharing),
        )
        .route(
            "/console/assets/{asset_id}/schedule",
            post(asset::update_schedule),
        )
        .route(
            "/console/assets/{asset_id}/delete",
            post(asset::delete_asset),
        )
        .route(
            "/console/assets/{asset_id}/restore",
            post(asset::restore_asset),
        )
        .route("/console/assets/{asset_id}/purge", post(asset::purge_asset))
        .route("/console/admin", get(admin::show_admin))
        .route(
            "/console/admin/reviews/{file_id}",
            post(admin::decide_review),
        )
        .route("/console/admin/whitelist", post(admin::update_whitelist))
        .route("/console/admin/block", post(admin::update_block))
        .route("/console/{*rest}", get(show_not_found))
        .route_layer(from_fn_with_state(app.clone(), guard_forms));
    let api = Router::new()
        .route(
            "/console/api/v1/{project_id}/digital-assets",
            post(api_assets::create_asset),
        )
        .route(
            "/console/api/v1/{project_id}/digital-assets/{asset_id}",
            get(api_assets::show_asset).delete(api_assets::delete_asset),
        )
        .route(
            "/console/api/v1/{project_id}/files",
            post(api_files::create_file),
        )
        .route(
            "/console/api/v1/{project_id}/large-files",
            post(api_files::create_large_file),
        )
        .route(
            "/console/api/v1/{project_id}/files/{file_id}/complete",
            post(api_files::confirm_file_upload),
        )
        .route_layer(from_fn_with_state(app.clone(), authenticate_session));
    let policy = content_security_policy(&app.config.public_base_url());
    Router::new()
        .route("/", get(show_root))
        .route("/console/static/{name}", get(static_files::show_static))
        .merge(pages)
        .merge(api)
        .layer(map_response(move |response: Response| {
            let policy = policy.clone();
            async move { secure_headers(response, policy) }
        }))
}

/// GET `/`: people who open the server in a browser land on the console.
async fn show_root() -> Redirect {
    Redirect::to(ROOT)
}

/// The CSP of every console response. Images and media may also come from the public URL
/// (signed download links point there); scripts and styles only from our own files.
fn content_security_policy(public_base_url: &str) -> HeaderValue {
    let public = public_origin(public_base_url).unwrap_or_default();
    let policy = format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; font-src 'self'; \
         img-src 'self' data: {public}; media-src 'self' {public}; connect-src 'self'; \
         form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    );
    HeaderValue::from_str(
        policy
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .as_str(),
    )
    .unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'"))
}

/// `scheme://host[:port]` of a URL, without path.
fn public_origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let host = rest.split('/').next()?;
    (!host.is_empty()).then(|| format!("{scheme}://{host}"))
}

fn secure_headers(mut response: Response, policy: HeaderValue) -> Response {
    let h = response.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, policy);
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // Download links carry signatures in their query; no other site may see them.
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

// ----------------------------------------------------------------------------- sessions

/// A signed-in person's request: who they are, their CSRF token, and the message the
/// previous form left for this page.
pub struct Session {
    /// Who is asking, exactly as the API would see them.
    pub caller: Caller,
    /// The CSRF token forms and htmx requests must send back.
    pub csrf: String,
    /// A message from the previous request.
    pub flash: Option<Flash>,
}

/// A one-shot message after a form: what was done, or why it was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Flash {
    /// It worked.
    Notice(String),
    /// It was refused; the API's words.
    Error(String),
}

fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse_encoded)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_owned())
}

fn session_token(headers: &HeaderMap) -> Option<String> {
    cookie_value(headers, SESSION_COOKIE).filter(|t| !t.is_empty())
}

fn read_flash(headers: &HeaderMap) -> Option<Flash> {
    let value = cookie_value(headers, FLASH_COOKIE)?;
    match value.split_once(':')? {
        ("n", text) => Some(Flash::Notice(text.to_owned())),
        ("e", text) => Some(Flash::Error(text.to_owned())),
        _ => None,
    }
}

/// Whether the browser reached us over TLS (directly or through a proxy that says so).
fn over_tls(headers: &HeaderMap, app: &App) -> bool {
    app.config.public_base_url().starts_with("https://")
        || headers
            .get("x-forwarded-proto")
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"))
}

/// A console cookie: `HttpOnly; SameSite=Strict; Path=/console`, `Secure` over TLS.
fn console_cookie(name: &'static str, value: String, max_age_secs: i64, secure: bool) -> String {
    Cookie::build((name, value))
        .path(ROOT)
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .max_age(time::Duration::seconds(max_age_secs))
        .build()
        .encoded()
        .to_string()
}

fn header_value(text: String) -> HeaderValue {
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Why a page could not be served to this request.
pub enum NoSession {
    /// Not signed in (or the session ended): go to the sign-in page. `htmx` requests get
    /// `HX-Redirect`, since a redirect inside their own request would go unseen.
    SignIn {
        /// The request came from htmx.
        htmx: bool,
    },
    /// The session could not be checked.
    Failed(ConsoleError),
}

impl IntoResponse for NoSession {
    fn into_response(self) -> Response {
        match self {
            Self::SignIn { htmx: true } => {
                (StatusCode::OK, [("hx-redirect", SIGN_IN)]).into_response()
            }
            Self::SignIn { htmx: false } => Redirect::to(SIGN_IN).into_response(),
            Self::Failed(e) => e.into_response(),
        }
    }
}

impl FromRequestParts<App> for Session {
    type Rejection = NoSession;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        let htmx = parts.headers.contains_key("hx-request");
        let token = session_token(&parts.headers).ok_or(NoSession::SignIn { htmx })?;
        let caller = match app.auth.session(&token).await {
            Ok(caller) => caller,
            Err(AuthError::Catalog(e)) => return Err(NoSession::Failed(e.into())),
            Err(_) => return Err(NoSession::SignIn { htmx }),
        };
        tracing::Span::current().record("project.id", caller.project_id.as_str());
        Ok(Self {
            caller,
            csrf: app.auth.csrf_token(&token),
            flash: read_flash(&parts.headers),
        })
    }
}

impl Session {
    /// A whole page in the console's frame; shows and clears the flash message.
    pub fn page(&self, title: &str, nav: views::Nav, content: Markup) -> Response {
        let response = views::layout(self, title, nav, content).into_response();
        flash_shown(response, self.flash.is_some())
    }
}

/// `response`, clearing the flash cookie when it showed the flash.
fn flash_shown(mut response: Response, shown: bool) -> Response {
    if shown {
        response.headers_mut().append(
            header::SET_COOKIE,
            header_value(console_cookie(FLASH_COOKIE, String::new(), 0, false)),
        );
    }
    response
}

/// Whether `headers` describe a request from this very origin. Browsers send
/// `Sec-Fetch-Site` and `Origin` on every form POST and `fetch`; a request with neither is
/// not from a browser, and CSRF is an attack through browsers.
fn same_origin(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        if site.as_bytes() != b"same-origin" {
            return false;
        }
    }
    match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        None => true,
        Some(origin) => {
            let host = headers
                .get(header::HOST)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            origin
                .split_once("://")
                .is_some_and(|(_, authority)| !host.is_empty() && authority == host)
        }
    }
}

/// The `_csrf` field of a form body.
fn form_csrf(body: &[u8]) -> Option<String> {
    form_urlencoded::parse(body)
        .find(|(k, _)| k == "_csrf")
        .map(|(_, v)| v.into_owned())
}

/// Middleware of the pages: state-changing requests must come from our origin and, once
/// signed in, carry the session's CSRF token.
async fn guard_forms(State(app): State<App>, request: Request, next: Next) -> Response {
    if request.method().is_safe() {
        return next.run(request).await;
    }
    if !same_origin(request.headers()) {
        return ConsoleError::new(Code::Forbidden, "cross-site requests are refused")
            .into_response();
    }
    let Some(token) = session_token(request.headers()) else {
        // Signing in needs no session; anything else is sent to sign in by its extractor.
        return next.run(request).await;
    };
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_FORM_BYTES).await else {
        return ConsoleError::new(Code::PayloadTooLarge, "the form is too large").into_response();
    };
    let presented = parts
        .headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| form_csrf(&bytes));
    let signing_in = parts.uri.path() == SIGN_IN;
    if !signing_in && !presented.is_some_and(|p| app.auth.csrf_matches(&token, &p)) {
        return ConsoleError::new(
            Code::Forbidden,
            "this form has expired or did not come from the console; reload the page and try again",
        )
        .into_response();
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// Middleware of `/console/api/v1/…`: the session cookie stands in for a signature; every
/// state-changing call must carry `X-CSRF-Token`. Errors are the API's JSON.
async fn authenticate_session(
    State(app): State<App>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    if !same_origin(request.headers()) {
        return Err(ApiError::new(
            Code::Forbidden,
            "cross-site requests are refused",
        ));
    }
    let token = session_token(request.headers())
        .ok_or_else(|| ApiError::new(Code::Unauthorized, "sign in to the console first"))?;
    let caller = app.auth.session(&token).await?;
    if !request.method().is_safe() {
        let presented = request
            .headers()
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if !app.auth.csrf_matches(&token, presented) {
            return Err(ApiError::new(
                Code::Forbidden,
                "missing or wrong X-CSRF-Token; reload the page",
            ));
        }
    }
    let project = crate::http::auth::path_project(
        request
            .uri()
            .path()
            .strip_prefix("/console/api")
            .unwrap_or_default(),
    );
    if project != caller.project_id {
        return Err(AuthError::ProjectMismatch {
            credential: caller.project_id,
            path: project,
        }
        .into());
    }
    let (mut parts, body) = request.into_parts();
    let bytes = crate::http::auth::read_body(&parts, body, app.config.max_body_bytes).await?;
    tracing::Span::current().record("project.id", caller.project_id.as_str());
    parts.extensions.insert(caller);
    Ok(next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await)
}

// ------------------------------------------------------------------------------- errors

/// A failure shown as a page: the API's code and words, 5xx without their cause.
#[derive(Debug)]
pub struct ConsoleError {
    code: Code,
    message: String,
}

impl ConsoleError {
    /// An error with an explicit message.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// What a person is told; the cause of a 5xx is logged instead.
    fn public_message(&self) -> String {
        let (status, _, default) = wire(self.code);
        if status.is_server_error() {
            tracing::error!(error.cause = %self.message, "console request failed");
            default.to_owned()
        } else {
            self.message.clone()
        }
    }
}

impl<E: HasCode> From<E> for ConsoleError {
    fn from(err: E) -> Self {
        Self::new(err.code(), err.to_string())
    }
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        let (status, mss, _) = wire(self.code);
        let message = self.public_message();
        (status, views::error_page(status, mss, &message)).into_response()
    }
}

/// GET of an unknown console path.
async fn show_not_found() -> ConsoleError {
    ConsoleError::new(Code::RouteNotFound, "there is no such page in the console")
}

/// The answer to a form: 303 to `to` with `notice` when `result` is `Ok`, else 303 back to
/// `back` with the error's words.
pub fn after_form<T, E: Into<ConsoleError>>(
    result: Result<T, E>,
    headers: &HeaderMap,
    app: &App,
    to: &str,
    notice: &str,
    back: &str,
) -> Response {
    let (target, flash) = match result {
        Ok(_) => (to, format!("n:{notice}")),
        Err(e) => (back, format!("e:{}", e.into().public_message())),
    };
    // Cookies hold about 4 KiB; API messages are far shorter, but cap them anyway.
    let flash: String = flash.chars().take(600).collect();
    let mut response = Redirect::to(target).into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        header_value(console_cookie(
            FLASH_COOKIE,
            flash,
            60,
            over_tls(headers, app),
        )),
    );
    response
}

/// `200` with `HX-Refresh`: htmx reloads the page.
fn refresh() -> Response {
    (StatusCode::OK, [("hx-refresh", "true")]).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn requests_from_another_site_are_not_same_origin() {
        assert!(same_origin(&headers(&[])));
        assert!(same_origin(&headers(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "http://127.0.0.1:8080"),
            ("sec-fetch-site", "same-origin"),
        ])));
        assert!(!same_origin(&headers(&[("sec-fetch-site", "cross-site")])));
        assert!(!same_origin(&headers(&[("sec-fetch-site", "same-site")])));
        assert!(!same_origin(&headers(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "http://evil.example"),
        ])));
        assert!(!same_origin(&headers(&[("origin", "null")])));
    }

    #[test]
    fn the_csp_allows_the_public_origin_for_media_only() {
        let csp = content_security_policy("https://assets.example.com/base");
        let csp = csp.to_str().unwrap();
        assert!(csp.contains("img-src 'self' data: https://assets.example.com;"));
        assert!(csp.contains("script-src 'self';"));
        assert!(csp.contains("frame-ancestors 'none'"));
        assert!(!csp.contains("unsafe"));
    }

    #[test]
    fn flash_and_session_cookies_are_read_back() {
        let h = headers(&[(
            "cookie",
            "a=b; assetd_session=adt_x; assetd_flash=e:no%20such%20asset",
        )]);
        assert_eq!(session_token(&h).as_deref(), Some("adt_x"));
        assert_eq!(
            read_flash(&h),
            Some(Flash::Error("no such asset".to_owned()))
        );
        assert_eq!(
            session_token(&headers(&[("cookie", "assetd_session=")])),
            None
        );
    }

    #[test]
    fn the_form_csrf_field_is_found_among_others() {
        assert_eq!(
            form_csrf(b"asset_name=a+b&_csrf=abc123&tags=x").as_deref(),
            Some("abc123")
        );
        assert_eq!(form_csrf(b"asset_name=x"), None);
    }
}
