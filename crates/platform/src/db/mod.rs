//! One database layer over SQLite (default, a file in the data dir) and PostgreSQL (chosen by
//! URL). The backend is picked at run time from the URL; a malformed URL, an unknown scheme, a
//! SQLite file that is not there (unless asked to create it) or an unreachable server stops with
//! a message that says which, so a typo never creates an empty database somewhere unexpected.

pub mod migrate;
mod writer;

use writer::Writer;
pub use writer::{WriteTx, run_all};

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::events::{EventBus, PG_CHANNEL};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    DbErr, Statement, TransactionTrait,
};

/// The size a WAL's file is cut back to when SQLite writes it from its start again.
const WAL_LIMIT_BYTES: i64 = writer::WAL_LIMIT_PAGES * 4096;

/// How long a SQLite writer waits for its turn before giving up with an error.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the data lives, parsed from a URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbTarget {
    Sqlite { path: PathBuf, create: bool },
    Postgres { url: String },
}

#[derive(Debug, thiserror::Error)]
pub enum DbUrlError {
    #[error("the database URL is empty")]
    Empty,
    #[error(
        "the database URL `{0}` is not understood: use sqlite://FILE or postgres://USER@HOST:PORT/DB"
    )]
    Scheme(String),
    #[error(
        "the SQLite file {0} does not exist; check the path, or add ?mode=rwc to the URL to create it"
    )]
    SqliteMissing(PathBuf),
    #[error("the folder {0} for the SQLite file does not exist")]
    SqliteFolderMissing(PathBuf),
    #[error("the PostgreSQL URL is malformed: {0}")]
    PostgresMalformed(String),
}

