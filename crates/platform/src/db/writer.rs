//! SQLite's one writer, and group commit.
//!
//! SQLite lets one transaction write at a time. Write transactions take turns here, first come
//! first served, instead of in SQLite's busy handler, which sleeps (1, 2, 5, 10 … ms) between
//! tries. All of them run on one connection, whose page cache then stays warm from one write to
//! the next (SQLite drops a connection's cache whenever another connection has written).
//!
//! A commit costs about as much as the pages it writes, and the same pages (an index's last
//! leaf, a counter) come back in write after write. So when a write transaction is done while
//! others wait for the turn, it does not commit alone: it leaves its transaction open, and the
//! waiting ones join it one after another, each in a savepoint of its own, until nobody waits
//! or the group is full; then one `COMMIT` saves them all, and each hears the outcome. A member
//! whose work fails rolls back to its savepoint only; the others are not touched. Nobody is told
//! that a write is saved before the `COMMIT` that saves it has succeeded.
//!
//! SQLite may roll a whole transaction back by itself on some errors (disk full, I/O error).
//! Then the group cannot go on: a member that fails, or is dropped without committing, makes
//! the group commit what it holds before anyone else joins, and if that `COMMIT` fails, every
//! member hears that its write was not saved. After a failed commit the connection is replaced,
//! so the driver's count of open savepoints cannot stay out of step with SQLite's.
//!
//! The savepoints cost no trips of their own to the connection's thread: a member's writes go
//! to SQLite in one call at commit ([`WriteTx::commit_with`]), and that call ends with the
//! member's `RELEASE` and, when another writer waits, the `SAVEPOINT` the next member will work
//! in. (The driver does not know of these savepoints: to it the group is one transaction, so
//! a member's last call, its rollback and the undoing of a dropped member run on tasks of their
//! own: dropped halfway, they would drop the group's transaction, and every member's work.)
//!
//! Nor does a commit copy the WAL into the database file (a checkpoint): SQLite would do it
//! inside the `COMMIT` that takes the WAL past a thousand pages, with the turn held, while every
//! other write waits. A task of its own does it instead, on a reader's connection, a tenth of a
//! second after writes were committed; a passive checkpoint never takes the write lock, so
//! writes go on meanwhile ([`Writer::spawn_checkpointer`]). Only when the WAL has grown past
//! 16 MiB (a checkpoint beside a steady stream of writes never catches up with the last commit,
//! and SQLite starts the WAL over only after one has) does it take the turn for a second pass,
//! which copies what the first left.
//!
//! One rule follows for callers: a write transaction must not wait for another write's commit
//! to return (a signal sent after it, say). That commit may be waiting for this transaction,
//! its group's next member, to finish. (Waiting for the turn inside a write transaction was
//! already a deadlock before group commit.)

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    DbErr, QueryResult, SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait,
};
use tokio::sync::{OwnedMutexGuard, watch};

/// At most this many write transactions share one commit.
const GROUP_MAX: usize = 16;

/// How often the checkpointer looks for committed writes to copy into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);

/// The WAL's size, in 4 KiB pages, past which the checkpointer takes the writer's turn to
/// catch up with it (16 MiB); also the size its file is cut back to when SQLite writes it from
/// its start again (`journal_size_limit` on the writer's connection).
pub(super) const WAL_LIMIT_PAGES: i64 = 4096;

/// What a group's members hear: `None` until its commit has been tried.
type Outcome = Option<Result<(), String>>;

/// SQLite's one writer. Cheap to clone.
#[derive(Clone)]
pub(super) struct Writer(Arc<Shared>);

struct Shared {
    turn: Arc<tokio::sync::Mutex<State>>,
    /// Write transactions waiting to begin (not members waiting for their group's commit).
    queued: AtomicUsize,
    /// How long, in all, the turn has been held, and since when it is held now.
    held: std::sync::Mutex<Held>,
    /// Write transactions saved, and the commits that saved them.
    saved: AtomicU64,
    commits: AtomicU64,
    /// Checkpoints run by the checkpointer.
    checkpoints: AtomicU64,
    /// Checkpoints that caught up with the last commit, with the turn held.
    catch_ups: AtomicU64,
}

