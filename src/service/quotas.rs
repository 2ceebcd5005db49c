//! Per-project quotas. Storage bytes and the asset count are enforced by the catalogue, in
//! the same transaction as the write that adds to them ([`crate::catalog::Catalog::apply`]);
//! this module lets admins set and read quotas, and enforces the request rate.
//!
//! The rate is a token bucket per project (`governor`), refilled at `requests_per_second`
//! with a burst of one second's worth, and kept by each node for itself: with N nodes a
//! project may send up to N times its rate in total. A node reads a project's limit from the
//! catalogue at most every [`LIMIT_REFRESH`], so a change made on another node applies there
//! within that time (at once on the node that made it).

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, RateLimiter};

use super::auth::Caller;
use crate::catalog::{Catalog, CatalogError, ProjectUsage, Quota};
use crate::error::Code;
use crate::model::ValidationError;

/// How long a node trusts the request-rate limit it last read for a project.
pub const LIMIT_REFRESH: Duration = Duration::from_secs(5);

/// Why a quota operation was refused, or a request was not admitted.
#[derive(Debug, thiserror::Error)]
pub enum QuotaError {
    /// The caller is not an admin.
    #[error("quotas are set and read with admin credentials")]
    NotAdmin,
    /// A limit broke a rule.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// The project is over its request rate.
    #[error("project {project_id} allows {limit} requests per second; retry in {} s", retry_after.as_secs())]
    TooManyRequests {
        /// The project.
        project_id: String,
        /// Its limit.
        limit: u32,
        /// When a request will be admitted again, rounded up to whole seconds (at least 1).
        retry_after: Duration,
    },
    /// The catalogue failed.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
}

impl QuotaError {
    /// The wire code of this failure.
    pub fn code(&self) -> Code {
        match self {
            Self::NotAdmin => Code::Forbidden,
            Self::Invalid(_) => Code::InvalidParameter,
            Self::TooManyRequests { .. } => Code::TooManyRequests,
            Self::Catalog(e) => e.code(),
        }
    }
}

/// The limits an admin asks for; `None` is no limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of uploaded files.
    pub max_bytes: Option<u64>,
    /// Assets that are not DELETED.
    pub max_assets: Option<u64>,
    /// Authenticated API requests per second, on each node.
    pub requests_per_second: Option<u32>,
}

/// One project's request-rate limiter, as last read from the catalogue.
struct RateEntry {
    limit: Option<u32>,
    limiter: Option<Arc<DefaultDirectRateLimiter>>,
    read_at: Instant,
}

/// The quota service.
pub struct Quotas {
    catalog: Arc<dyn Catalog>,
    rates: Mutex<HashMap<String, RateEntry>>,
}

fn require_admin(caller: &Caller) -> Result<(), QuotaError> {
    if caller.is_admin {
        Ok(())
    } else {
        Err(QuotaError::NotAdmin)
    }
}

impl Quotas {
    /// Quotas over `catalog`.
    pub fn new(catalog: Arc<dyn Catalog>) -> Self {
        Self {
            catalog,
            rates: Mutex::new(HashMap::new()),
        }
    }

    /// Sets `project_id`'s quota (replacing every limit; absent ones are lifted) and returns
    /// it with the project's usage.
    pub async fn set(
        &self,
        caller: &Caller,
        project_id: &str,
        limits: Limits,
    ) -> Result<(Quota, ProjectUsage), QuotaError> {
        require_admin(caller)?;
        if limits.requests_per_second == Some(0) {
            return Err(ValidationError::new(
                "requests_per_second",
                "must be at least 1; leave it out for no limit",
            )
            .into());
        }
        let quota = Quota {
            project_id: project_id.to_owned(),
            max_bytes: limits.max_bytes,
            max_assets: limits.max_assets,
            requests_per_second: limits.requests_per_second,
        };
        self.catalog.put_quota(&quota).await?;
        self.remember_rate(project_id, quota.requests_per_second);
        tracing::info!(project.id = %project_id, max_bytes = ?quota.max_bytes, max_assets = ?quota.max_assets, requests_per_second = ?quota.requests_per_second, "quota set");
        let usage = self.catalog.project_usage(project_id).await?;
        Ok((quota, usage))
    }

