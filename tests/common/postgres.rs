//! Fresh PostgreSQL databases for tests, on the server `ASSETD_TEST_DATABASE_URL` names
//! (`scripts/services/postgres.sh` starts a throwaway one). Unset means SQLite.
//!
//! Statements run on a thread of their own, so they work from sync code and from inside a
//! test's runtime alike.

use std::path::Path;

use sqlx::{Connection, Executor, PgConnection};

/// Runs each named `async fn(Arc<dyn Catalog>)` as two tests: `sqlite::name` on a fresh
/// SQLite file, and `postgres::name` on a fresh PostgreSQL database (skipped without a test
/// server). The including file names this module `test_postgres`.
#[allow(unused_macros)]
macro_rules! on_both_backends {
    ($($check:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $check() {
                    let dir = tempfile::tempdir().unwrap();
                    let url = format!("sqlite://{}", dir.path().join("c.db").display());
                    let catalog = assetd::catalog::open(&url).await.expect("SQLite opens");
                    super::$check(catalog).await;
                }
            )+
        }

        mod postgres {
            $(
                #[tokio::test]
                async fn $check() {
                    let Some(server) = crate::test_postgres::server_url() else {
                        eprintln!("ASSETD_TEST_DATABASE_URL is not set; skipping");
                        return;
                    };
                    let database = crate::test_postgres::TestDatabase::create(&server);
                    let catalog = assetd::catalog::open(&database.url)
                        .await
                        .expect("PostgreSQL opens");
                    super::$check(catalog).await;
                }
            )+
        }
    };
}

/// The PostgreSQL server tests should use, if any.
pub fn server_url() -> Option<String> {
    std::env::var("ASSETD_TEST_DATABASE_URL")
        .ok()
        .filter(|url| !url.is_empty())
}

/// A database of its own on the test server, dropped (with its connections) after this
/// handle is.
pub struct TestDatabase {
    /// `postgres://…/assetd_test_…`.
    pub url: String,
    server: String,
    name: String,
}

impl TestDatabase {
    /// Creates an empty database on `server` (a URL of any database on it).
    pub fn create(server: &str) -> Self {
        let name = format!("assetd_test_{}", uuid::Uuid::new_v4().simple());
        run(server, format!("CREATE DATABASE {name}")).unwrap();
        Self {
            url: with_database(server, &name),
            server: server.to_owned(),
            name,
        }
    }

    /// Keeps the database after this handle is gone (for a data directory that outlives it).
    pub fn keep(self) -> String {
        let url = self.url.clone();
        std::mem::forget(self);
        url
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // Not waited for: the server using the database usually lives on in the test's
        // runtime until the test returns, and DROP … WITH (FORCE) waits for connections it
        // is still opening. A drop cut short by the end of the process leaves a database
        // behind in the throwaway cluster, nothing worse.
        let (server, name) = (self.server.clone(), self.name.clone());
        std::thread::spawn(move || {
            let refused = run(
                &server,
                format!("ALTER DATABASE {name} WITH ALLOW_CONNECTIONS false"),
            );
            let dropped = refused.and_then(|()| {
                run(
                    &server,
                    format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                )
            });
            if let Err(e) = dropped {
                eprintln!("leaving test database {name}: {e}");
            }
        });
    }
}

/// The catalogue URL of `data_dir` on the test server: a database created on first use and
/// recorded in the directory, so a server restarted on the same directory finds the same
/// catalogue. Such databases live as long as the test server. `None` without a server.
pub fn database_for(data_dir: &Path) -> Option<String> {
    let server = server_url()?;
    let marker = data_dir.join("test-database-url");
    if let Ok(url) = std::fs::read_to_string(&marker) {
        return Some(url);
    }
    let url = TestDatabase::create(&server).keep();
    std::fs::create_dir_all(data_dir).unwrap();
    std::fs::write(&marker, &url).unwrap();
    Some(url)
}

/// `server` with its database replaced by `name`.
fn with_database(server: &str, name: &str) -> String {
    let (base, query) = match server.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (server, String::new()),
    };
    let (authority, _) = base
        .rsplit_once('/')
        .expect("a postgres:// URL with a database");
    format!("{authority}/{name}{query}")
}

/// Runs one statement on `server` from a thread with its own runtime.
fn run(server: &str, statement: String) -> Result<(), String> {
    let server = server.to_owned();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        runtime.block_on(async {
            let mut conn = PgConnection::connect(&server)
                .await
                .map_err(|e| format!("connecting to the test PostgreSQL server: {e}"))?;
            conn.execute(statement.as_str())
                .await
                .map_err(|e| format!("{statement}: {e}"))?;
            conn.close().await.ok();
            Ok(())
        })
    })
    .join()
    .map_err(|_| "database statement thread panicked".to_owned())?
}
