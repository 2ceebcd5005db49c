//! Authentication: SDK-HMAC-SHA256 signatures and `X-Auth-Token` tokens, both bound to a
//! project, and console sessions (a token issued for project + AK + SK checked here, with a
//! CSRF token derived from it). Produces the [`Caller`] every other service takes.

use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderMap;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

use crate::catalog::{Catalog, CatalogError, Credential, Token};
use crate::error::Code;
use crate::signing::{self, RequestParts, SigningError};

/// Who is making a request, once authenticated.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The project the credentials are bound to.
    pub project_id: String,
    /// The access key that signed, or that the token was issued to.
    pub access_key: String,
    /// Whether admin-only features are allowed.
    pub is_admin: bool,
    /// `X-App-UserId`, when sent.
    pub app_user_id: Option<String>,
    /// Authenticated by an `X-Auth-Token` rather than a signature.
    pub by_token: bool,
}

/// Why a request could not be authenticated or is not allowed where it points.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Neither `Authorization` nor `X-Auth-Token` was sent.
    #[error("missing Authorization (SDK-HMAC-SHA256) or X-Auth-Token header")]
    Missing,
    /// The signature did not verify.
    #[error("signature rejected: {0}")]
    Signature(#[from] SigningError),
    /// The access key is not known.
    #[error("unknown access key")]
    UnknownAccessKey,
    /// The token is unknown or expired.
    #[error("invalid or expired X-Auth-Token")]
    BadToken,
    /// The credentials belong to another project than the path names.
    #[error("credentials of project {credential} cannot access project {path}")]
    ProjectMismatch {
        /// Project of the credentials.
        credential: String,
        /// Project in the request path or `X-Project-Id`.
        path: String,
    },
    /// Tokens are issued only to signed requests, so a token cannot renew itself.
    #[error("tokens can only be requested with an AK/SK signature")]
    TokenForToken,
    /// Console sign-in with a wrong project, access key or secret key; which one is not said.
    #[error("sign-in failed: the project ID, access key or secret key is wrong")]
    SignInRefused,
    /// `X-App-UserId` is not acceptable.
    #[error("X-App-UserId: {0}")]
    AppUserId(&'static str),
    /// The catalogue failed.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
}

impl AuthError {
    /// The wire code of this failure.
    pub fn code(&self) -> Code {
        match self {
            Self::Missing
            | Self::Signature(_)
            | Self::UnknownAccessKey
            | Self::BadToken
            | Self::SignInRefused => Code::Unauthorized,
            Self::ProjectMismatch { .. } => Code::ProjectMismatch,
            Self::TokenForToken => Code::Forbidden,
            Self::AppUserId(_) => Code::InvalidParameter,
            Self::Catalog(e) => e.code(),
        }
    }
}

/// A freshly issued token; the value is shown once and stored only as a hash.
#[derive(Debug)]
pub struct IssuedToken {
    /// The token to send as `X-Auth-Token`.
    pub token: String,
    /// When it expires.
    pub expires_at: OffsetDateTime,
}

/// Verifies requests against the credentials in the catalogue.
pub struct Authenticator {
    catalog: Arc<dyn Catalog>,
    max_skew: Duration,
    token_ttl: Duration,
    csrf_key: Vec<u8>,
}

/// Lowercase hex SHA-256, the stored form of a token.
fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// What a token remembers of the SK it was issued under: an HMAC keyed by the SK, so the SK
/// cannot be recovered from it. A token is honoured only while its credential's current SK
/// gives the same fingerprint.
fn secret_fingerprint(secret_key: &str) -> String {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<Sha256>::new_from_slice(secret_key.as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(b"assetd token binding v1");
    hex::encode(mac.finalize().into_bytes())
}

/// True for Han ideographs and CJK punctuation: what "Chinese characters" means for
/// `X-App-UserId`.
fn is_chinese(c: char) -> bool {
    matches!(c as u32,
        0x3000..=0x303F | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF
        | 0xFF00..=0xFFEF | 0x20000..=0x3134F)
}

/// Reads and checks `X-App-UserId`: UTF-8, no Chinese characters, at most 256 characters.
pub fn app_user_id(headers: &HeaderMap) -> Result<Option<String>, AuthError> {
    let Some(value) = headers.get("x-app-userid") else {
        return Ok(None);
    };
    let value = std::str::from_utf8(value.as_bytes())
        .map_err(|_| AuthError::AppUserId("must be UTF-8 text"))?
        .trim();
    if value.is_empty() {
        return Ok(None);
    }
    if value.chars().any(is_chinese) {
        return Err(AuthError::AppUserId("must not contain Chinese characters"));
    }
    if value.chars().count() > 256 {
        return Err(AuthError::AppUserId("must be at most 256 characters"));
    }
    Ok(Some(value.to_owned()))
}

impl Authenticator {
    /// An authenticator over `catalog` with the given clock window and token lifetime;
    /// `csrf_key` keys the CSRF tokens of console sessions.
    pub fn new(
        catalog: Arc<dyn Catalog>,
        max_skew: Duration,
        token_ttl: Duration,
        csrf_key: Vec<u8>,
    ) -> Self {
        Self {
            catalog,
            max_skew,
            token_ttl,
            csrf_key,
        }
    }

    /// How long issued tokens and console sessions last.
    pub fn token_ttl(&self) -> Duration {
        self.token_ttl
    }

    /// The credential behind the unexpired token `token`; `BadToken` when either is gone, or
    /// the credential's project or SK changed since the token was issued.
    async fn live_token(&self, token: &str) -> Result<Credential, AuthError> {
        let stored = self
            .catalog
            .token(&token_hash(token))
            .await?
            .filter(|t| t.expires_at > OffsetDateTime::now_utc())
            .ok_or(AuthError::BadToken)?;
        // A revoked credential, or one whose SK changed since, ends its tokens.
        let credential = self
            .catalog
            .credential(&stored.access_key)
            .await?
            .ok_or(AuthError::BadToken)?;
        let current = secret_fingerprint(credential.secret_key.expose_secret());
        let same: bool = current
            .as_bytes()
            .ct_eq(stored.secret_fingerprint.as_bytes())
            .into();
        if !same || credential.project_id != stored.project_id {
            return Err(AuthError::BadToken);
        }
        Ok(credential)
    }

    /// Authenticates a request and checks it addresses the caller's own project.
    /// `path_project` is the `{project_id}` of the route.
    pub async fn authenticate(
        &self,
        request: &RequestParts<'_>,
        path_project: &str,
    ) -> Result<Caller, AuthError> {
        let headers = request.headers;
        let by_token = headers.get(axum::http::header::AUTHORIZATION).is_none();
        let (credential_project, access_key, is_admin) = if let Some(value) =
            headers.get(axum::http::header::AUTHORIZATION)
        {
            let value = value
                .to_str()
                .map_err(|_| SigningError::MalformedAuthorization)?;
            let auth = signing::parse_authorization(value)?;
            let credential = self
                .catalog
                .credential(&auth.access_key)
                .await?
                .ok_or(AuthError::UnknownAccessKey)?;
            let skew = time::Duration::try_from(self.max_skew).unwrap_or(time::Duration::MINUTE);
            signing::verify(
                request,
                &auth,
                credential.secret_key.expose_secret().as_bytes(),
                OffsetDateTime::now_utc(),
                skew,
            )?;
            (
                credential.project_id,
                credential.access_key,
                credential.is_admin,
            )
        } else if let Some(value) = headers.get("x-auth-token") {
            let token = value.to_str().map_err(|_| AuthError::BadToken)?;
            let credential = self.live_token(token).await?;
            (
                credential.project_id,
                credential.access_key,
                credential.is_admin,
            )
        } else {
            return Err(AuthError::Missing);
        };

        let header_project = headers.get("x-project-id").and_then(|v| v.to_str().ok());
        for asked in std::iter::once(path_project).chain(header_project) {
            if asked != credential_project {
                return Err(AuthError::ProjectMismatch {
                    credential: credential_project,
                    path: asked.to_owned(),
                });
            }
        }
        Ok(Caller {
            project_id: credential_project,
            access_key,
            is_admin,
            app_user_id: app_user_id(headers)?,
            by_token,
        })
    }

    /// Issues an `X-Auth-Token` for an already authenticated caller.
    pub async fn issue_token(&self, caller: &Caller) -> Result<IssuedToken, AuthError> {
        if caller.by_token {
            return Err(AuthError::TokenForToken);
        }
        let credential = self
            .catalog
            .credential(&caller.access_key)
            .await?
            .ok_or(AuthError::UnknownAccessKey)?;
        self.store_token(&credential).await
    }

    /// Issues a token for `credential`, bound to its current secret key.
    async fn store_token(&self, credential: &Credential) -> Result<IssuedToken, AuthError> {
        let mut raw = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut raw);
        let token = format!(
            "adt_{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
        );
        let expires_at = OffsetDateTime::now_utc() + self.token_ttl;
        self.catalog
            .put_token(&Token {
                token_hash: token_hash(&token),
                access_key: credential.access_key.clone(),
                project_id: credential.project_id.clone(),
                is_admin: credential.is_admin,
                expires_at,
                secret_fingerprint: secret_fingerprint(credential.secret_key.expose_secret()),
            })
            .await?;
        Ok(IssuedToken { token, expires_at })
    }

    /// Console sign-in: checks that `access_key` exists, belongs to `project_id` and has
    /// `secret_key` (compared in constant time), then issues a session token. Every refusal
    /// is the same `SignInRefused`, so it tells nothing about which part was wrong.
    pub async fn sign_in(
        &self,
        project_id: &str,
        access_key: &str,
        secret_key: &str,
    ) -> Result<IssuedToken, AuthError> {
        let credential = self.catalog.credential(access_key).await?;
        let accepted = credential.as_ref().is_some_and(|c| {
            let same_secret: bool = c
                .secret_key
                .expose_secret()
                .as_bytes()
                .ct_eq(secret_key.as_bytes())
                .into();
            same_secret && c.project_id == project_id
        });
        let Some(credential) = credential.filter(|_| accepted) else {
            // Not the access key: people paste the secret key into the wrong field.
            tracing::info!(project.id = %project_id, "console sign-in refused");
            return Err(AuthError::SignInRefused);
        };
        tracing::info!(project.id = %project_id, access_key, "console sign-in");
        self.store_token(&credential).await
    }

    /// The caller a console session token stands for.
    pub async fn session(&self, token: &str) -> Result<Caller, AuthError> {
        let credential = self.live_token(token).await?;
        Ok(Caller {
            project_id: credential.project_id,
            access_key: credential.access_key,
            is_admin: credential.is_admin,
            app_user_id: None,
            by_token: true,
        })
    }

    /// Ends a console session: its token stops working everywhere at once.
    pub async fn sign_out(&self, token: &str) -> Result<(), AuthError> {
        self.catalog.delete_token(&token_hash(token)).await?;
        Ok(())
    }

    /// The CSRF token of a session: an HMAC of the session token's hash, so it needs no
    /// storage and dies with the session.
    pub fn csrf_token(&self, session_token: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.csrf_key).expect("any key length");
        mac.update(token_hash(session_token).as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// Whether `presented` is the CSRF token of `session_token` (constant time).
    pub fn csrf_matches(&self, session_token: &str, presented: &str) -> bool {
        self.csrf_token(session_token)
            .as_bytes()
            .ct_eq(presented.as_bytes())
            .into()
    }
}

/// Creates (or replaces) a credential; generates AK and SK when not given.
pub async fn create_credential(
    catalog: &dyn Catalog,
    project_id: &str,
    access_key: Option<String>,
    secret_key: Option<String>,
    is_admin: bool,
) -> Result<(String, String), CatalogError> {
    let access_key = access_key.unwrap_or_else(|| random_key(20, ALPHANUM_UPPER));
    let secret_key = secret_key.unwrap_or_else(|| random_key(40, ALPHANUM));
    catalog
        .put_credential(&Credential {
            access_key: access_key.clone(),
            secret_key: secret_key.clone().into(),
            project_id: project_id.to_owned(),
            is_admin,
        })
        .await?;
    Ok((access_key, secret_key))
}

/// Why an operator's credential command failed.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// No credential has this access key.
    #[error("no credential has access key {0}")]
    Unknown(String),
    /// The catalogue failed.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
}

/// Replaces the SK of an existing credential with a fresh random one and returns it. Tokens
/// issued under the old SK stop working at once (they are bound to it).
pub async fn rotate_credential(
    catalog: &dyn Catalog,
    access_key: &str,
) -> Result<String, CredentialError> {
    let mut credential = catalog
        .credential(access_key)
        .await?
        .ok_or_else(|| CredentialError::Unknown(access_key.to_owned()))?;
    let secret_key = random_key(40, ALPHANUM);
    credential.secret_key = secret_key.clone().into();
    catalog.put_credential(&credential).await?;
    Ok(secret_key)
}

/// Removes a credential; requests signed with it and its tokens are refused from then on.
pub async fn revoke_credential(
    catalog: &dyn Catalog,
    access_key: &str,
) -> Result<(), CredentialError> {
    if catalog.delete_credential(access_key).await? {
        Ok(())
    } else {
        Err(CredentialError::Unknown(access_key.to_owned()))
    }
}

const ALPHANUM_UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const ALPHANUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

fn random_key(len: usize, alphabet: &[u8]) -> String {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| alphabet[rng.gen_range(0..alphabet.len())] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-app-userid", value.parse().unwrap());
        h
    }

    #[test]
    fn app_user_id_with_chinese_characters_is_refused() {
        let mut h = HeaderMap::new();
        h.insert(
            "x-app-userid",
            axum::http::HeaderValue::from_bytes("user-数字".as_bytes()).unwrap(),
        );
        assert!(matches!(app_user_id(&h), Err(AuthError::AppUserId(_))));
    }

    #[test]
    fn app_user_id_with_latin_text_is_recorded() {
        assert_eq!(
            app_user_id(&headers("user-1")).unwrap().as_deref(),
            Some("user-1")
        );
        assert_eq!(app_user_id(&HeaderMap::new()).unwrap(), None);
        assert_eq!(app_user_id(&headers("  ")).unwrap(), None);
    }

    #[test]
    fn the_fingerprint_depends_on_the_secret_and_does_not_contain_it() {
        let a = secret_fingerprint("secret-one");
        assert_eq!(a, secret_fingerprint("secret-one"));
        assert_ne!(a, secret_fingerprint("secret-two"));
        assert!(!a.contains("secret"));
        assert_eq!(a.len(), 64);
    }

    #[test]
    fn accented_and_korean_letters_are_not_chinese() {
        assert!(!"José-김".chars().any(is_chinese));
        assert!("中".chars().any(is_chinese));
        assert!("，".chars().any(is_chinese));
    }
}