    /// `project_id`'s quota (all limits `None` when it has none) and its usage.
    pub async fn show(
        &self,
        caller: &Caller,
        project_id: &str,
    ) -> Result<(Quota, ProjectUsage), QuotaError> {
        require_admin(caller)?;
        let quota = self.catalog.quota(project_id).await?.unwrap_or(Quota {
            project_id: project_id.to_owned(),
            ..Quota::default()
        });
        let usage = self.catalog.project_usage(project_id).await?;
        Ok((quota, usage))
    }

    /// Admits one request of `project_id`, or says when to retry.
    pub async fn admit(&self, project_id: &str) -> Result<(), QuotaError> {
        let fresh = self.cached_rate(project_id);
        let limiter = match fresh {
            Some(limiter) => limiter,
            None => {
                let limit = self
                    .catalog
                    .quota(project_id)
                    .await?
                    .and_then(|q| q.requests_per_second);
                self.remember_rate(project_id, limit)
            }
        };
        let Some((limit, limiter)) = limiter else {
            return Ok(());
        };
        limiter.check().map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            QuotaError::TooManyRequests {
                project_id: project_id.to_owned(),
                limit,
                retry_after: Duration::from_secs(wait.as_secs() + 1),
            }
        })
    }

    /// The limiter of `project_id` when it was read recently: `Some(None)` for no limit,
    /// `None` when it must be read again.
    #[allow(clippy::type_complexity)]
    fn cached_rate(
        &self,
        project_id: &str,
    ) -> Option<Option<(u32, Arc<DefaultDirectRateLimiter>)>> {
        let rates = self.rates.lock().unwrap_or_else(|e| e.into_inner());
        let entry = rates
            .get(project_id)
            .filter(|e| e.read_at.elapsed() < LIMIT_REFRESH)?;
        Some(entry.limit.zip(entry.limiter.clone()))
    }

    /// Records `limit` as just read for `project_id`, keeping the bucket (and what it has
    /// counted) when the limit did not change.
    fn remember_rate(
        &self,
        project_id: &str,
        limit: Option<u32>,
    ) -> Option<(u32, Arc<DefaultDirectRateLimiter>)> {
        let mut rates = self.rates.lock().unwrap_or_else(|e| e.into_inner());
        let entry = rates
            .entry(project_id.to_owned())
            .or_insert_with(|| RateEntry {
                limit: None,
                limiter: None,
                read_at: Instant::now(),
            });
        if entry.limit != limit || (limit.is_some() && entry.limiter.is_none()) {
            entry.limiter = limit
                .and_then(NonZeroU32::new)
                .map(|rate| Arc::new(RateLimiter::direct(governor::Quota::per_second(rate))));
            entry.limit = limit;
        }
        entry.read_at = Instant::now();
        entry.limit.zip(entry.limiter.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_project_over_its_rate_is_told_when_to_retry_and_others_are_not_affected() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("c.db").display());
        let catalog = crate::catalog::open(&url).await.unwrap();
        let quotas = Quotas::new(catalog);
        let admin = Caller {
            project_id: "ops".into(),
            access_key: "ak".into(),
            is_admin: true,
            app_user_id: None,
            by_token: false,
        };
        let limits = Limits {
            requests_per_second: Some(1),
            ..Limits::default()
        };
        quotas.set(&admin, "p", limits).await.unwrap();
        // One second's worth is admitted at once; of fifty more in a row some must wait
        // (all fifty could pass only if this loop took fifty seconds).
        quotas.admit("p").await.unwrap();
        let mut refused = Vec::new();
        for _ in 0..50 {
            if let Err(e) = quotas.admit("p").await {
                refused.push(e);
            }
        }
        assert!(!refused.is_empty());
        for e in refused {
            match e {
                QuotaError::TooManyRequests { retry_after, .. } => {
                    assert!(retry_after >= Duration::from_secs(1))
                }
                other => panic!("{other}"),
            }
        }
        for _ in 0..10 {
            quotas.admit("q").await.unwrap();
        }
        let not_admin = Caller {
            is_admin: false,
            ..admin
        };
        assert!(matches!(
            quotas.set(&not_admin, "p", Limits::default()).await,
            Err(QuotaError::NotAdmin)
        ));
    }
}