/// The time the turn has been held: the turns let go, and the one held now, if any, so that
/// a reading taken while a turn is held counts the part of it held so far.
#[derive(Default)]
struct Held {
    done: Duration,
    since: Option<Instant>,
}

/// What the turn guards.
struct State {
    /// The connection every write transaction uses (a pool of one).
    conn: DatabaseConnection,
    /// How to open it again after a failed commit.
    opts: ConnectOptions,
    /// The open group, if any: its transaction holds SQLite's write lock.
    group: Option<Group>,
    next_group: u64,
}

struct Group {
    id: u64,
    /// The group's transaction; `None` while lent to the member at work.
    tx: Option<DatabaseTransaction>,
    /// Members whose work is in and who wait for the commit.
    members: usize,
    /// A member failed or was dropped: commit what the group holds before anyone joins.
    must_close: bool,
    /// The savepoint the last member opened for the next one, in the call that released its
    /// own.
    open: Option<String>,
    /// Savepoints named so far in this group.
    savepoints: u64,
    done: watch::Sender<Outcome>,
}

impl Group {
    fn savepoint(&mut self) -> String {
        self.savepoints += 1;
        format!("balaikota_member_{}", self.savepoints)
    }
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Writer")
    }
}

/// The writer's turn, held by one write transaction; letting it go adds the time it was held
/// to the writer's total and to the `sqlite_writer_busy_microseconds_total` metric.
pub(super) struct Turn {
    state: OwnedMutexGuard<State>,
    writer: Arc<Shared>,
}

impl Drop for Turn {
    fn drop(&mut self) {
        let mut held = self.writer.held();
        let took = held.since.take().map_or(Duration::ZERO, |t| t.elapsed());
        held.done += took;
        drop(held);
        let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        metrics::counter!("sqlite_writer_busy_microseconds_total").increment(us);
    }
}

/// Counts a writer waiting to begin, for as long as it waits (also when the wait is dropped).
struct Queued<'a>(&'a AtomicUsize);

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A write transaction from [`super::Db::begin_write`]. On SQLite it holds the writer's turn
/// until it is committed, rolled back or dropped.
pub struct WriteTx {
    // Declared before `turn`: dropped first, so its rollback reaches the connection before
    // the turn passes on. `None` only once the transaction has ended (commit, rollback,
    // drop), which consumes it.
    inner: Option<DatabaseTransaction>,
    turn: Option<Turn>,
    /// The group this transaction joined, in a savepoint (`None`: a transaction of its own).
    member: Option<Member>,
}

struct Member {
    group: u64,
    savepoint: String,
}

impl std::ops::Deref for WriteTx {
    type Target = DatabaseTransaction;
    fn deref(&self) -> &DatabaseTransaction {
        match &self.inner {
            Some(tx) => tx,
            // Only `commit_with`, `rollback` and `drop` take it, and they consume `self`.
            None => unreachable!("a write transaction used after it ended"),
        }
    }
}

/// A member dropped before it committed or rolled back (its request was cancelled, say):
/// its work is rolled back to its savepoint on a task of its own, and the group commits what
/// it holds before anyone else joins.
impl Drop for WriteTx {
    fn drop(&mut self) {
        let (Some(inner), Some(turn), Some(m)) =
            (self.inner.take(), self.turn.take(), self.member.take())
        else {
            return;
        };
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            // No runtime left (shutting down): the group is rolled back with the transaction.
            return;
        };
        rt.spawn(async move {
            let undone = undo(&inner, &m.savepoint).await;
            turn.hand_back(m.group, inner, undone.map(|()| true));
        });
    }
}

fn not_saved(why: &str) -> DbErr {
    DbErr::Custom(format!("the write was not saved: {why}"))
}

