//! The audit log: every state change writes an entry in the same transaction, chained by hash
//! per city (`kernel::audit`). `verify` walks every chain and names the first broken entry.

use std::ops::Deref;
use std::sync::PoisonError;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::LockType;
use sea_orm::{
    ActiveModelTrait, ActiveValue::NotSet, ColumnTrait, ConnectionTrait, DatabaseTransaction,
    DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QueryResult, QuerySelect,
    QueryTrait, Statement,
};
use serde::Serialize;
use uuid::Uuid;

use crate::db::{Backend, Db, WriteTx};
use crate::entity::{audit_entry, audit_head};
use crate::events::{Event, EventBus};
use kernel::audit::{AuditFields, Break, GENESIS, chain_hash, check_entry};

/// Who did it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub id: Option<Uuid>,
    /// A readable label: a username, a masked NIK, `system`, `cli`.
    pub label: String,
}

impl Actor {
    pub fn system() -> Actor {
        Actor {
            id: None,
            label: "system".into(),
        }
    }
    pub fn cli() -> Actor {
        Actor {
            id: None,
            label: "cli".into(),
        }
    }
}

/// What changed.
pub struct Change<'a> {
    pub action: &'a str,
    pub subject_type: &'a str,
    pub subject_id: String,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AuditRecord {
    pub seq: i64,
    pub city_code: String,
    pub id: Uuid,
    pub at: DateTime<Utc>,
    pub actor_id: Option<Uuid>,
    pub actor: String,
    pub action: String,
    pub subject_type: String,
    pub subject_id: String,
    pub before: Option<String>,
    pub after: Option<String>,
    pub hash: String,
}

impl From<audit_entry::Model> for AuditRecord {
    fn from(m: audit_entry::Model) -> Self {
        AuditRecord {
            seq: m.seq,
            city_code: m.city_code,
            id: m.id,
            at: DateTime::from_timestamp_micros(m.at_us).unwrap_or_default(),
            actor_id: m.actor_id,
            actor: m.actor,
            action: m.action,
            subject_type: m.subject_type,
            subject_id: m.subject_id,
            before: m.before,
            after: m.after,
            hash: m.hash,
        }
    }
}

/// A write transaction that records audit entries and publishes them once committed.
pub struct Tx {
    inner: WriteTx,
    backend: Backend,
    channel: String,
    events: EventBus,
    pending: Vec<Event>,
    /// The numbers of queued audit entries written so far, in order (for `pending`).
    written: std::sync::Mutex<Vec<i64>>,
    /// The database's id, for what is kept per database (`memo::key_of`).
    db_id: String,
    /// Writes queued by [`Tx::later`], not yet sent.
    queued: std::sync::Mutex<Vec<Statement>>,
    /// A city's chain head as this transaction last read or wrote it (`None` inside: the city
    /// has no chain yet), so the next entry need not read it again. Only kept while this
    /// transaction holds the lock that serialises appends (see [`Tx::audit`]).
    known_head: std::sync::Mutex<Option<(String, Option<String>)>>,
}

impl Deref for Tx {
    type Target = DatabaseTransaction;
    fn deref(&self) -> &DatabaseTransaction {
        &self.inner
    }
}

impl Db {
    /// Begins a write transaction that can audit.
    pub async fn tx(&self) -> Result<Tx, DbErr> {
        Ok(Tx {
            inner: self.begin_write().await?,
            backend: self.backend(),
            channel: self.notify_channel().to_string(),
            events: self.events().clone(),
            pending: vec![],
            written: Default::default(),
            db_id: self.id().to_string(),
            queued: Default::default(),
            known_head: Default::default(),
        })
    }
}

impl Tx {
    /// Which database this transaction is on (for caches kept per database).
    pub fn db_id(&self) -> &str {
        &self.db_id
    }

    /// Queues a write whose outcome the caller does not need (a new row nobody reads back in
    /// this transaction). Queued writes reach the database together, with the next audit
    /// entry or at commit: on SQLite in one call, one trip to the connection's thread instead
    /// of one each. A read through this transaction does not see a queued write before then.
    pub fn later(&self, stmt: Statement) {
        held(&self.queued).push(stmt);
    }

    /// Queues the insert of a new row ([`Tx::later`]).
    pub fn insert_later<A: ActiveModelTrait>(&self, row: A) {
        self.later(QueryTrait::build(
            &A::Entity::insert(row),
            self.inner.get_database_backend(),
        ));
    }

