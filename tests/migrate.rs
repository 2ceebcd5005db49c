//! `assetd migrate` brings a catalogue up to date, again harmlessly, and it and `serve` refuse
//! a catalogue that a newer assetd migrated — on SQLite, and on PostgreSQL when
//! `ASSETD_TEST_DATABASE_URL` names a server.

mod common;

use std::path::Path;
use std::process::Output;

use common::child::assetd;
use common::postgres::{server_url, TestDatabase};
use sqlx::Connection;

/// A migration number no build will reach.
const FUTURE: i64 = 99_999_999;

fn run(data_dir: &Path, url: &str, args: &[&str]) -> Output {
    assetd()
        .arg("--data-dir")
        .arg(data_dir)
        .arg("--database-url")
        .arg(url)
        .args(args)
        .output()
        .unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Migrates, migrates again, then pretends a newer build migrated (`record_future` adds a
/// migration this build does not have) and checks that both commands refuse.
async fn check<F, Fut>(url: &str, record_future: F)
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let dir = tempfile::tempdir().unwrap();
    for _ in 0..2 {
        let migrated = run(dir.path(), url, &["migrate"]);
        assert!(migrated.status.success(), "{}", stderr(&migrated));
    }
    let created = run(
        dir.path(),
        url,
        &["credentials", "create", "--project-id", "p"],
    );
    assert!(created.status.success(), "{}", stderr(&created));

    record_future().await;
    for args in [&["migrate"][..], &["serve", "--listen", "127.0.0.1:0"]] {
        let refused = run(dir.path(), url, args);
        assert!(!refused.status.success(), "{args:?} ran on a newer schema");
        let message = stderr(&refused);
        assert!(
            message.contains(&format!(
                "schema is at migration {FUTURE}, newer than this assetd"
            )),
            "{args:?}: {message}"
        );
    }
}

#[tokio::test]
async fn sqlite_catalogues_migrate_once_and_refuse_a_newer_schema() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("catalog.db").display());
    check(&url, || async {
        let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
             VALUES (?, 'from the future', TRUE, x'00', 0)",
        )
        .bind(FUTURE)
        .execute(&mut conn)
        .await
        .unwrap();
    })
    .await;
}

#[tokio::test]
async fn postgres_catalogues_migrate_once_and_refuse_a_newer_schema() {
    let Some(server) = server_url() else {
        eprintln!("ASSETD_TEST_DATABASE_URL is not set; skipping");
        return;
    };
    let database = TestDatabase::create(&server);
    check(&database.url, || async {
        let mut conn = sqlx::PgConnection::connect(&database.url).await.unwrap();
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
             VALUES ($1, 'from the future', TRUE, '\\x00', 0)",
        )
        .bind(FUTURE)
        .execute(&mut conn)
        .await
        .unwrap();
    })
    .await;
}