impl Writer {
    pub(super) fn new(conn: DatabaseConnection, opts: ConnectOptions) -> Writer {
        Writer(Arc::new(Shared {
            turn: Arc::new(tokio::sync::Mutex::new(State {
                conn,
                opts,
                group: None,
                next_group: 0,
            })),
            queued: AtomicUsize::new(0),
            held: Default::default(),
            saved: AtomicU64::new(0),
            commits: AtomicU64::new(0),
            checkpoints: AtomicU64::new(0),
            catch_ups: AtomicU64::new(0),
        }))
    }

    /// Starts the task that copies committed pages from the WAL into the database file, on
    /// one of `readers`, every [`CHECKPOINT_EVERY`] while there are new commits (no connection does it itself inside a commit:
    /// `wal_autocheckpoint` is off on all of them). It ends with the writer.
    ///
    /// SQLite writes the WAL from its start again only when a write begins after a checkpoint
    /// that copied every committed page. Under a steady stream of writes a checkpoint made
    /// beside them never quite catches up, and the WAL would grow without end (a load of a
    /// million rows took it past 3.8 GB). So when the WAL has grown past [`WAL_LIMIT_PAGES`],
    /// the checkpointer takes the writer's turn (committing an open group first) and copies
    /// what the checkpoint before left ([`Writer::catch_up`]): the writes wait only for the
    /// pages committed meanwhile, and the next one starts the WAL from its beginning.
    pub(super) fn spawn_checkpointer(&self, readers: DatabaseConnection) {
        let shared = Arc::downgrade(&self.0);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut seen = 0;
            loop {
                tick.tick().await;
                let Some(w) = shared.upgrade() else {
                    return;
                };
                let commits = w.commits.load(Ordering::Relaxed);
                if commits == seen {
                    continue;
                }
                // Tried again at the next tick (the pool is closed once the database is).
                let mut conn = match reader(&readers).await {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::debug!(error = %e, "SQLite checkpoint");
                        continue;
                    }
                };
                let wal_pages = match checkpoint(&mut conn).await {
                    Ok((pages, _)) => {
                        seen = commits;
                        w.counted_checkpoint(false);
                        pages
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "SQLite checkpoint");
                        continue;
                    }
                };
                if wal_pages <= WAL_LIMIT_PAGES {
                    continue;
                }
                if let Err(e) = Writer(w).catch_up_on(&mut conn).await {
                    tracing::warn!(error = %e, wal_pages, "SQLite checkpoint with the turn held");
                }
            }
        });
    }

    /// Copies every committed page into the database file with the turn held (an open group
    /// is committed first), so that the next write starts the WAL from its beginning. A
    /// passive checkpoint: it does not wait for readers, so a reader still on an older
    /// snapshot can keep it from catching up (it is tried again at the next tick); returns
    /// whether it caught up.
    pub(super) async fn catch_up(&self, readers: &DatabaseConnection) -> Result<bool, DbErr> {
        let (w, readers) = (self.clone(), readers.clone());
        // On a task of its own, as a group's commit: dropped halfway through committing an
        // open group, it would leave its members unsure whether their writes were saved.
        tokio::spawn(async move {
            let mut conn = reader(&readers).await?;
            w.catch_up_on(&mut conn).await
        })
        .await
        .map_err(|e| DbErr::Custom(format!("the checkpoint stopped: {e}")))?
    }

    /// [`Writer::catch_up`] on a reader's connection taken beforehand: the turn is never held
    /// while waiting for one.
    async fn catch_up_on(&self, conn: &mut sqlx::SqliteConnection) -> Result<bool, DbErr> {
        let turn = self.0.clone().quiet_turn().await;
        let r = checkpoint(conn).await;
        drop(turn);
        let (wal, copied) = r?;
        let caught_up = copied == wal;
        self.0.counted_checkpoint(caught_up);
        Ok(caught_up)
    }

    pub(super) fn catch_ups(&self) -> u64 {
        self.0.catch_ups.load(Ordering::Relaxed)
    }

    pub(super) fn checkpoints(&self) -> u64 {
        self.0.checkpoints.load(Ordering::Relaxed)
    }

    pub(super) fn busy(&self) -> Duration {
        let held = self.0.held();
        held.done + held.since.map_or(Duration::ZERO, |t| t.elapsed())
    }

    pub(super) fn saved(&self) -> (u64, u64) {
        (
            self.0.saved.load(Ordering::Relaxed),
            self.0.commits.load(Ordering::Relaxed),
        )
    }

    pub(super) fn queued(&self) -> usize {
        self.0.queued.load(Ordering::Acquire)
    }

    pub(super) async fn close(&self) {
        let conn = self.0.turn.lock().await.conn.clone();
        let _ = conn.close().await;
    }

    /// Waits for the turn (at most `timeout`), then joins the open group or begins a
    /// transaction of its own (`BEGIN IMMEDIATE`).
    pub(super) async fn begin(&self, timeout: Duration) -> Result<WriteTx, DbErr> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let guard = {
                self.0.queued.fetch_add(1, Ordering::AcqRel);
                let _queued = Queued(&self.0.queued);
                tokio::time::timeout_at(deadline, self.0.turn.clone().lock_owned())
                    .await
                    .map_err(|_| {
                        DbErr::Custom("timed out waiting for the SQLite writer's turn".into())
                    })?
            };
            let mut turn = Turn::new(guard, self.0.clone());
            if let Some(g) = &turn.state.group
                && (g.must_close || g.members >= GROUP_MAX || g.tx.is_none())
            {
                let done = g.done.subscribe();
                turn.close();
                outcome(done).await.ok();
                continue;
            }
            let joinable = match &mut turn.state.group {
                None => None,
                Some(g) => {
                    let savepoint = match g.open.take() {
                        Some(sp) => sp,
                        None => {
                            // Opened while the group still holds its transaction: dropped
                            // halfway, this leaves an empty savepoint, not a lost group.
                            let sp = g.savepoint();
                            let opened = match &g.tx {
                                Some(tx) => tx
                                    .execute_unprepared(&format!("SAVEPOINT {sp}"))
                                    .await
                                    .map(|_| ()),
                                None => Err(not_saved("its group is gone")),
                            };
                            if let Err(e) = opened {
                                turn.fail(e.to_string());
                                return Err(e);
                            }
                            sp
                        }
                    };
                    Some((g.id, g.tx.take(), savepoint))
                }
            };
            return match joinable {
                Some((group, Some(inner), savepoint)) => Ok(WriteTx {
                    inner: Some(inner),
                    turn: Some(turn),
                    member: Some(Member { group, savepoint }),
                }),
                Some((_, None, _)) => Err(not_saved("its group is gone")),
                None => {
                    let inner = turn
                        .state
                        .conn
                        .begin_with_options(TransactionOptions {
                            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                            ..Default::default()
                        })
                        .await?;
                    Ok(WriteTx {
                        inner: Some(inner),
                        turn: Some(turn),
                        member: None,
                    })
                }
            };
        }
    }
}