    /// Sends the queued writes, then `tail`; returns the rows the statements return (on
    /// SQLite in one call, [`crate::db::run_all`]), but the numbers of queued audit entries,
    /// which it keeps for their events.
    async fn send(&self, tail: Vec<Statement>) -> Result<Vec<QueryResult>, DbErr> {
        let mut all = std::mem::take(&mut *held(&self.queued));
        all.extend(tail);
        let rows = crate::db::run_all(&*self.inner, all).await?;
        Ok(keep_audit_seq(&self.written, rows))
    }

    /// Runs `stmt`, a statement that returns rows (an upsert with `RETURNING`, say), after the
    /// queued writes, and returns its rows. On SQLite the city's chain head is read in the
    /// same call, for this transaction's next audit entry: one trip instead of two. (SQLite's
    /// write lock is held since `BEGIN IMMEDIATE`, so the head cannot move in between; on
    /// PostgreSQL the head is read under the city's lock when the entry is written.)
    pub async fn query_with_head(
        &self,
        city_code: &str,
        stmt: Statement,
    ) -> Result<Vec<QueryResult>, DbErr> {
        if self.backend != Backend::Sqlite {
            return self.send(vec![stmt]).await;
        }
        let head = Statement::from_sql_and_values(
            self.inner.get_database_backend(),
            "SELECT last_hash AS audit_head_hash FROM audit_heads WHERE city_code = ?",
            [city_code.into()],
        );
        let (heads, rows): (Vec<_>, Vec<_>) = self
            .send(vec![stmt, head])
            .await?
            .into_iter()
            .partition(|r| r.try_get::<String>("", "audit_head_hash").is_ok());
        let hash = match heads.first() {
            Some(r) => Some(r.try_get::<String>("", "audit_head_hash")?),
            None => None,
        };
        *held(&self.known_head) = Some((city_code.into(), hash));
        Ok(rows)
    }

    /// Appends an audit entry to the city's chain, inside this transaction. On SQLite the entry
    /// goes with the queued writes ([`Tx::later`]), at the latest at commit; on PostgreSQL it
    /// is written now, with the queued writes before it.
    pub async fn audit(
        &mut self,
        city_code: &str,
        actor: &Actor,
        change: Change<'_>,
    ) -> Result<(), DbErr> {
        let backend = self.inner.get_database_backend();
        let known = held(&self.known_head)
            .take()
            .filter(|(c, _)| c == city_code)
            .map(|(_, h)| h);
        let head_hash = match known {
            Some(h) => h,
            None => {
                // Serialise appends per city: an advisory lock on PostgreSQL, held to the end
                // of the transaction (SQLite's write lock is already held since BEGIN
                // IMMEDIATE).
                if self.backend == Backend::Postgres {
                    self.inner
                        .execute_raw(Statement::from_sql_and_values(
                            backend,
                            "SELECT pg_advisory_xact_lock(hashtext($1))",
                            [format!("audit:{city_code}").into()],
                        ))
                        .await?;
                }
                audit_head::Entity::find_by_id(city_code.to_string())
                    .lock(LockType::Update)
                    .one(&*self.inner)
                    .await?
                    .map(|h| h.last_hash)
            }
        };
        let has_head = head_hash.is_some();
        let prev_hash = head_hash.unwrap_or_else(|| GENESIS.to_string());
        let at = Utc::now();
        let at_us = at.timestamp_micros();
        let id = kernel::ids::new_id();
        let before = change.before.map(|v| v.to_string());
        let after = change.after.map(|v| v.to_string());
        let id_s = id.to_string();
        let fields = AuditFields {
            id: &id_s,
            city_code,
            at_micros: at_us,
            actor: &actor.label,
            action: change.action,
            subject_type: change.subject_type,
            subject_id: &change.subject_id,
            before: before.as_deref(),
            after: after.as_deref(),
        };
        let hash = chain_hash(&prev_hash, &fields);
        let model = audit_entry::Model {
            seq: 0,
            city_code: city_code.to_string(),
            id,
            at_us,
            actor_id: actor.id,
            actor: actor.label.clone(),
            action: change.action.to_string(),
            subject_type: change.subject_type.to_string(),
            subject_id: change.subject_id.clone(),
            before,
            after,
            prev_hash,
            hash: hash.clone(),
        };
        let mut am: audit_entry::ActiveModel = model.clone().into();
        am.seq = NotSet;
        let mut insert = backend.build(&audit_entry::Entity::insert(am.reset_all()).into_query());
        insert.sql.push_str(" RETURNING seq AS audit_seq");
        // The head takes the entry's number from the log itself, so the head's write goes in
        // the same call as the entry's.
        let head_sql = if has_head {
            "UPDATE audit_heads SET last_seq = (SELECT max(seq) FROM audit_log WHERE city_code = $1), last_hash = $2, entries = entries + 1 WHERE city_code = $1"
        } else {
            "INSERT INTO audit_heads (city_code, last_seq, last_hash, entries) VALUES ($1, (SELECT max(seq) FROM audit_log WHERE city_code = $1), $2, 1)"
        };
        let head_write = crate::db::numbered(
            backend,
            head_sql,
            vec![city_code.into(), hash.clone().into()],
        );
        // The head is now this entry, and stays so under the lock until the transaction ends.
        *held(&self.known_head) = Some((city_code.to_string(), Some(hash)));
        let mut event = Event {
            kind: "audit".into(),
            city_code: model.city_code.clone(),
            seq: 0,
            action: model.action.clone(),
            subject_type: model.subject_type.clone(),
            subject_id: model.subject_id.clone(),
            subject: subject_label(
                &model.subject_type,
                &model.subject_id,
                model.after.as_deref().or(model.before.as_deref()),
            ),
            actor: model.actor.clone(),
            at_us,
        };
        if self.backend == Backend::Sqlite {
            // Its number comes back with the commit (`audit_seq`), for the event.
            self.later(insert);
            self.later(head_write);
            self.pending.push(event);
            return Ok(());
        }
        self.send(vec![insert, head_write]).await?;
        event.seq = held(&self.written)
            .pop()
            .ok_or_else(|| DbErr::Custom("the audit entry came back without its number".into()))?;
        let payload = serde_json::to_string(&event).unwrap_or_default();
        self.inner
            .execute_raw(Statement::from_sql_and_values(
                backend,
                "SELECT pg_notify($1, $2)",
                [self.channel.clone().into(), payload.into()],
            ))
            .await?;
        Ok(())
    }

