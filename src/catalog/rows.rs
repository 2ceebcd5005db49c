//! Whole tables as rows of plain values, on either backend: what `assetd library copy` moves
//! from one catalogue to another and compares afterwards. Everything else goes through the
//! [`Catalog`](super::Catalog) trait; only a copy needs to see every table without knowing
//! its records.
//!
//! Tables and columns are discovered from the database (both sides are migrated to the same
//! schema first), so a table added by a later migration is copied without changes here.
//! Left out: migration bookkeeping, SQLite's full-text index (its triggers rebuild it from
//! `assets`) and blob writes in progress (they belong to a running node).

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgPool, PgPoolOptions, PgRow};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions, SqliteRow};
use sqlx::{Row, TypeInfo, ValueRef};

use super::CatalogError;

/// Tables never copied (see the module docs); SQLite's own tables and the full-text
/// index's shadow tables are matched by prefix.
const SKIPPED: &[&str] = &["_sqlx_migrations", "blob_writes"];
const SKIPPED_PREFIXES: &[&str] = &["sqlite_", "asset_names"];
/// Copied first, in this order: the library's identity (see `library::copy`), then the
/// table the others refer to. The rest follow by name.
const FIRST: &[&str] = &["server_secrets", "assets"];

/// One stored value, as both backends can hold it. Booleans read as 0 or 1.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// Any integer or boolean.
    Int(i64),
    /// A floating-point number.
    Real(f64),
    /// Text, JSON documents included.
    Text(String),
    /// Bytes.
    Bytes(Vec<u8>),
}

/// How a column stores its values on one backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An integer.
    Int,
    /// A boolean (PostgreSQL; SQLite stores them as integers).
    Bool,
    /// A floating-point number.
    Real,
    /// Text.
    Text,
    /// A JSON document (PostgreSQL `jsonb`; text on SQLite).
    Json,
    /// Bytes.
    Bytes,
}

/// A column of a [`Table`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// Its name.
    pub name: String,
    /// Its type on this backend.
    pub kind: Kind,
    /// PostgreSQL's spelling of the type (for casts); empty on SQLite.
    pg_type: String,
    /// Whether values are generated (an identity column, whose sequence must follow).
    identity: bool,
}

/// A table as one backend stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    /// Its name.
    pub name: String,
    /// Its columns, in the order rows carry their values.
    pub columns: Vec<Column>,
    /// Positions in `columns` of the primary key, in key order.
    pub key: Vec<usize>,
}

impl Table {
    /// The key values of `row`.
    pub fn key_of(&self, row: &[Value]) -> Vec<Value> {
        self.key.iter().map(|&i| row[i].clone()).collect()
    }

    /// This table with its columns in `other`'s order, for rows read from `other`; an error
    /// naming the difference when the two do not have the same columns and key.
    pub fn aligned_with(&self, other: &Table) -> Result<Table, String> {
        let mut columns = Vec::with_capacity(other.columns.len());
        for theirs in &other.columns {
            match self.columns.iter().find(|c| c.name == theirs.name) {
                Some(ours) => columns.push(ours.clone()),
                None => return Err(format!("column {}.{} is missing", self.name, theirs.name)),
            }
        }
        if let Some(extra) = self
            .columns
            .iter()
            .find(|c| !other.columns.iter().any(|o| o.name == c.name))
        {
            return Err(format!("column {}.{} is extra", self.name, extra.name));
        }
        let key_names = |t: &Table| -> Vec<String> {
            t.key.iter().map(|&i| t.columns[i].name.clone()).collect()
        };
        if key_names(self) != key_names(other) {
            return Err(format!("table {} has another primary key", self.name));
        }
        Ok(Table {
            name: self.name.clone(),
            columns,
            key: other.key.clone(),
        })
    }