impl Turn {
    fn new(state: OwnedMutexGuard<State>, writer: Arc<Shared>) -> Turn {
        writer.held().since = Some(Instant::now());
        Turn { state, writer }
    }

    /// Gives the group its transaction back from a member whose work was undone: with
    /// `Ok(true)` (it failed or was dropped) the group commits what it holds now, with
    /// `Ok(false)` (it rolled back) it stays open for others, and with an error (the undo
    /// failed) it is rolled back. Then the turn goes.
    fn hand_back(mut self, group: u64, tx: DatabaseTransaction, undone: Result<bool, DbErr>) {
        let Some(g) = self.state.group.as_mut().filter(|g| g.id == group) else {
            return;
        };
        g.tx = Some(tx);
        match undone {
            Ok(false) => {}
            Ok(true) => {
                g.must_close = true;
                self.close();
            }
            Err(e) => self.fail(e.to_string()),
        }
    }

    /// Commits the open group, tells its members, then lets the turn go. It runs on a task of
    /// its own: once begun, it finishes even if whoever started it is dropped.
    fn close(mut self) {
        tokio::spawn(async move { self.commit_group().await });
    }

    /// Commits the open group, if any, and tells its members; the turn stays held.
    async fn commit_group(&mut self) {
        if let Some(g) = self.state.group.take() {
            let r = match g.tx {
                Some(tx) => tx.commit().await,
                None => Err(DbErr::Custom("its transaction was lost".into())),
            };
            if r.is_ok() {
                self.writer.count_commit(g.members);
            }
            let failed = r.is_err();
            let _ = g.done.send(Some(r.map_err(|e| e.to_string())));
            if failed {
                self.state.reconnect().await;
            }
        }
    }

