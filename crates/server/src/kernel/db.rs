//! The database: one code path over SQLite and PostgreSQL.
//!
//! Queries are written once in the SQL both dialects share (`$1` placeholders, `RETURNING`,
//! `ON CONFLICT`) and run through [`Db`] or [`Tx`], which bind the same [`Arg`]s on whichever
//! backend is connected. Rows decode into structs deriving `sqlx::FromRow` with types both
//! backends share (`i64`, `String`, `bool`, `Option`). Per-backend SQL is only written where
//! the dialects truly differ, by matching on [`Db::backend`].

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, FromRow, Postgres, Sqlite, Transaction};
use std::str::FromStr;
use std::time::Duration;

/// A connection pool to the configured database.
#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Which database engine is behind a [`Db`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A query parameter, bound the same way on both backends.
///
/// Nulls carry their type because PostgreSQL checks parameter types.
#[derive(Clone, Debug)]
pub enum Arg {
    Int(i64),
    OptInt(Option<i64>),
    Text(String),
    OptText(Option<String>),
    Bool(bool),
}

impl From<i64> for Arg {
    fn from(v: i64) -> Self {
        Arg::Int(v)
    }
}
impl From<Option<i64>> for Arg {
    fn from(v: Option<i64>) -> Self {
        Arg::OptInt(v)
    }
}
impl From<String> for Arg {
    fn from(v: String) -> Self {
        Arg::Text(v)
    }
}
impl From<&str> for Arg {
    fn from(v: &str) -> Self {
        Arg::Text(v.to_owned())
    }
}
impl From<&String> for Arg {
    fn from(v: &String) -> Self {
        Arg::Text(v.clone())
    }
}
impl From<Option<String>> for Arg {
    fn from(v: Option<String>) -> Self {
        Arg::OptText(v)
    }
}
impl From<Option<&str>> for Arg {
    fn from(v: Option<&str>) -> Self {
        Arg::OptText(v.map(str::to_owned))
    }
}
impl From<bool> for Arg {
    fn from(v: bool) -> Self {
        Arg::Bool(v)
    }
}

/// Builds a `Vec<Arg>`: `args![id, name, None::<i64>]`.
#[macro_export]
macro_rules! args {
    ($($value:expr),* $(,)?) => { vec![$($crate::kernel::db::Arg::from($value)),*] };
}

/// A row type that decodes on both backends.
pub trait Record:
    for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin
{
}
impl<T> Record for T where
    T: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin
{
}

macro_rules! bind_all {
    ($query:expr, $args:expr) => {{
        let mut q = $query;
        for arg in $args {
            q = match arg {
                Arg::Int(v) => q.bind(v),
                Arg::OptInt(v) => q.bind(v),
                Arg::Text(v) => q.bind(v),
                Arg::OptText(v) => q.bind(v),
                Arg::Bool(v) => q.bind(v),
            };
        }
        q
    }};
}

/// The query methods of [`Db`] and [`Tx`], written once: `$exec` names the executor
/// expression each backend's arm hands to sqlx.
macro_rules! query_methods {
    (shared) => { query_methods!(@emit [&self] self on_pool); };
    (exclusive) => { query_methods!(@emit [&mut self] self on_tx); };
    (@emit [$($recv:tt)*] $me:tt $dispatch:ident) => {
        /// Runs a statement; returns the number of rows it changed.
        pub async fn execute($($recv)*, sql: &str, args: Vec<Arg>) -> Result<u64, sqlx::Error> {
            let sql = AssertSqlSafe(sql.to_owned());
            $dispatch!($me, exec, {
                bind_all!(sqlx::query(sql), args)
                    .execute(exec)
                    .await
                    .map(|r| r.rows_affected())
            })
        }

        /// All rows of a query.
        pub async fn fetch_all<T: Record>(
            $($recv)*,
            sql: &str,
            args: Vec<Arg>,
        ) -> Result<Vec<T>, sqlx::Error> {
            let sql = AssertSqlSafe(sql.to_owned());
            $dispatch!($me, exec, {
                bind_all!(sqlx::query_as::<_, T>(sql), args).fetch_all(exec).await
            })
        }

        /// The first row of a query, if any.
        pub async fn fetch_optional<T: Record>(
            $($recv)*,
            sql: &str,
            args: Vec<Arg>,
        ) -> Result<Option<T>, sqlx::Error> {
            let sql = AssertSqlSafe(sql.to_owned());
            $dispatch!($me, exec, {
                bind_all!(sqlx::query_as::<_, T>(sql), args)
                    .fetch_optional(exec)
                    .await
            })
        }

        /// The first row of a query, which must exist.
        pub async fn fetch_one<T: Record>(
            $($recv)*,
            sql: &str,
            args: Vec<Arg>,
        ) -> Result<T, sqlx::Error> {
            let sql = AssertSqlSafe(sql.to_owned());
            $dispatch!($me, exec, {
                bind_all!(sqlx::query_as::<_, T>(sql), args).fetch_one(exec).await
            })
        }

        /// A single integer (a count, an id); `None` when no row or NULL.
        pub async fn fetch_i64(
            $($recv)*,
            sql: &str,
            args: Vec<Arg>,
        ) -> Result<Option<i64>, sqlx::Error> {
            let sql = AssertSqlSafe(sql.to_owned());
            $dispatch!($me, exec, {
                bind_all!(sqlx::query_scalar::<_, Option<i64>>(sql), args)
                    .fetch_optional(exec)
                    .await
                    .map(Option::flatten)
            })
        }
    };
}

