//! Signing in and out. The secret key arrives in the sign-in form, is checked by
//! `service::auth` and is never echoed, stored in a cookie or logged; the cookie holds only
//! the session token, which signing out revokes.

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;

use super::views::{bare_layout, icon};
use super::{
    console_cookie, flash_shown, header_value, over_tls, read_flash, session_token, ConsoleError,
    Flash, FLASH_COOKIE, ROOT, SESSION_COOKIE,
};
use crate::app::App;
use crate::service::auth::AuthError;

/// The sign-in form.
#[derive(Debug, Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    project_id: String,
    #[serde(default)]
    access_key: String,
    #[serde(default)]
    secret_key: String,
}

fn sign_in_page(project_id: &str, access_key: &str, message: Option<&Flash>) -> Markup {
    bare_layout(
        "Sign in",
        html! {
            section.panel.narrow.sign-in {
                h1 { "Sign in" }
                p.lead { "Use the project ID and the access key pair you were given for this asset library." }
                @match message {
                    Some(Flash::Error(text)) => div.flash.flash-error role="alert" { (text) },
                    Some(Flash::Notice(text)) => div.flash.flash-notice role="status" { (text) },
                    None => {},
                }
                form.stack method="post" action="/console/sign-in" {
                    div.field {
                        label for="project_id" { "Project ID" }
                        input #project_id name="project_id" type="text" required
                            autocomplete="username" spellcheck="false" value=(project_id);
                    }
                    div.field {
                        label for="access_key" { "Access key" }
                        input #access_key name="access_key" type="text" required
                            autocomplete="off" spellcheck="false" value=(access_key);
                    }
                    div.field {
                        label for="secret_key" { "Secret key" }
                        input #secret_key name="secret_key" type="password" required
                            autocomplete="current-password";
                    }
                    button.button.primary.wide type="submit" { "Sign in" }
                }
                p.hint {
                    (icon("shield"))
                    "The secret key is checked on the server and never stored in your browser. "
                    "Create keys with " code { "assetd credentials create" } "."
                }
            }
        },
    )
}

/// GET `/console/sign-in`.
pub async fn show_sign_in(headers: HeaderMap) -> Response {
    let flash = read_flash(&headers);
    let response = sign_in_page("", "", flash.as_ref()).into_response();
    flash_shown(response, flash.is_some())
}

/// POST `/console/sign-in`: a session cookie and the library, or the form again with 401.
pub async fn sign_in(
    State(app): State<App>,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Result<Response, ConsoleError> {
    let project_id = form.project_id.trim();
    let access_key = form.access_key.trim();
    match app
        .auth
        .sign_in(project_id, access_key, &form.secret_key)
        .await
    {
        Ok(issued) => {
            let ttl = i64::try_from(app.auth.token_ttl().as_secs()).unwrap_or(i64::MAX);
            let cookie =
                console_cookie(SESSION_COOKIE, issued.token, ttl, over_tls(&headers, &app));
            let mut response = Redirect::to(ROOT).into_response();
            response
                .headers_mut()
                .append(header::SET_COOKIE, header_value(cookie));
            Ok(response)
        }
        Err(e @ AuthError::SignInRefused) => Ok((
            StatusCode::UNAUTHORIZED,
            sign_in_page(
                project_id,
                access_key,
                Some(&Flash::Error(format!("Sign-in failed: {}", refusal(&e)))),
            ),
        )
            .into_response()),
        Err(e) => Err(e.into()),
    }
}

fn refusal(e: &AuthError) -> String {
    e.to_string()
        .trim_start_matches("sign-in failed: ")
        .to_owned()
}

/// POST `/console/sign-out`: revokes the session token and clears the cookie.
pub async fn sign_out(
    State(app): State<App>,
    headers: HeaderMap,
) -> Result<Response, ConsoleError> {
    if let Some(token) = session_token(&headers) {
        app.auth.sign_out(&token).await?;
    }
    let secure = over_tls(&headers, &app);
    let mut response = Redirect::to(super::SIGN_IN).into_response();
    let h = response.headers_mut();
    h.append(
        header::SET_COOKIE,
        header_value(console_cookie(SESSION_COOKIE, String::new(), 0, secure)),
    );
    h.append(
        header::SET_COOKIE,
        header_value(console_cookie(
            FLASH_COOKIE,
            "n:You are signed out.".to_owned(),
            60,
            secure,
        )),
    );
    Ok(response)
}