    /// Rolls the open group back and tells its members why, then lets the turn go.
    fn fail(mut self, why: String) {
        tokio::spawn(async move {
            if let Some(g) = self.state.group.take() {
                if let Some(tx) = g.tx {
                    let _ = tx.rollback().await;
                }
                let _ = g.done.send(Some(Err(why)));
                self.state.reconnect().await;
            }
        });
    }
}

impl State {
    /// Opens the connection again (after a failed commit, the driver's count of open
    /// savepoints may no longer match SQLite's).
    async fn reconnect(&mut self) {
        match Database::connect(self.opts.clone()).await {
            Ok(conn) => self.conn = conn,
            Err(e) => tracing::error!(error = %e, "cannot reopen the SQLite writer's connection"),
        }
    }
}

/// A group's outcome, once its commit has been tried.
fn settled(done: &mut watch::Receiver<Outcome>) -> Option<Result<(), DbErr>> {
    done.borrow_and_update()
        .clone()
        .map(|r| r.map_err(|e| not_saved(&e)))
}

fn abandoned() -> DbErr {
    not_saved("its group's commit was abandoned")
}

/// Waits for a group's outcome.
async fn outcome(mut done: watch::Receiver<Outcome>) -> Result<(), DbErr> {
    loop {
        if let Some(r) = settled(&mut done) {
            return r;
        }
        if done.changed().await.is_err() {
            return Err(abandoned());
        }
    }
}

/// One of the readers' connections (the writer's own exists only on SQLite, so they are
/// SQLite's).
async fn reader(
    readers: &DatabaseConnection,
) -> Result<sqlx::pool::PoolConnection<sqlx::Sqlite>, DbErr> {
    readers
        .get_sqlite_connection_pool()
        .acquire()
        .await
        .map_err(|e| DbErr::Custom(format!("no reader's connection for a checkpoint: {e}")))
}

/// Runs a passive checkpoint (it neither takes the write lock nor waits for readers); returns
/// the WAL's size in pages, and how many of them are now in the database file.
async fn checkpoint(conn: &mut sqlx::SqliteConnection) -> Result<(i64, i64), DbErr> {
    let (_busy, wal, copied): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
        .fetch_one(conn)
        .await
        .map_err(|e| DbErr::Custom(format!("checkpoint: {e}")))?;
    Ok((wal, copied))
}

impl Shared {
    fn held(&self) -> std::sync::MutexGuard<'_, Held> {
        self.held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The turn with no group open: an open one is committed first, and its members told.
    async fn quiet_turn(self: Arc<Self>) -> Turn {
        let guard = self.turn.clone().lock_owned().await;
        let mut turn = Turn::new(guard, self.clone());
        turn.commit_group().await;
        turn
    }

    fn counted_checkpoint(&self, caught_up: bool) {
        self.checkpoints.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("sqlite_checkpoints_total").increment(1);
        if caught_up {
            self.catch_ups.fetch_add(1, Ordering::Relaxed);
            metrics::counter!("sqlite_wal_catch_ups_total").increment(1);
        }
    }

    fn count_commit(&self, writes: usize) {
        let writes = u64::try_from(writes).unwrap_or(u64::MAX);
        self.saved.fetch_add(writes, Ordering::Relaxed);
        self.commits.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("sqlite_writer_writes_saved_total").increment(writes);
        metrics::counter!("sqlite_writer_commits_total").increment(1);
    }

