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
//! One rule follows for callers: a write transaction must not wait for another write's commit
//! to return (a signal sent after it, say). That commit may be waiting for this transaction,
//! its group's next member, to finish. (Waiting for the turn inside a write transaction was
//! already a deadlock before group commit.)

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use sea_orm::{
    ConnectOptions, Database, DatabaseConnection, DatabaseTransaction, DbErr,
    SqliteTransactionMode, TransactionOptions, TransactionTrait,
};
use tokio::sync::{OwnedMutexGuard, watch};

/// At most this many write transactions share one commit.
const GROUP_MAX: usize = 16;

/// What a group's members hear: `None` until its commit has been tried.
type Outcome = Option<Result<(), String>>;

/// SQLite's one writer. Cheap to clone.
#[derive(Clone)]
pub(super) struct Writer(Arc<Shared>);

struct Shared {
    turn: Arc<tokio::sync::Mutex<State>>,
    /// Write transactions waiting to begin (not members waiting for their group's commit).
    queued: AtomicUsize,
    /// How long, in all, the turn has been held (microseconds).
    busy_us: AtomicU64,
    /// Write transactions saved, and the commits that saved them.
    saved: AtomicU64,
    commits: AtomicU64,
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
    tx: DatabaseTransaction,
    /// Members whose work is in and who wait for the commit.
    members: usize,
    /// A member failed or was dropped: commit what the group holds before anyone joins.
    must_close: bool,
    done: watch::Sender<Outcome>,
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
    since: Instant,
    writer: Arc<Shared>,
    /// A member's savepoint is still open: dropped so, the group must close before anyone
    /// else joins it.
    member_open: bool,
}

impl Drop for Turn {
    fn drop(&mut self) {
        if self.member_open
            && let Some(g) = self.state.group.as_mut()
        {
            g.must_close = true;
        }
        let us = u64::try_from(self.since.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.writer.busy_us.fetch_add(us, Ordering::Relaxed);
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
    // the turn passes on.
    inner: DatabaseTransaction,
    turn: Option<Turn>,
    /// The group this transaction joined, in a savepoint (`None`: a transaction of its own).
    member: Option<u64>,
}

impl std::ops::Deref for WriteTx {
    type Target = DatabaseTransaction;
    fn deref(&self) -> &DatabaseTransaction {
        &self.inner
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
            busy_us: AtomicU64::new(0),
            saved: AtomicU64::new(0),
            commits: AtomicU64::new(0),
        }))
    }

    pub(super) fn busy(&self) -> Duration {
        Duration::from_micros(self.0.busy_us.load(Ordering::Relaxed))
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
            let joinable = match &turn.state.group {
                None => None,
                Some(g) if g.must_close || g.members >= GROUP_MAX => {
                    let done = g.done.subscribe();
                    turn.close();
                    outcome(done).await.ok();
                    continue;
                }
                Some(g) => Some((g.id, g.tx.begin().await)),
            };
            return match joinable {
                Some((id, Ok(inner))) => {
                    turn.member_open = true;
                    Ok(WriteTx {
                        inner,
                        turn: Some(turn),
                        member: Some(id),
                    })
                }
                Some((_, Err(e))) => {
                    turn.fail(e.to_string());
                    Err(e)
                }
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
                        inner,
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
        Turn {
            state,
            since: Instant::now(),
            writer,
            member_open: false,
        }
    }

    /// Commits the open group, tells its members, then lets the turn go. It runs on a task of
    /// its own: once begun, it finishes even if whoever started it is dropped.
    fn close(mut self) {
        tokio::spawn(async move {
            if let Some(g) = self.state.group.take() {
                let r = g.tx.commit().await;
                if r.is_ok() {
                    self.writer.count_commit(g.members);
                }
                let failed = r.is_err();
                let _ = g.done.send(Some(r.map_err(|e| e.to_string())));
                if failed {
                    self.state.reconnect().await;
                }
            }
        });
    }

    /// Rolls the open group back and tells its members why, then lets the turn go.
    fn fail(mut self, why: String) {
        tokio::spawn(async move {
            if let Some(g) = self.state.group.take() {
                let _ = g.tx.rollback().await;
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

impl Shared {
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
            inner,
            turn: None,
            member: None,
        }
    }

    /// Commits. On SQLite, while other writers wait for the turn, the commit is shared with
    /// them (see the module's notes); it returns once the commit that saves this write has
    /// succeeded, or with the error that kept it from being saved.
    pub async fn commit(self) -> Result<(), DbErr> {
        let WriteTx {
            inner,
            turn,
            member,
        } = self;
        let Some(mut turn) = turn else {
            return inner.commit().await;
        };
        let waiting = turn.writer.queued.load(Ordering::Acquire);
        let done = match member {
            None if waiting == 0 => {
                let r = inner.commit().await;
                match r {
                    Ok(()) => turn.writer.count_commit(1),
                    Err(_) => turn.state.reconnect().await,
                }
                return r;
            }
            None => {
                let (tx, rx) = watch::channel(None);
                let id = turn.state.next_group;
                turn.state.next_group += 1;
                turn.state.group = Some(Group {
                    id,
                    tx: inner,
                    members: 1,
                    must_close: false,
                    done: tx,
                });
                (id, rx)
            }
            Some(id) => {
                let released = inner.commit().await;
                turn.member_open = false;
                let Some(g) = turn.state.group.as_mut().filter(|g| g.id == id) else {
                    return Err(not_saved("its group is gone"));
                };
                let rx = g.done.subscribe();
                if let Err(e) = released {
                    turn.fail(e.to_string());
                    return Err(e);
                }
                g.members += 1;
                if waiting == 0 || g.members >= GROUP_MAX {
                    turn.close();
                    return outcome(rx).await;
                }
                (id, rx)
            }
        };
        let writer = turn.writer.clone();
        drop(turn);
        writer.wait_for(done.0, done.1).await
    }

    pub async fn rollback(self) -> Result<(), DbErr> {
        let WriteTx {
            inner,
            turn,
            member,
        } = self;
        let r = inner.rollback().await;
        if let (Some(mut turn), Some(_)) = (turn, member) {
            turn.member_open = false;
            if let Err(e) = &r {
                turn.fail(e.to_string());
            }
        }
        r
    }
}
