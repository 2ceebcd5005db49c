//! Read-modify-write with optimistic concurrency, written once: read the records, decide
//! the change, `apply` it, and start over from a fresh read when another writer got there
//! first. Services and jobs describe one attempt; this module owns the loop.

use std::future::Future;

use super::{Catalog, CatalogError, Write};

/// How many times an update starts over after losing a race before it gives up.
const WRITE_ATTEMPTS: usize = 8;

/// What one attempt of an update (`<dyn Catalog>::update`) decided after reading.
#[derive(Debug)]
pub enum Change<T> {
    /// Nothing to write: the update ends with this value.
    Keep(T),
    /// Commit this write; once it is committed the update ends with the value.
    Commit(Write, T),
}

impl dyn Catalog {
    /// Runs `attempt` (read, then decide) and applies the [`Write`] it returns, starting over
    /// whenever the write lost a race ([`CatalogError::Conflict`]); fails with `busy()` when
    /// all [`WRITE_ATTEMPTS`] attempts lost. An error of `attempt`, or any other catalogue
    /// error, ends the update at once.
    ///
    /// This is the one place that starts over after a lost race: `apply` reports one as
    /// `Conflict`, with nothing written, and never re-reads by itself. (What a database can
    /// cure by running the very same transaction again, such as PostgreSQL's deadlocks and
    /// serialization failures, says nothing about the records; the backend retries that
    /// inside `apply`.)
    pub async fn update<T, E, Fut>(
        &self,
        mut attempt: impl FnMut() -> Fut,
        busy: impl FnOnce() -> E,
    ) -> Result<T, E>
    where
        Fut: Future<Output = Result<Change<T>, E>>,
        E: From<CatalogError>,
    {
        for _ in 0..WRITE_ATTEMPTS {
            let (write, value) = match attempt().await? {
                Change::Keep(value) => return Ok(value),
                Change::Commit(write, value) => (write, value),
            };
            match self.apply(write).await {
                Ok(()) => return Ok(value),
                Err(CatalogError::Conflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(busy())
    }
}
