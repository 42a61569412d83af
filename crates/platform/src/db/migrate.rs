//! Schema migrations, written once for both backends with sea-query's builders (tables come from
//! the SeaORM entities themselves, so the model and the DDL cannot drift apart). The platform
//! and every app contribute an ordered list; applied ids are kept in `balaikota_migrations`.
//! On PostgreSQL an advisory lock makes concurrent instances migrate one at a time.

use sea_orm::sea_query::{Index, IndexCreateStatement, TableCreateStatement};
use sea_orm::{ConnectionTrait, DbBackend, DbErr, EntityTrait, Schema, Statement};

use super::{Backend, Db};

/// One statement of a migration.
pub enum Step {
    Table(Box<TableCreateStatement>),
    Index(Box<IndexCreateStatement>),
    Sql(String),
    /// A column added to an existing table, unless it is there already: tables are created from
    /// today's entities, so a fresh database has it from its first migration while an older one
    /// gets it here. `definition` is portable SQL, e.g. `VARCHAR(20) NOT NULL DEFAULT ''`.
    AddColumn {
        table: &'static str,
        column: &'static str,
        definition: &'static str,
    },
}

/// A named migration. Ids are global and must never change once released: prefix them with the
/// owner (`platform.0001_accounts`, `masyarakat.0001_reports`).
pub struct Migration {
    pub id: &'static str,
    pub steps: fn(&Schema) -> Vec<Step>,
}

/// A table made from an entity, with the entity's own single-column indexes.
pub fn table<E: EntityTrait>(schema: &Schema, e: E) -> Vec<Step> {
    let mut steps = vec![Step::Table(Box::new(schema.create_table_from_entity(e)))];
    steps.extend(
        schema
            .create_index_from_entity(e)
            .into_iter()
            .map(|i| Step::Index(Box::new(i))),
    );
    steps
}

/// An index over several columns (city_code first, by convention).
pub fn index(name: &str, table: &str, columns: &[&str], unique: bool) -> Step {
    let mut idx = Index::create();
    idx.name(name).table(sea_orm::sea_query::Alias::new(table));
    for c in columns {
        idx.col(sea_orm::sea_query::Alias::new(*c));
    }
    if unique {
        idx.unique();
    }
    Step::Index(Box::new(idx.to_owned()))
}

const LOCK_KEY: i64 = 0x0062_616c_6169; // "balai"

/// Applies every migration not yet applied, each in its own transaction. Returns the ids applied.
/// On PostgreSQL each transaction first takes a transaction-scoped advisory lock and checks again
/// whether the migration is applied, so instances starting together migrate one at a time (a
/// session-level lock would be taken and released on different pooled connections).
pub async fn run(db: &Db, migrations: &[Migration]) -> Result<Vec<&'static str>, DbErr> {
    let backend = db.db_backend();
    let schema = Schema::new(backend);
    {
        let tx = db.begin_write().await?;
        lock(db, &tx).await?;
        tx.execute_unprepared(
            "CREATE TABLE IF NOT EXISTS balaikota_migrations (id VARCHAR(200) PRIMARY KEY, applied_at VARCHAR(40) NOT NULL)",
        )
        .await?;
        tx.commit().await?;
    }
    let mut applied = Vec::new();
    for m in migrations {
        let tx = db.begin_write().await?;
        lock(db, &tx).await?;
        let done = tx
            .query_one_raw(Statement::from_sql_and_values(
                backend,
                match backend {
                    DbBackend::Postgres => "SELECT id FROM balaikota_migrations WHERE id = $1",
                    _ => "SELECT id FROM balaikota_migrations WHERE id = ?",
                },
                [m.id.into()],
            ))
            .await?
            .is_some();
        if done {
            tx.commit().await?;
            continue;
        }
        for step in (m.steps)(&schema) {
            match step {
                Step::Table(t) => tx.execute(&*t).await?,
                Step::Index(i) => tx.execute(&*i).await?,
                Step::Sql(s) => tx.execute_unprepared(&s).await?,
                Step::AddColumn {
                    table,
                    column,
                    definition,
                } => {
                    let exists = tx
                        .query_one_raw(Statement::from_sql_and_values(
                            backend,
                            match backend {
                                DbBackend::Postgres => {
                                    "SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 AND column_name = $2"
                                }
                                _ => "SELECT 1 FROM pragma_table_info(?) WHERE name = ?",
                            },
                            [table.into(), column.into()],
                        ))
                        .await?
                        .is_some();
                    if exists {
                        continue;
                    }
                    tx.execute_unprepared(&format!(
                        "ALTER TABLE {table} ADD COLUMN {column} {definition}"
                    ))
                    .await?
                }
            };
        }
        let now = chrono::Utc::now().to_rfc3339();
        tx.execute_raw(Statement::from_sql_and_values(
            backend,
            match backend {
                DbBackend::Postgres => {
                    "INSERT INTO balaikota_migrations (id, applied_at) VALUES ($1, $2)"
                }
                _ => "INSERT INTO balaikota_migrations (id, applied_at) VALUES (?, ?)",
            },
            [m.id.into(), now.into()],
        ))
        .await?;
        tx.commit().await?;
        tracing::info!(migration = m.id, "applied migration");
        applied.push(m.id);
    }
    Ok(applied)
}

async fn lock(db: &Db, tx: &sea_orm::DatabaseTransaction) -> Result<(), DbErr> {
    if db.backend() == Backend::Postgres {
        tx.execute_raw(Statement::from_string(
            db.db_backend(),
            format!("SELECT pg_advisory_xact_lock({LOCK_KEY})"),
        ))
        .await?;
    }
    Ok(())
}