macro_rules! on_pool {
    ($self:expr, $exec:ident, $body:expr) => {
        match $self {
            Db::Sqlite(pool) => {
                let $exec = pool;
                $body
            }
            Db::Postgres(pool) => {
                let $exec = pool;
                $body
            }
        }
    };
}

macro_rules! on_tx {
    ($self:expr, $exec:ident, $body:expr) => {
        match $self {
            Tx::Sqlite(tx) => {
                let $exec = &mut **tx;
                $body
            }
            Tx::Postgres(tx) => {
                let $exec = &mut **tx;
                $body
            }
        }
    };
}

impl Db {
    /// Connects to `url` (`sqlite://file.db` or `postgres://...`), creating a SQLite file
    /// that does not exist yet.
    pub async fn connect(url: &str) -> Result<Db, sqlx::Error> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            // JIT compilation costs more than it saves on short OLTP queries.
            let options = PgConnectOptions::from_str(url)?.options([("jit", "off")]);
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(options)
                .await?;
            Ok(Db::Postgres(pool))
        } else if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10));
            let pool = SqlitePoolOptions::new()
                .max_connections(8)
                .connect_with(options)
                .await?;
            Ok(Db::Sqlite(pool))
        } else {
            Err(sqlx::Error::Configuration(
                format!("unsupported database URL {url:?}: use sqlite://FILE or postgres://...")
                    .into(),
            ))
        }
    }

    pub fn backend(&self) -> Backend {
        match self {
            Db::Sqlite(_) => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    /// Brings the schema up to date; safe to run by several instances at once.
    pub async fn migrate(&self) -> Result<(), sqlx::migrate::MigrateError> {
        match self {
            Db::Sqlite(pool) => sqlx::migrate!("../../migrations/sqlite").run(pool).await,
            Db::Postgres(pool) => sqlx::migrate!("../../migrations/postgres").run(pool).await,
        }
    }

    /// Starts a write transaction. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`) so two writers queue instead of failing to upgrade.
    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        Ok(match self {
            Db::Sqlite(pool) => Tx::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?),
            Db::Postgres(pool) => Tx::Postgres(pool.begin().await?),
        })
    }

    pub async fn close(&self) {
        match self {
            Db::Sqlite(pool) => pool.close().await,
            Db::Postgres(pool) => pool.close().await,
        }
    }

    query_methods!(shared);
}

/// An open transaction: commit it, or drop it to roll back.
pub enum Tx {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

impl Tx {
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(tx) => tx.commit().await,
            Tx::Postgres(tx) => tx.commit().await,
        }
    }

    query_methods!(exclusive);
}

/// Does this error come from a UNIQUE constraint?
pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(e) if e.is_unique_violation())
}

/// The current time as stored: UTC microseconds since the Unix epoch.
pub fn now() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

/// Escapes `%`, `_` and `\` so user text matches literally inside a `LIKE ... ESCAPE '\'`.
pub fn like_contains(search: &str) -> String {
    let mut out = String::with_capacity(search.len() + 2);
    out.push('%');
    for c in search.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}