    /// A member's wait for its group's commit. The member also queues for the turn: if the
    /// turn comes round while its group is still open, nobody else is left to commit it, so
    /// the member does.
    async fn wait_for(
        self: Arc<Self>,
        id: u64,
        mut done: watch::Receiver<Outcome>,
    ) -> Result<(), DbErr> {
        loop {
            if let Some(r) = settled(&mut done) {
                return r;
            }
            tokio::select! {
                biased;
                changed = done.changed() => {
                    if changed.is_err() {
                        return Err(abandoned());
                    }
                }
                guard = self.turn.clone().lock_owned() => {
                    let turn = Turn::new(guard, self.clone());
                    if turn.state.group.as_ref().is_some_and(|g| g.id == id) {
                        turn.close();
                    }
                    // Otherwise the group was committed before the turn came: its outcome
                    // was sent before the turn was let go.
                }
            }
        }
    }
}

impl WriteTx {
    pub(super) fn alone(inner: DatabaseTransaction) -> WriteTx {
        WriteTx {
            inner: Some(inner),
            turn: None,
            member: None,
        }
    }

    /// Commits. On SQLite, while other writers wait for the turn, the commit is shared with
    /// them (see the module's notes); it returns once the commit that saves this write has
    /// succeeded, or with the error that kept it from being saved.
    pub async fn commit(self) -> Result<(), DbErr> {
        self.commit_with(vec![]).await.map(|_| ())
    }

    /// Runs `stmts`, then commits as [`WriteTx::commit`]; returns the rows the statements
    /// return. On SQLite the statements go in one call, and a group's member releases its
    /// savepoint (and opens the next member's) in that same call.
    pub async fn commit_with(mut self, stmts: Vec<Statement>) -> Result<Vec<QueryResult>, DbErr> {
        let (Some(inner), turn, member) = (self.inner.take(), self.turn.take(), self.member.take())
        else {
            return Err(not_saved("the transaction had already ended"));
        };
        let Some(mut turn) = turn else {
            let rows = run_all(&inner, stmts).await?;
            inner.commit().await?;
            return Ok(rows);
        };
        let waiting = turn.writer.queued.load(Ordering::Acquire);
        let Some(Member { group, savepoint }) = member else {
            // A transaction of its own: it commits now, or opens a group for those waiting.
            if waiting == 0 {
                let rows = match run_all(&inner, stmts).await {
                    Ok(rows) => rows,
                    Err(e) => {
                        let _ = inner.rollback().await;
                        return Err(e);
                    }
                };
                return match inner.commit().await {
                    Ok(()) => {
                        turn.writer.count_commit(1);
                        Ok(rows)
                    }
                    Err(e) => {
                        turn.state.reconnect().await;
                        Err(e)
                    }
                };
            }
            let (tx, rx) = watch::channel(None);
            let id = turn.state.next_group;
            turn.state.next_group += 1;
            let mut g = Group {
                id,
                tx: None,
                members: 1,
                must_close: false,
                open: None,
                savepoints: 0,
                done: tx,
            };
            let next = g.savepoint();
            let rows = match run_all(&inner, with_sql(stmts, &format!("SAVEPOINT {next}"))).await {
                Ok(rows) => rows,
                Err(e) => {
                    let _ = inner.rollback().await;
                    return Err(e);
                }
            };
            g.tx = Some(inner);
            g.open = Some(next);
            turn.state.group = Some(g);
            let writer = turn.writer.clone();
            drop(turn);
            return writer.wait_for(id, rx).await.map(|()| rows);
        };
        // The member's last call, and what follows from it for the group, run on a task of
        // their own: a member whose request is dropped meanwhile cannot leave the group's
        // transaction half handed back (dropped, it would roll every member back).
        let writer = turn.writer.clone();
        let member = Member { group, savepoint };
        let job = tokio::spawn(release(inner, turn, member, stmts, waiting));
        let (rows, rx, wait) = job
            .await
            .map_err(|e| not_saved(&format!("its commit stopped: {e}")))??;
        if wait {
            writer.wait_for(group, rx).await?;
        } else {
            outcome(rx).await?;
        }
        Ok(rows)
    }