    /// Sends the queued writes and commits; then the live stream hears of the new audit
    /// entries (on PostgreSQL, through `NOTIFY`, sent with each entry).
    pub async fn commit(self) -> Result<(), DbErr> {
        let Tx {
            inner,
            events,
            pending,
            queued,
            written,
            ..
        } = self;
        let queued = queued.into_inner().unwrap_or_else(PoisonError::into_inner);
        let rows = inner.commit_with(queued).await?;
        keep_audit_seq(&written, rows);
        let written = written.into_inner().unwrap_or_else(PoisonError::into_inner);
        let mut seqs = written.into_iter();
        for mut e in pending {
            e.seq = seqs.next().unwrap_or_default();
            events.publish(e);
        }
        Ok(())
    }

    pub async fn rollback(self) -> Result<(), DbErr> {
        self.inner.rollback().await
    }
}

/// Takes the numbers of queued audit entries out of `rows`, into `written`.
fn keep_audit_seq(
    written: &std::sync::Mutex<Vec<i64>>,
    rows: Vec<QueryResult>,
) -> Vec<QueryResult> {
    let mut written = held(written);
    rows.into_iter()
        .filter(|r| match r.try_get::<i64>("", "audit_seq") {
            Ok(seq) => {
                written.push(seq);
                false
            }
            Err(_) => true,
        })
        .collect()
}

/// A transaction's own state behind a mutex (only ever locked briefly, never across an await;
/// a poisoned lock still holds usable data).
fn held<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// `agency Dinas Sosial (01a209b6…)`: the subject with the name recorded in the entry, when it
/// has one, for the log page and the live stream.
pub fn subject_label(kind: &str, id: &str, data: Option<&str>) -> String {
    let name = data
        .and_then(|d| serde_json::from_str::<serde_json::Value>(d).ok())
        .and_then(|v| {
            ["name", "username", "nik"]
                .iter()
                .find_map(|k| v.get(*k).and_then(|x| x.as_str()).map(str::to_string))
        });
    let short: String = id.chars().take(8).collect();
    match name {
        Some(n) => format!("{kind} {n} ({short}…)"),
        None => format!("{kind} {short}…"),
    }
}

/// The first broken entry found, in words an operator can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyFailure {
    pub city_code: String,
    pub seq: Option<i64>,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    pub cities: usize,
    pub entries: u64,
    pub failure: Option<VerifyFailure>,
}

