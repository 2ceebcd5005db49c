//! Per-project webhooks: where asset state-change events are POSTed. Events are queued by
//! the catalogue in the same transaction as the change (see `Catalog::apply`) and delivered
//! by `jobs::governance::deliver_event`, signed with the webhook's secret.

use std::sync::Arc;

use rand::RngCore;
use secrecy::SecretString;

use super::auth::Caller;
use super::egress::{EgressPolicy, Refused, ResolveError};
use crate::catalog::{Catalog, CatalogError, Webhook};
use crate::error::Code;
use crate::model::ValidationError;

/// Why a webhook operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// A parameter broke a rule.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// The catalogue failed.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
}

impl WebhookError {
    /// The wire code of this failure.
    pub fn code(&self) -> Code {
        match self {
            Self::Invalid(_) => Code::InvalidParameter,
            Self::Catalog(e) => e.code(),
        }
    }
}

/// The webhook service.
pub struct Webhooks {
    catalog: Arc<dyn Catalog>,
    egress: Arc<EgressPolicy>,
}

impl Webhooks {
    /// The webhook service; `egress` says which targets may be called.
    pub fn new(catalog: Arc<dyn Catalog>, egress: Arc<EgressPolicy>) -> Self {
        Self { catalog, egress }
    }

    /// Refuses a URL whose host is, or now resolves to, an address the policy does not
    /// allow. A name that does not resolve yet is accepted: every delivery checks again.
    async fn check_target(&self, url: &str) -> Result<(), WebhookError> {
        let refused = |e: Refused| ValidationError::new("url", e.to_string());
        let url: reqwest::Url = url
            .parse()
            .map_err(|e| ValidationError::new("url", format!("is not a valid URL: {e}")))?;
        self.egress.check_url(&url).map_err(refused)?;
        let Some(host) = url.host_str() else {
            return Err(ValidationError::new("url", "must name a host").into());
        };
        match self.egress.resolve(host).await {
            Err(ResolveError::Refused(e)) => Err(refused(e).into()),
            Ok(_) | Err(ResolveError::Lookup(_)) => Ok(()),
        }
    }

    /// Registers (or replaces) the caller's webhook; returns the secret, generated when not
    /// given. The secret is shown only here.
    pub async fn put(
        &self,
        caller: &Caller,
        url: &str,
        secret: Option<String>,
    ) -> Result<String, WebhookError> {
        let scheme_ok = url.starts_with("http://") || url.starts_with("https://");
        if !scheme_ok || url.len() > 2048 || url.chars().any(char::is_whitespace) {
            return Err(ValidationError::new(
                "url",
                "must be an http:// or https:// URL of at most 2048 characters",
            )
            .into());
        }
        self.check_target(url).await?;
        let secret = match secret {
            Some(s) if s.chars().count() < 16 || s.chars().count() > 256 => {
                return Err(ValidationError::new("secret", "must be 16 to 256 characters").into())
            }
            Some(s) => s,
            None => {
                let mut raw = [0u8; 32];
                rand::thread_rng().fill_bytes(&mut raw);
                hex::encode(raw)
            }
        };
        self.catalog
            .put_webhook(&Webhook {
                project_id: caller.project_id.clone(),
                url: url.to_owned(),
                secret: SecretString::from(secret.clone()),
            })
            .await?;
        Ok(secret)
    }

    /// The caller's webhook URL, if any.
    pub async fn get(&self, caller: &Caller) -> Result<Option<String>, WebhookError> {
        Ok(self
            .catalog
            .webhook(&caller.project_id)
            .await?
            .map(|w| w.url))
    }

    /// Removes the caller's webhook (no-op when there is none).
    pub async fn delete(&self, caller: &Caller) -> Result<(), WebhookError> {
        self.catalog.delete_webhook(&caller.project_id).await?;
        Ok(())
    }
}