impl DbTarget {
    /// Parses a database URL. `sqlite://` paths are taken as given (relative to the working
    /// directory); `?mode=rwc` allows creating the file.
    pub fn parse(url: &str) -> Result<DbTarget, DbUrlError> {
        let url = url.trim();
        if url.is_empty() {
            return Err(DbUrlError::Empty);
        }
        if let Some(rest) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
            let create = query.split('&').any(|kv| kv == "mode=rwc");
            if path.is_empty() {
                return Err(DbUrlError::Scheme(url.to_string()));
            }
            return Ok(DbTarget::Sqlite {
                path: PathBuf::from(path),
                create,
            });
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let parsed =
                url::Url::parse(url).map_err(|e| DbUrlError::PostgresMalformed(e.to_string()))?;
            if parsed.host_str().is_none_or(str::is_empty) {
                return Err(DbUrlError::PostgresMalformed("no host".into()));
            }
            return Ok(DbTarget::Postgres {
                url: url.to_string(),
            });
        }
        let shown = url.split('@').next_back().unwrap_or(url);
        Err(DbUrlError::Scheme(shown.to_string()))
    }

    /// The default: `<data-dir>/balaikota.db`, created if missing.
    pub fn default_sqlite(data_dir: &Path) -> DbTarget {
        DbTarget::Sqlite {
            path: data_dir.join("balaikota.db"),
            create: true,
        }
    }

    /// A description safe to print (no password).
    pub fn describe(&self) -> String {
        match self {
            DbTarget::Sqlite { path, .. } => format!("SQLite {}", path.display()),
            DbTarget::Postgres { url } => match url::Url::parse(url) {
                Ok(u) => format!(
                    "PostgreSQL {}@{}:{}{}",
                    u.username(),
                    u.host_str().unwrap_or(""),
                    u.port().unwrap_or(5432),
                    u.path()
                ),
                Err(_) => "PostgreSQL".into(),
            },
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The application's handle on the database. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Db {
    conn: DatabaseConnection,
    backend: Backend,
    events: EventBus,
    /// The NOTIFY channel (one per schema, so parallel test schemas do not hear each other).
    channel: String,
    /// Which database this is (file, or server and schema), for caches kept per database.
    id: String,
    /// SQLite's one writer (none on PostgreSQL).
    writer: Option<Writer>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error(transparent)]
    Url(#[from] DbUrlError),
    #[error("cannot open the database ({target}): {source}")]
    Open { target: String, source: DbErr },
}

impl Db {
    pub async fn connect(target: &DbTarget) -> Result<Db, ConnectError> {
        Self::connect_with_schema(target, None).await
    }

    /// Connects; on PostgreSQL, `schema` sets the search path (tests use a schema each).
    pub async fn connect_with_schema(
        target: &DbTarget,
        schema: Option<&str>,
    ) -> Result<Db, ConnectError> {
        let describe = target.describe();
        let open_err = |source| ConnectError::Open {
            target: describe.clone(),
            source,
        };
        match target {
            DbTarget::Sqlite { path, create } => {
                if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty())
                    && !parent.exists()
                {
                    return Err(DbUrlError::SqliteFolderMissing(parent.to_path_buf()).into());
                }
                if !*create && !path.exists() {
                    return Err(DbUrlError::SqliteMissing(path.clone()).into());
                }
                // No connection copies the WAL into the database file inside a commit (SQLite's
                // default past a thousand pages): the writer's commits, the only ones, would
                // pay for it in the turn. The checkpointer does it
                // (`writer::Writer::spawn_checkpointer`).
                let pool = |connections: u32| {
                    let mut opts = ConnectOptions::new(format!("sqlite://{}", path.display()));
                    let create = *create;
                    // A file cannot go stale under a pooled connection: no ping on checkout
                    // (it would cost a trip to the connection's thread before every statement).
                    opts.max_connections(connections)
                        .min_connections(1)
                        .test_before_acquire(false)
                        .acquire_timeout(Duration::from_secs(10))
                        .sqlx_logging(std::env::var_os("BALAIKOTA_SQL_LOG").is_some())
                        .map_sqlx_sqlite_opts(move |o| {
                            o.create_if_missing(create)
                                .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                                .synchronous(sqlx::sqlite::SqliteSynchronous::Normal)
                                .busy_timeout(BUSY_TIMEOUT)
                                .foreign_keys(true)
                                .pragma("wal_autocheckpoint", "0")
                                .pragma("journal_size_limit", WAL_LIMIT_BYTES.to_string())
                        });
                    opts
                };
                // Readers; writes have a connection of their own (`writer`): four in all, as before.
                let conn = Database::connect(pool(3)).await.map_err(open_err)?;
                let writer =
                    Writer::new(Database::connect(pool(1)).await.map_err(open_err)?, pool(1));
                writer.spawn_checkpointer(conn.clone());
                Ok(Db {
                    conn,
                    backend: Backend::Sqlite,
                    events: EventBus::default(),
                    channel: String::new(),
                    id: describe,
                    writer: Some(writer),
                })
            }
            DbTarget::Postgres { url } => {
                let mut opts = ConnectOptions::new(url.clone());
                // Ping a pooled connection only when it has been idle long enough that the
                // server or a firewall may have dropped it, not before every statement.
                opts.max_connections(10)
                    .min_connections(1)
                    .test_before_acquire_if_idle_for(Duration::from_secs(30))
                    .connect_timeout(Duration::from_secs(5))
                    .acquire_timeout(Duration::from_secs(10))
                    .sqlx_logging(std::env::var_os("BALAIKOTA_SQL_LOG").is_some());
                if let Some(schema) = schema {
                    opts.set_schema_search_path(schema.to_string());
                }
                let conn = Database::connect(opts).await.map_err(open_err)?;
                let channel = match schema {
                    Some(s) => format!("{PG_CHANNEL}_{s}"),
                    None => PG_CHANNEL.to_string(),
                };
                let events = EventBus::default();
                events.spawn_pg_listener(
                    conn.get_postgres_connection_pool().clone(),
                    channel.clone(),
                );
                Ok(Db {
                    conn,
                    backend: Backend::Postgres,
                    events,
                    id: format!("{describe}#{channel}"),
                    channel,
                    writer: None,
                })
            }
        }
    }

    pub fn conn(&self) -> &DatabaseConnection {
        &self.conn
    }

    pub fn events(&self) -> &EventBus {
        &self.events
    }

    /// Which database this is (for caches kept per database).
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn notify_channel(&self) -> &str {
        &self.channel
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn db_backend(&self) -> DbBackend {
        self.conn.get_database_backend()
    }

    /// Begins a transaction that will write. On SQLite it first waits for the writer's turn in
    /// this process (at most as long as the busy timeout), then joins the group of writes that
    /// will commit together, or takes the write lock at once (`BEGIN IMMEDIATE`): a read that
    /// turns into a write never fails, and writers queue in order instead of sleeping in
    /// SQLite's busy handler. See [`writer`] for the group commit.
    pub async fn begin_write(&self) -> Result<WriteTx, DbErr> {
        match &self.writer {
            Some(w) => w.begin(BUSY_TIMEOUT).await,
            None => Ok(WriteTx::alone(self.conn.begin().await?)),
        }
    }

    /// Runs a write that stands on its own (what would otherwise be one autocommit statement
    /// on [`Db::conn`]) in a write transaction of its own, and commits it. On SQLite it so
    /// queues for the writer's turn with every other write: on a pooled connection it would
    /// wait for SQLite's write lock in the busy handler, which sleeps between tries and, while
    /// group commits keep the lock busy, can miss every gap until the timeout (a login or a
    /// delivery's "sent" refused with "database is locked"). Not to be called while this task
    /// holds a write transaction: it would wait for its own turn.
    pub async fn write<T>(
        &self,
        f: impl AsyncFnOnce(&DatabaseTransaction) -> Result<T, DbErr>,
    ) -> Result<T, DbErr> {
        let tx = self.begin_write().await?;
        match f(&tx).await {
            Ok(v) => {
                tx.commit().await?;
                Ok(v)
            }
            Err(e) => {
                let _ = tx.rollback().await;
                Err(e)
            }
        }
    }

    /// How long, in all, write transactions have held the SQLite writer's turn (from taking it,
    /// before `BEGIN`, to letting it go, after the commit or rollback). While it is held no
    /// other write can start, so its growth over a stretch of time says how busy the one writer
    /// was. A turn held now counts as far as it has gone, so a turn that spans two readings is
    /// shared between the stretches before and after. `None` on PostgreSQL, whose writers do
    /// not take turns.
    pub fn writer_busy(&self) -> Option<Duration> {
        self.writer.as_ref().map(Writer::busy)
    }

    /// Write transactions the SQLite writer has saved, and the commits that saved them (fewer
    /// when writes shared a commit). `None` on PostgreSQL.
    pub fn writer_saved(&self) -> Option<(u64, u64)> {
        self.writer.as_ref().map(Writer::saved)
    }

    /// Checkpoints the SQLite checkpointer has run (`None` on PostgreSQL).
    pub fn checkpoints(&self) -> Option<u64> {
        self.writer.as_ref().map(Writer::checkpoints)
    }

    /// On SQLite, copies every committed page into the database file with the writer's turn
    /// held (what the checkpointer does when the WAL grows past 16 MiB), so that the next write
    /// starts the WAL from its beginning and cuts its file back: after a bulk load, say, so
    /// that the writes after it do not wait for its checkpoint. Returns whether it caught up
    /// (a reader still on an older snapshot can keep it from it). Nothing to do on PostgreSQL.
    pub async fn catch_up_wal(&self) -> Result<bool, DbErr> {
        match &self.writer {
            Some(w) => w.catch_up(&self.conn).await,
            None => Ok(true),
        }
    }

    /// Keeps SQLite's query planner informed of the tables as they grow: `PRAGMA optimize`
    /// runs `ANALYZE`, on a sample of each index (`analysis_limit`), only on the tables that
    /// were never analysed or whose size changed a lot since. SQLite's advice for connections
    /// that stay open: once when opened, then every few hours (the server's housekeeping does
    /// both). It writes SQLite's statistics tables, so it takes the writer's turn. On
    /// PostgreSQL autovacuum keeps the statistics: nothing to do.
    pub async fn optimize(&self) -> Result<(), DbErr> {
        if self.backend != Backend::Sqlite {
            return Ok(());
        }
        self.write(async |tx| {
            tx.execute_unprepared("PRAGMA analysis_limit = 1000; PRAGMA optimize = 0x10002")
                .await
                .map(|_| ())
        })
        .await
    }

    /// Checkpoints that caught up with the last commit with the writer's turn held: when the
    /// WAL had grown past its limit, or for [`Db::catch_up_wal`] (`None` on PostgreSQL).
    pub fn wal_catch_ups(&self) -> Option<u64> {
        self.writer.as_ref().map(Writer::catch_ups)
    }

    /// Write transactions waiting for the SQLite writer's turn now (0 on PostgreSQL).
    pub fn writers_queued(&self) -> usize {
        self.writer.as_ref().map_or(0, Writer::queued)
    }

    /// A trivial query, for `/readyz`.
    pub async fn ping(&self) -> Result<(), DbErr> {
        self.conn
            .execute_raw(Statement::from_string(self.db_backend(), "SELECT 1"))
            .await
            .map(|_| ())
    }

    pub async fn close(self) {
        if let Some(w) = self.writer {
            w.close().await;
        }
        let _ = self.conn.close().await;
    }
}

/// A column of a page fetched by [`json_page`]: how the database puts it into JSON.
#[derive(Debug, Clone, Copy)]
pub enum JsonCol<'a> {
    /// Text, numbers and NULL go into JSON as they are.
    Plain(&'a str),
    /// A UUID: SQLite keeps it as a 16-byte blob, which JSON cannot hold, so it goes in as hex.
    Uuid(&'a str),
}

/// Runs `select` and brings its rows back as one JSON text the database builds (an array of
/// arrays, in `order`), deserialized into `T` (a struct reads an array field by field, in the
/// order of `cols`). A 1,000-row page then crosses from the driver once instead of 1,000 times,
/// value by value: on SQLite every row otherwise passes the driver's worker thread on its own.
/// `cols` and `order` name columns of `select`'s result; `order` is e.g. `created_us DESC`.
pub async fn json_page<T: serde::de::DeserializeOwned>(
    conn: &impl ConnectionTrait,
    select: &sea_orm::sea_query::SelectStatement,
    cols: &[JsonCol<'_>],
    order: &str,
) -> Result<Vec<T>, DbErr> {
    let backend = conn.get_database_backend();
    let inner = backend.build(select);
    let sqlite = backend == DbBackend::Sqlite;
    let items = cols
        .iter()
        .map(|c| match (c, sqlite) {
            (JsonCol::Plain(n), _) => format!("t.\"{n}\""),
            (JsonCol::Uuid(n), true) => format!("nullif(lower(hex(t.\"{n}\")), '')"),
            (JsonCol::Uuid(n), false) => format!("t.\"{n}\""),
        })
        .collect::<Vec<_>>()
        .join(", ");
    let (agg, arr, cast) = if sqlite {
        ("json_group_array", "json_array", "")
    } else {
        ("json_agg", "json_build_array", "::text")
    };
    let sql = format!(
        "SELECT {agg}({arr}({items}) ORDER BY t.{order}){cast} AS page FROM ({}) t",
        inner.sql
    );
    let stmt =
        Statement::from_sql_and_values(backend, sql, inner.values.map(|v| v.0).unwrap_or_default());
    let text: Option<String> = match conn.query_one_raw(stmt).await? {
        Some(row) => row.try_get("", "page")?,
        None => None,
    };
    match text {
        None => Ok(Vec::new()),
        Some(t) => serde_json::from_str(&t)
            .map_err(|e| DbErr::Custom(format!("a JSON page did not read back: {e}"))),
    }
}

/// A statement written with PostgreSQL's numbered parameters (`$1`, `$2`, … in the order of
/// `values`, each usable more than once), for either backend. On SQLite each `$n` becomes a
/// plain `?` with its value repeated in place: a numbered `?n` would count from the first
/// statement's parameters in a call of several statements ([`crate::audit::Tx::later`]).
/// `sql` must not hold a `$` inside a string literal.
pub fn numbered(backend: DbBackend, sql: &str, values: Vec<sea_orm::Value>) -> Statement {
    if backend != DbBackend::Sqlite {
        return Statement::from_sql_and_values(backend, sql, values);
    }
    let (mut out, mut used) = (String::with_capacity(sql.len()), Vec::new());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        let mut digits = String::new();
        while c == '$'
            && let Some(d) = chars.next_if(char::is_ascii_digit)
        {
            digits.push(d);
        }
        match digits.parse::<usize>().ok().and_then(|n| n.checked_sub(1)) {
            Some(i) => {
                out.push('?');
                used.push(values.get(i).cloned().unwrap_or(sea_orm::Value::Bool(None)));
            }
            None => {
                out.push(c);
                out.push_str(&digits);
            }
        }
    }
    Statement::from_sql_and_values(backend, out, used)
}

/// Tells whether a database error is a unique-constraint violation (both backends).
/// The furthest a listing may skip: SQL's `OFFSET` is a signed 64-bit number, and a larger one
/// from a query string must give an empty page, not a failed bind.
pub fn offset(n: u64) -> u64 {
    n.min(i64::MAX as u64)
}

pub fn is_unique_violation(e: &DbErr) -> bool {
    let s = e.to_string();
    s.contains("UNIQUE constraint failed")
        || s.contains("duplicate key value violates unique constraint")
}

/// A case-insensitive "contains" that behaves the same on SQLite and PostgreSQL.
pub fn icontains<C: sea_orm::ColumnTrait>(col: C, text: &str) -> sea_orm::sea_query::SimpleExpr {
    use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr};
    let escaped = text
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    Expr::expr(Func::lower(Expr::col(col))).like(LikeExpr::new(format!("%{escaped}%")).escape('\\'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_parameters_become_plain_ones_on_sqlite() {
        let v = |s: &str| sea_orm::Value::from(s.to_string());
        let sql = "UPDATE t SET a = $2, b = $1 WHERE c = $1 AND d = '$'";
        let s = numbered(DbBackend::Sqlite, sql, vec![v("x"), v("y")]);
        assert_eq!(s.sql, "UPDATE t SET a = ?, b = ? WHERE c = ? AND d = '$'");
        assert_eq!(s.values.map(|x| x.0), Some(vec![v("y"), v("x"), v("x")]));
        let p = numbered(DbBackend::Postgres, sql, vec![v("x"), v("y")]);
        assert_eq!(
            (p.sql.as_str(), p.values.map(|x| x.0.len())),
            (sql, Some(2))
        );
    }

    #[test]
    fn urls_parse_or_say_why_not() {
        assert_eq!(
            DbTarget::parse("sqlite://data/x.db?mode=rwc").ok(),
            Some(DbTarget::Sqlite {
                path: "data/x.db".into(),
                create: true
            })
        );
        assert!(matches!(
            DbTarget::parse("sqlite:///tmp/a.db"),
            Ok(DbTarget::Sqlite { create: false, .. })
        ));
        assert!(matches!(
            DbTarget::parse("postgres://u@h:5432/d"),
            Ok(DbTarget::Postgres { .. })
        ));
        assert!(
            matches!(DbTarget::parse("mysql://u:secret@h/d"), Err(DbUrlError::Scheme(s)) if !s.contains("secret"))
        );
        assert!(matches!(
            DbTarget::parse("postgres://"),
            Err(DbUrlError::PostgresMalformed(_))
        ));
        assert!(matches!(DbTarget::parse(""), Err(DbUrlError::Empty)));
        assert!(matches!(
            DbTarget::parse("data.db"),
            Err(DbUrlError::Scheme(_))
        ));
        assert_eq!(
            DbTarget::parse("postgres://bob:pw@db.local/city")
                .map(|t| t.describe())
                .ok(),
            Some("PostgreSQL bob@db.local:5432/city".into())
        );
    }
}