    pub async fn rollback(mut self) -> Result<(), DbErr> {
        let (Some(inner), turn, member) = (self.inner.take(), self.turn.take(), self.member.take())
        else {
            return Ok(());
        };
        match (turn, member) {
            // On a task of its own, as a member's commit.
            (Some(turn), Some(m)) => tokio::spawn(async move {
                let r = undo(&inner, &m.savepoint).await;
                turn.hand_back(m.group, inner, r.clone().map(|()| false));
                r
            })
            .await
            .map_err(|e| DbErr::Custom(format!("the rollback stopped: {e}")))?,
            _ => inner.rollback().await,
        }
    }
}

/// A member's last call: `stmts`, then its release (and the next member's savepoint when
/// someone waits and the group has room); then the group has its transaction back, and commits
/// if nobody else is to join. Returns the rows, the group's outcome to wait for, and whether to
/// wait for it as [`Shared::wait_for`] does (the group stays open for others).
async fn release(
    inner: DatabaseTransaction,
    mut turn: Turn,
    member: Member,
    stmts: Vec<Statement>,
    waiting: usize,
) -> Result<(Vec<QueryResult>, watch::Receiver<Outcome>, bool), DbErr> {
    let Member { group, savepoint } = member;
    let Some(g) = turn.state.group.as_mut().filter(|g| g.id == group) else {
        return Err(not_saved("its group is gone"));
    };
    let more = waiting > 0 && g.members + 1 < GROUP_MAX;
    let next = more.then(|| g.savepoint());
    let tail = match &next {
        Some(n) => format!("RELEASE {savepoint}; SAVEPOINT {n}"),
        None => format!("RELEASE {savepoint}"),
    };
    let rows = match run_all(&inner, with_sql(stmts, &tail)).await {
        Ok(rows) => rows,
        Err(e) => {
            let undone = undo(&inner, &savepoint).await;
            turn.hand_back(group, inner, undone.map(|()| true));
            return Err(e);
        }
    };
    // `g` was borrowed from the turn's state across the call: look it up again.
    let Some(g) = turn.state.group.as_mut().filter(|g| g.id == group) else {
        return Err(not_saved("its group is gone"));
    };
    g.tx = Some(inner);
    g.members += 1;
    g.open = next;
    let rx = g.done.subscribe();
    if !more {
        turn.close();
    }
    Ok((rows, rx, more))
}

/// Rolls a member's work back to its savepoint and releases it.
async fn undo(tx: &DatabaseTransaction, savepoint: &str) -> Result<(), DbErr> {
    tx.execute_unprepared(&format!("ROLLBACK TO {savepoint}; RELEASE {savepoint}"))
        .await
        .map(|_| ())
}

/// `stmts`, then a statement without parameters.
fn with_sql(mut stmts: Vec<Statement>, sql: &str) -> Vec<Statement> {
    stmts.push(Statement::from_string(DbBackend::Sqlite, sql));
    stmts
}

/// Runs statements in order and returns the rows they return: on SQLite in one call (its
/// driver binds each statement's parameters in turn), one trip to the connection's thread
/// instead of one each; PostgreSQL takes one statement per call.
pub async fn run_all(
    conn: &impl ConnectionTrait,
    stmts: Vec<Statement>,
) -> Result<Vec<QueryResult>, DbErr> {
    match conn.get_database_backend() {
        DbBackend::Sqlite if stmts.len() > 1 => {
            let sql = stmts
                .iter()
                .map(|s| s.sql.trim_end_matches(';'))
                .collect::<Vec<_>>()
                .join(";\n");
            let values = stmts
                .into_iter()
                .flat_map(|s| s.values.map(|v| v.0).unwrap_or_default())
                .collect::<Vec<_>>();
            conn.query_all_raw(Statement::from_sql_and_values(
                DbBackend::Sqlite,
                sql,
                values,
            ))
            .await
        }
        _ => {
            let mut rows = Vec::new();
            for s in stmts {
                rows.extend(conn.query_all_raw(s).await?);
            }
            Ok(rows)
        }
    }
}