/// Walks every city's chain in order, in pages, and compares the end with the stored head.
pub async fn verify(db: &Db) -> Result<VerifyReport, DbErr> {
    let conn = db.conn();
    let mut cities: Vec<String> = audit_entry::Entity::find()
        .select_only()
        .column(audit_entry::Column::CityCode)
        .distinct()
        .into_tuple()
        .all(conn)
        .await?;
    for h in audit_head::Entity::find().all(conn).await? {
        if !cities.contains(&h.city_code) {
            cities.push(h.city_code);
        }
    }
    cities.sort();
    let mut total = 0u64;
    for city in &cities {
        let mut prev = GENESIS.to_string();
        let mut last_seq = 0i64;
        let mut count = 0i64;
        loop {
            let page = audit_entry::Entity::find()
                .filter(audit_entry::Column::CityCode.eq(city.as_str()))
                .filter(audit_entry::Column::Seq.gt(last_seq))
                .order_by_asc(audit_entry::Column::Seq)
                .limit(1000)
                .all(conn)
                .await?;
            if page.is_empty() {
                break;
            }
            for e in page {
                let id = e.id.to_string();
                let fields = AuditFields {
                    id: &id,
                    city_code: &e.city_code,
                    at_micros: e.at_us,
                    actor: &e.actor,
                    action: &e.action,
                    subject_type: &e.subject_type,
                    subject_id: &e.subject_id,
                    before: e.before.as_deref(),
                    after: e.after.as_deref(),
                };
                if let Err(b) = check_entry(&prev, &e.prev_hash, &e.hash, &fields) {
                    let reason = match b {
                        Break::Link { .. } => {
                            "its link to the previous entry is broken: an entry before it was removed or inserted"
                        }
                        Break::Content { .. } => {
                            "its content does not match its hash: the row was edited"
                        }
                    };
                    return Ok(VerifyReport {
                        cities: cities.len(),
                        entries: total,
                        failure: Some(VerifyFailure {
                            city_code: city.clone(),
                            seq: Some(e.seq),
                            reason: reason.into(),
                        }),
                    });
                }
                prev = e.hash.clone();
                last_seq = e.seq;
                count += 1;
                total += 1;
            }
        }
        let head = audit_head::Entity::find_by_id(city.clone())
            .one(conn)
            .await?;
        let head_ok = match &head {
            Some(h) => h.last_hash == prev && h.entries == count && h.last_seq == last_seq,
            None => count == 0,
        };
        if !head_ok {
            return Ok(VerifyReport {
                cities: cities.len(),
                entries: total,
                failure: Some(VerifyFailure {
                    city_code: city.clone(),
                    seq: head.map(|h| h.last_seq),
                    reason: format!(
                        "the chain ends at entry {last_seq} with {count} entries, but the recorded head disagrees: entries at the end were removed, or the head was edited"
                    ),
                }),
            });
        }
    }
    Ok(VerifyReport {
        cities: cities.len(),
        entries: total,
        failure: None,
    })
}

/// Filters for browsing the log.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct AuditFilter {
    pub action: Option<String>,
    pub subject_type: Option<String>,
    pub subject_id: Option<String>,
    pub actor: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// Show entries older than this sequence number (keyset paging).
    pub before_seq: Option<i64>,
}

/// One page of a city's log, newest first. Pages by key, never by offset.
pub async fn list(
    db: &Db,
    city_code: &str,
    f: &AuditFilter,
    limit: u64,
) -> Result<Vec<AuditRecord>, DbErr> {
    let mut q = audit_entry::Entity::find().filter(audit_entry::Column::CityCode.eq(city_code));
    if let Some(a) = f.action.as_deref().filter(|s| !s.is_empty()) {
        q = q.filter(audit_entry::Column::Action.starts_with(a));
    }
    if let Some(s) = f.subject_type.as_deref().filter(|s| !s.is_empty()) {
        q = q.filter(audit_entry::Column::SubjectType.eq(s));
    }
    if let Some(s) = f.subject_id.as_deref().filter(|s| !s.is_empty()) {
        q = q.filter(audit_entry::Column::SubjectId.eq(s));
    }
    if let Some(s) = f.actor.as_deref().filter(|s| !s.is_empty()) {
        q = q.filter(audit_entry::Column::Actor.contains(s));
    }
    if let Some(from) = f.from {
        q = q.filter(audit_entry::Column::AtUs.gte(from.timestamp_micros()));
    }
    if let Some(until) = f.until {
        q = q.filter(audit_entry::Column::AtUs.lt(until.timestamp_micros()));
    }
    if let Some(b) = f.before_seq {
        q = q.filter(audit_entry::Column::Seq.lt(b));
    }
    let rows = q
        .order_by_desc(audit_entry::Column::Seq)
        .limit(limit)
        .all(db.conn())
        .await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

pub async fn count(db: &Db, city_code: &str) -> Result<u64, DbErr> {
    audit_entry::Entity::find()
        .filter(audit_entry::Column::CityCode.eq(city_code))
        .count(db.conn())
        .await
}

/// For tests and the CLI: the distinct actions recorded in a city.
pub async fn actions(db: &Db, city_code: &str) -> Result<Vec<String>, DbErr> {
    audit_entry::Entity::find()
        .select_only()
        .column(audit_entry::Column::Action)
        .filter(audit_entry::Column::CityCode.eq(city_code))
        .distinct()
        .into_tuple()
        .all(db.conn())
        .await
}