    /// Whether `a` (a row of `self`) and `b` (the same row read through `other`) hold the
    /// same values: JSON documents are compared as JSON (PostgreSQL normalises their text).
    pub fn same_row(&self, other: &Table, a: &[Value], b: &[Value]) -> bool {
        a.len() == b.len()
            && self.columns.iter().enumerate().all(|(i, column)| {
                let json = column.kind == Kind::Json || other.columns[i].kind == Kind::Json;
                match (&a[i], &b[i]) {
                    (Value::Text(x), Value::Text(y)) if json && x != y => {
                        match (
                            serde_json::from_str::<serde_json::Value>(x),
                            serde_json::from_str::<serde_json::Value>(y),
                        ) {
                            (Ok(x), Ok(y)) => x == y,
                            _ => false,
                        }
                    }
                    (x, y) => x == y,
                }
            })
    }
}

/// Row-level access to one catalogue database.
#[derive(Debug, Clone)]
pub enum Rows {
    /// An SQLite file.
    Sqlite(SqlitePool),
    /// A PostgreSQL database.
    Postgres(PgPool),
}

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

impl Rows {
    /// Connects to the catalogue at `url`, which [`super::open`] has migrated already.
    pub async fn connect(url: &str) -> Result<Self, CatalogError> {
        if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)?
                .busy_timeout(Duration::from_secs(30))
                .foreign_keys(true);
            let pool = SqlitePoolOptions::new()
                .max_connections(2)
                .connect_with(options)
                .await?;
            Ok(Self::Sqlite(pool))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pool = PgPoolOptions::new()
                .max_connections(2)
                .acquire_timeout(Duration::from_secs(30))
                .connect(url)
                .await?;
            Ok(Self::Postgres(pool))
        } else {
            let scheme = url.split_once(':').map_or("", |(scheme, _)| scheme);
            Err(CatalogError::UnsupportedUrl(scheme.to_owned()))
        }
    }

    /// Every table a copy carries, in copy order (see [`FIRST`]).
    pub async fn tables(&self) -> Result<Vec<Table>, CatalogError> {
        let mut names: Vec<String> = match self {
            Self::Sqlite(pool) => {
                sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'")
                    .fetch_all(pool)
                    .await?
            }
            Self::Postgres(pool) => {
                sqlx::query_scalar(
                    "SELECT table_name::text FROM information_schema.tables
                     WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
                )
                .fetch_all(pool)
                .await?
            }
        };
        names.retain(|n| {
            !SKIPPED.contains(&n.as_str()) && !SKIPPED_PREFIXES.iter().any(|p| n.starts_with(p))
        });
        names.sort_by_key(|n| {
            let first = FIRST.iter().position(|f| f == n).unwrap_or(FIRST.len());
            (first, n.clone())
        });
        let mut tables = Vec::with_capacity(names.len());
        for name in names {
            tables.push(self.table(&name).await?);
        }
        Ok(tables)
    }

    async fn table(&self, name: &str) -> Result<Table, CatalogError> {
        let corrupt = |what: String| CatalogError::Database(sqlx::Error::Protocol(what));
        let mut columns = Vec::new();
        let mut key: Vec<(i64, usize)> = Vec::new();
        match self {
            Self::Sqlite(pool) => {
                let rows =
                    sqlx::query("SELECT name, type, pk FROM pragma_table_info(?) ORDER BY cid")
                        .bind(name)
                        .fetch_all(pool)
                        .await?;
                for row in rows {
                    let column: String = row.try_get(0)?;
                    let declared: String = row.try_get(1)?;
                    let kind = match declared.to_ascii_uppercase().as_str() {
                        "INTEGER" | "INT" | "BIGINT" | "BOOLEAN" => Kind::Int,
                        "REAL" | "DOUBLE" => Kind::Real,
                        "TEXT" => Kind::Text,
                        "BLOB" => Kind::Bytes,
                        other => {
                            return Err(corrupt(format!(
                                "column {name}.{column} has a type a copy does not know: {other}"
                            )))
                        }
                    };
                    let pk: i64 = row.try_get(2)?;
                    if pk > 0 {
                        key.push((pk, columns.len()));
                    }
                    columns.push(Column {
                        name: column,
                        kind,
                        pg_type: String::new(),
                        identity: false,
                    });
                }
            }
            Self::Postgres(pool) => {
                let rows = sqlx::query(
                    "SELECT column_name::text, data_type::text, is_identity::text = 'YES'
                     FROM information_schema.columns
                     WHERE table_schema = current_schema() AND table_name = $1
                     ORDER BY ordinal_position",
                )
                .bind(name)
                .fetch_all(pool)
                .await?;
                for row in rows {
                    let column: String = row.try_get(0)?;
                    let pg_type: String = row.try_get(1)?;
                    let kind = match pg_type.as_str() {
                        "bigint" | "integer" | "smallint" => Kind::Int,
                        "boolean" => Kind::Bool,
                        "double precision" | "real" => Kind::Real,
                        "text" | "character varying" => Kind::Text,
                        "jsonb" | "json" => Kind::Json,
                        "bytea" => Kind::Bytes,
                        other => {
                            return Err(corrupt(format!(
                                "column {name}.{column} has a type a copy does not know: {other}"
                            )))
                        }
                    };
                    columns.push(Column {
                        name: column,
                        kind,
                        pg_type,
                        identity: row.try_get(2)?,
                    });
                }
                let key_columns: Vec<String> = sqlx::query_scalar(
                    "SELECT a.attname::text FROM pg_index i
                     JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
                     WHERE i.indrelid = $1::regclass AND i.indisprimary
                     ORDER BY array_position(i.indkey::int2[], a.attnum)",
                )
                .bind(quote(name))
                .fetch_all(pool)
                .await?;
                for (n, column) in key_columns.iter().enumerate() {
                    if let Some(i) = columns.iter().position(|c| &c.name == column) {
                        key.push((n as i64, i));
                    }
                }
            }
        }
        if key.is_empty() {
            return Err(corrupt(format!(
                "table {name} has no primary key to copy by"
            )));
        }
        key.sort();
        Ok(Table {
            name: name.to_owned(),
            columns,
            key: key.into_iter().map(|(_, i)| i).collect(),
        })
    }

    /// How many rows `table` holds.
    pub async fn count(&self, table: &Table) -> Result<u64, CatalogError> {
        let sql = format!("SELECT count(*) FROM {}", quote(&table.name));
        let n: i64 = match self {
            Self::Sqlite(pool) => sqlx::query_scalar(&sql).fetch_one(pool).await?,
            Self::Postgres(pool) => sqlx::query_scalar(&sql).fetch_one(pool).await?,
        };
        Ok(n as u64)
    }

    /// Up to `limit` rows of `table` in key order, after the row whose key is `after`.
    pub async fn read(
        &self,
        table: &Table,
        after: Option<&[Value]>,
        limit: usize,
    ) -> Result<Vec<Vec<Value>>, CatalogError> {
        let mut params = Params::new(self);
        let mut sql = format!(
            "SELECT {} FROM {}",
            self.select_list(table),
            quote(&table.name)
        );
        if let Some(after) = after {
            let key = self.key_list(table);
            let values = table
                .key
                .iter()
                .zip(after)
                .map(|(&i, v)| params.push(&table.columns[i], v))
                .collect::<Vec<_>>()
                .join(", ");
            sql.push_str(&format!(" WHERE ({key}) > ({values})"));
        }
        sql.push_str(&format!(" ORDER BY {} LIMIT {limit}", self.key_list(table)));
        self.fetch(table, &sql, params).await
    }

    /// The rows of `table` with the given keys (in no particular order).
    pub async fn lookup(
        &self,
        table: &Table,
        keys: &[Vec<Value>],
    ) -> Result<Vec<Vec<Value>>, CatalogError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut params = Params::new(self);
        let tuples = keys
            .iter()
            .map(|key| {
                let values = table
                    .key
                    .iter()
                    .zip(key)
                    .map(|(&i, v)| params.push(&table.columns[i], v))
                    .collect::<Vec<_>>()
                    .join(", ");
                format!("({values})")
            })
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT {} FROM {} WHERE ({}) IN (VALUES {tuples})",
            self.select_list(table),
            quote(&table.name),
            self.key_list(table),
        );
        self.fetch(table, &sql, params).await
    }

    /// Writes `rows` (values in `table`'s column order) in one transaction: new keys are
    /// inserted, existing ones overwritten, so writing the same rows again changes nothing.
    pub async fn upsert(&self, table: &Table, rows: &[Vec<Value>]) -> Result<(), CatalogError> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut params = Params::new(self);
        let names = table
            .columns
            .iter()
            .map(|c| quote(&c.name))
            .collect::<Vec<_>>()
            .join(", ");
        let tuples = rows
            .iter()
            .map(|row| {
                let values = table
                    .columns
                    .iter()
                    .zip(row)
                    .map(|(c, v)| params.push(c, v))
                    .collect::<Vec<_>>()
                    .join(", ");
                format!("({values})")
            })
            .collect::<Vec<_>>()
            .join(", ");
        let overriding = match self {
            Self::Postgres(_) if table.columns.iter().any(|c| c.identity) => {
                " OVERRIDING SYSTEM VALUE"
            }
            _ => "",
        };
        let updates = table
            .columns
            .iter()
            .enumerate()
            .filter(|(i, _)| !table.key.contains(i))
            .map(|(_, c)| format!("{0} = excluded.{0}", quote(&c.name)))
            .collect::<Vec<_>>();
        let on_conflict = if updates.is_empty() {
            "DO NOTHING".to_owned()
        } else {
            format!("DO UPDATE SET {}", updates.join(", "))
        };
        let sql = format!(
            "INSERT INTO {} ({names}){overriding} VALUES {tuples} ON CONFLICT ({}) {on_conflict}",
            quote(&table.name),
            self.key_list(table),
        );
        match (self, params) {
            (Self::Sqlite(pool), Params::Sqlite(values)) => {
                let mut tx = pool.begin().await?;
                let mut query = sqlx::query(&sql);
                for v in values {
                    query = bind_sqlite(query, v);
                }
                query.execute(&mut *tx).await?;
                tx.commit().await?;
            }
            (Self::Postgres(pool), Params::Postgres(values)) => {
                let mut tx = pool.begin().await?;
                let mut query = sqlx::query(&sql);
                for v in values {
                    query = bind_postgres(query, v);
                }
                query.execute(&mut *tx).await?;
                tx.commit().await?;
            }
            _ => unreachable!("parameters are made for their backend"),
        }
        Ok(())
    }

    /// Brings generated keys past the copied ones (PostgreSQL identity columns), so the next
    /// row a node inserts does not collide with a copied one.
    pub async fn finish(&self, table: &Table) -> Result<(), CatalogError> {
        let Self::Postgres(pool) = self else {
            return Ok(());
        };
        for column in table.columns.iter().filter(|c| c.identity) {
            let sql = format!(
                "SELECT setval(pg_get_serial_sequence($1, $2), max({col}))
                 FROM {table} HAVING max({col}) IS NOT NULL",
                col = quote(&column.name),
                table = quote(&table.name),
            );
            sqlx::query(&sql)
                .bind(quote(&table.name))
                .bind(&column.name)
                .fetch_optional(pool)
                .await?;
        }
        Ok(())
    }

    fn select_list(&self, table: &Table) -> String {
        table
            .columns
            .iter()
            .map(|c| match (self, c.kind) {
                (Self::Postgres(_), Kind::Int) => format!("{}::bigint", quote(&c.name)),
                (Self::Postgres(_), Kind::Real) => format!("{}::float8", quote(&c.name)),
                (Self::Postgres(_), Kind::Json) => format!("{}::text", quote(&c.name)),
                _ => quote(&c.name),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn key_list(&self, table: &Table) -> String {
        table
            .key
            .iter()
            .map(|&i| quote(&table.columns[i].name))
            .collect::<Vec<_>>()
            .join(", ")
    }

    async fn fetch(
        &self,
        table: &Table,
        sql: &str,
        params: Params,
    ) -> Result<Vec<Vec<Value>>, CatalogError> {
        match (self, params) {
            (Self::Sqlite(pool), Params::Sqlite(values)) => {
                let mut query = sqlx::query(sql);
                for v in values {
                    query = bind_sqlite(query, v);
                }
                let rows = query.fetch_all(pool).await?;
                rows.iter().map(|r| sqlite_row(table, r)).collect()
            }
            (Self::Postgres(pool), Params::Postgres(values)) => {
                let mut query = sqlx::query(sql);
                for v in values {
                    query = bind_postgres(query, v);
                }
                let rows = query.fetch_all(pool).await?;
                rows.iter().map(|r| postgres_row(table, r)).collect()
            }
            _ => unreachable!("parameters are made for their backend"),
        }
    }
}

/// Query parameters collected while the SQL text is written, with each placeholder in its
/// backend's spelling.
enum Params {
    Sqlite(Vec<Value>),
    Postgres(Vec<(Value, Kind)>),
}

impl Params {
    fn new(rows: &Rows) -> Self {
        match rows {
            Rows::Sqlite(_) => Self::Sqlite(Vec::new()),
            Rows::Postgres(_) => Self::Postgres(Vec::new()),
        }
    }

    /// Adds `value` for `column` and returns its placeholder.
    fn push(&mut self, column: &Column, value: &Value) -> String {
        match self {
            Self::Sqlite(values) => {
                values.push(value.clone());
                "?".to_owned()
            }
            Self::Postgres(values) => {
                values.push((value.clone(), column.kind));
                format!("CAST(${} AS {})", values.len(), column.pg_type)
            }
        }
    }
}

type SqliteQuery<'q> = sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>>;
type PgQuery<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;

fn bind_sqlite(query: SqliteQuery<'_>, value: Value) -> SqliteQuery<'_> {
    match value {
        Value::Null => query.bind(None::<i64>),
        Value::Int(v) => query.bind(v),
        Value::Real(v) => query.bind(v),
        Value::Text(v) => query.bind(v),
        Value::Bytes(v) => query.bind(v),
    }
}

fn bind_postgres(query: PgQuery<'_>, (value, kind): (Value, Kind)) -> PgQuery<'_> {
    match (value, kind) {
        (Value::Null, _) => query.bind(None::<String>),
        (Value::Int(v), Kind::Bool) => query.bind(v != 0),
        (Value::Int(v), _) => query.bind(v),
        (Value::Real(v), _) => query.bind(v),
        (Value::Text(v), _) => query.bind(v),
        (Value::Bytes(v), _) => query.bind(v),
    }
}

fn sqlite_row(table: &Table, row: &SqliteRow) -> Result<Vec<Value>, CatalogError> {
    (0..table.columns.len())
        .map(|i| {
            let raw = row.try_get_raw(i)?;
            if raw.is_null() {
                return Ok(Value::Null);
            }
            // SQLite keeps each value's own type; read what is there.
            let storage = raw.type_info().name().to_owned();
            Ok(match storage.as_str() {
                "INTEGER" => Value::Int(row.try_get(i)?),
                "REAL" => Value::Real(row.try_get(i)?),
                "BLOB" => Value::Bytes(row.try_get(i)?),
                _ => Value::Text(row.try_get(i)?),
            })
        })
        .collect()
}

fn postgres_row(table: &Table, row: &PgRow) -> Result<Vec<Value>, CatalogError> {
    table
        .columns
        .iter()
        .enumerate()
        .map(|(i, column)| {
            let value = match column.kind {
                Kind::Int => row.try_get::<Option<i64>, _>(i)?.map(Value::Int),
                Kind::Bool => row
                    .try_get::<Option<bool>, _>(i)?
                    .map(|b| Value::Int(i64::from(b))),
                Kind::Real => row.try_get::<Option<f64>, _>(i)?.map(Value::Real),
                Kind::Text | Kind::Json => row.try_get::<Option<String>, _>(i)?.map(Value::Text),
                Kind::Bytes => row.try_get::<Option<Vec<u8>>, _>(i)?.map(Value::Bytes),
            };
            Ok(value.unwrap_or(Value::Null))
        })
        .collect()
}
