//! Group commit for SQLite's single writer.
//!
//! SQLite lets one connection write at a time, and with `synchronous = FULL` every
//! `COMMIT` waits for the disk (an fsync of the WAL). Handled one after the other, the
//! writes of a busy standalone instance spend most of their time in those fsyncs, and
//! every writer queues behind them.
//!
//! [`GroupWriter`] runs each write transaction of the store as a *member* of a batch:
//! the first member opens `BEGIN IMMEDIATE`, each member runs inside its own
//! `SAVEPOINT` (so a member that fails or loses a race is rolled back alone), and the
//! batch is committed once, by the member that finds nobody else waiting for the
//! writer (or when the batch is big or old enough). A member learns that its write
//! succeeded only after the batch's `COMMIT` returned: no caller is ever told "written"
//! about data that a power cut could still take away, and a failed commit fails every
//! member of its batch. A member that failed is told so only after that `COMMIT` too:
//! when it failed on what an earlier member of its batch wrote, a retry must read that
//! write from any connection.
//!
//! Cancellation is expected (actix drops a handler whose client went away):
//! - a member dropped in the middle of its body is rolled back to its savepoint by a
//!   task spawned from its `Drop` (or by the next member, whichever comes first);
//! - a caller dropped while waiting for the writer leaves a task that commits the open
//!   batch if nobody else is left to do it;
//! - the `COMMIT` itself runs on a spawned task, so it is never interrupted half way;
//! - a member waiting for its batch's outcome commits the batch itself if it is still
//!   open after [`FLUSH_AFTER`] (a last resort: the two rules above keep it from
//!   happening).

use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel_async::SimpleAsyncConnection;
use tokio::sync::{watch, Mutex, OwnedMutexGuard};

use crate::db::{open_sqlite, SqliteConn};
use crate::error::{StoreError, StoreResult};

/// A batch is committed when it has this many members...
const MAX_MEMBERS: usize = 128;
/// ...or when it has been open this long, whoever is still waiting.
const MAX_BATCH_AGE: Duration = Duration::from_millis(5);
/// A member still waiting for its batch's outcome after this long commits the batch.
const FLUSH_AFTER: Duration = Duration::from_millis(50);

const SAVEPOINT: &str = "SAVEPOINT nexpay_member";
const RELEASE: &str = "RELEASE nexpay_member";
const ROLLBACK_MEMBER: &str = "ROLLBACK TO nexpay_member; RELEASE nexpay_member";

/// `NEXPAY_SQLITE_GROUP_COMMIT=off` makes every write commit on its own (one fsync
/// each), as before group commit: a switch for measuring what grouping brings.
const GROUP_COMMIT_ENV: &str = "NEXPAY_SQLITE_GROUP_COMMIT";

fn grouping_enabled() -> bool {
    !matches!(
        std::env::var(GROUP_COMMIT_ENV).as_deref().map(str::trim),
        Ok("off" | "0" | "false" | "no")
    )
}

/// `None` while the batch is open; its commit's result once it is closed.
type Outcome = Option<Result<(), Arc<str>>>;

/// How many write transactions ran and how many commits they took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupCommitStats {
    /// Members that ran (committed, failed or rolled back).
    pub transactions: u64,
    /// `COMMIT`s issued (one per batch, failed ones included).
    pub commits: u64,
}

/// The same trick as diesel-async's: lets a bound name the future an async closure
/// returns, so that it can be required to be `Send`.
pub(crate) trait AsyncFunc<T, R>:
    AsyncFnOnce(T) -> R + FnOnce(T) -> <Self as AsyncFunc<T, R>>::Fut
{
    type Fut: Future<Output = R>;
}

impl<F, T, Fut, R> AsyncFunc<T, R> for F
where
    F: AsyncFnOnce(T) -> R + FnOnce(T) -> Fut,
    Fut: Future<Output = R>,
{
    type Fut = Fut;
}

/// The writer of one SQLite database: cheap to clone, shared by the store's clones.
#[derive(Clone)]
pub(crate) struct GroupWriter {
    inner: Arc<Inner>,
}

struct Inner {
    path: String,
    /// Whether a finished write may leave the batch open for the next one.
    grouping: bool,
    state: Arc<Mutex<State>>,
    /// Callers waiting for the writer (not yet members).
    waiting: AtomicUsize,
    transactions: AtomicU64,
    commits: AtomicU64,
}

struct State {
    /// Opened on first use, dropped (and so rolled back) when it cannot be trusted.
    conn: Option<SqliteConn>,
    batch: Option<Batch>,
    /// A member started its body and was dropped before finishing it.
    in_member: bool,
    /// A `BEGIN` was sent and its caller dropped before it recorded the batch: the
    /// connection may be inside a transaction that no batch owns.
    beginning: bool,
    next_batch: u64,
}

struct Batch {
    id: u64,
    members: usize,
    opened: Instant,
    done: watch::Sender<Outcome>,
}

impl GroupWriter {
    pub(crate) fn new(path: String) -> GroupWriter {
        GroupWriter {
            inner: Arc::new(Inner {
                path,
                grouping: grouping_enabled(),
                state: Arc::new(Mutex::new(State {
                    conn: None,
                    batch: None,
                    in_member: false,
                    beginning: false,
                    next_batch: 0,
                })),
                waiting: AtomicUsize::new(0),
                transactions: AtomicU64::new(0),
                commits: AtomicU64::new(0),
            }),
        }
    }

    pub(crate) fn stats(&self) -> GroupCommitStats {
        GroupCommitStats {
            transactions: self.inner.transactions.load(Ordering::Relaxed),
            commits: self.inner.commits.load(Ordering::Relaxed),
        }
    }

    /// Runs `f` as one atomic write: all of it is committed, or none of it. Returns
    /// after the commit that made it durable.
    pub(crate) async fn transaction<R, F>(&self, f: F) -> StoreResult<R>
    where
        for<'r> F: AsyncFnOnce(&'r mut SqliteConn) -> StoreResult<R>
            + AsyncFunc<&'r mut SqliteConn, StoreResult<R>, Fut: Send>
            + Send,
        R: Send,
    {
        let mut member = self.join().await?;
        let result = f(member.conn()).await;
        member.finish(result).await
    }

    async fn join(&self) -> StoreResult<Member> {
        let waiting = Waiting::new(&self.inner);
        let mut guard = self.inner.state.clone().lock_owned().await;
        waiting.joined();
        let state = &mut *guard;
        recover(state).await;
        if state.conn.is_none() {
            let conn = open_sqlite(&self.inner.path)
                .await
                .map_err(|e| StoreError::Pool(format!("cannot open the database: {e}")))?;
            state.conn = Some(conn);
        }
        let Some(conn) = state.conn.as_mut() else {
            unreachable!("opened above")
        };
        if state.batch.is_none() {
            // Fails without side effect when another process holds the write lock for
            // longer than the busy timeout.
            state.beginning = true;
            conn.batch_execute("BEGIN IMMEDIATE").await?;
            state.beginning = false;
            state.next_batch += 1;
            state.batch = Some(Batch {
                id: state.next_batch,
                members: 0,
                opened: Instant::now(),
                done: watch::channel(None).0,
            });
        }
        // Set first: a caller dropped while the savepoint is being made leaves a member
        // to roll back.
        state.in_member = true;
        if let Err(e) = conn.batch_execute(SAVEPOINT).await {
            abort(state, &e.to_string()).await;
            return Err(e.into());
        }
        let Some(batch) = state.batch.as_mut() else {
            unreachable!("opened above")
        };
        batch.members += 1;
        self.inner.transactions.fetch_add(1, Ordering::Relaxed);
        Ok(Member {
            writer: self.clone(),
            batch: batch.id,
            outcome: batch.done.subscribe(),
            guard: Some(guard),
        })
    }

    /// Commits the open batch if it is `only` (or any batch when `None`) and nobody is
    /// waiting to join it (or when `force`).
    async fn flush(&self, only: Option<u64>, force: bool) {
        let guard = self.inner.state.clone().lock_owned().await;
        self.flush_locked(guard, only, force).await;
    }

    async fn flush_locked(
        &self,
        mut guard: OwnedMutexGuard<State>,
        only: Option<u64>,
        force: bool,
    ) {
        recover(&mut guard).await;
        let open = guard.batch.as_ref().map(|b| b.id);
        let wanted = match only {
            Some(id) => open == Some(id),
            None => open.is_some(),
        };
        if wanted && (force || self.inner.waiting.load(Ordering::Acquire) == 0) {
            self.commit(guard).await;
        }
    }

    /// Commits on a task of its own: a caller dropped meanwhile cannot leave the
    /// connection half way through a `COMMIT`.
    async fn commit(&self, guard: OwnedMutexGuard<State>) {
        let inner = self.inner.clone();
        let task = tokio::spawn(async move {
            let mut guard = guard;
            let state = &mut *guard;
            let Some(batch) = state.batch.take() else {
                return;
            };
            inner.commits.fetch_add(1, Ordering::Relaxed);
            let result = match state.conn.as_mut() {
                Some(conn) => conn.batch_execute("COMMIT").await,
                None => Err(diesel::result::Error::BrokenTransactionManager),
            };
            let outcome = match result {
                Ok(()) => Ok(()),
                Err(e) => {
                    rollback_or_close(state).await;
                    Err(Arc::from(format!("the commit failed: {e}")))
                }
            };
            batch.done.send_replace(Some(outcome));
        });
        // A panic inside the task leaves the batch's sender dropped: its members see a
        // closed channel and report an error.
        let _ = task.await;
    }
}

/// Rolls back a member that was dropped in the middle of its body. If that fails the
/// whole batch is given up.
async fn recover(state: &mut State) {
    if state.beginning {
        state.beginning = false;
        rollback_or_close(state).await;
    }
    if !state.in_member {
        return;
    }
    state.in_member = false;
    let result = match state.conn.as_mut() {
        Some(conn) => conn.batch_execute(ROLLBACK_MEMBER).await,
        None => return,
    };
    if let Err(e) = result {
        abort(
            state,
            &format!("a cancelled write could not be undone: {e}"),
        )
        .await;
    }
}

/// Rolls the open batch back and tells its members their writes were not made.
async fn abort(state: &mut State, reason: &str) {
    state.in_member = false;
    if let Some(batch) = state.batch.take() {
        batch.done.send_replace(Some(Err(Arc::from(format!(
            "write not committed: {reason}"
        )))));
    }
    rollback_or_close(state).await;
}

/// Leaves the connection outside any transaction: rolled back, or closed (which rolls
/// back) when even that fails. The next member opens a fresh one.
async fn rollback_or_close(state: &mut State) {
    let ok = match state.conn.as_mut() {
        Some(conn) => {
            // "cannot rollback - no transaction is active" is fine too.
            match conn.batch_execute("ROLLBACK").await {
                Ok(()) => true,
                Err(e) => e.to_string().contains("no transaction is active"),
            }
        }
        None => true,
    };
    if !ok {
        state.conn = None;
    }
}

/// One write transaction inside a batch. Holds the writer from `join` to `finish`.
struct Member {
    writer: GroupWriter,
    batch: u64,
    outcome: watch::Receiver<Outcome>,
    guard: Option<OwnedMutexGuard<State>>,
}

impl Member {
    fn conn(&mut self) -> &mut SqliteConn {
        match self.guard.as_mut().and_then(|g| g.conn.as_mut()) {
            Some(conn) => conn,
            None => unreachable!("a member holds the open connection until it finishes"),
        }
    }

    async fn finish<R>(mut self, result: StoreResult<R>) -> StoreResult<R> {
        let Some(mut guard) = self.guard.take() else {
            unreachable!("finish is called once")
        };
        let step = if result.is_ok() {
            RELEASE
        } else {
            ROLLBACK_MEMBER
        };
        let ended = match guard.conn.as_mut() {
            Some(conn) => conn.batch_execute(step).await,
            None => Err(diesel::result::Error::BrokenTransactionManager),
        };
        guard.in_member = false;
        if let Err(e) = ended {
            // The savepoint is gone: SQLite rolled the whole transaction back (it does
            // on I/O errors, a full disk...). Every member of the batch is told.
            abort(&mut guard, &e.to_string()).await;
            return match result {
                Err(original) => Err(original),
                Ok(_) => Err(e.into()),
            };
        }
        let keep_open = guard.batch.as_ref().is_some_and(|b| {
            self.writer.inner.grouping
                && self.writer.inner.waiting.load(Ordering::Acquire) > 0
                && b.members < MAX_MEMBERS
                && b.opened.elapsed() < MAX_BATCH_AGE
        });
        if keep_open {
            // The next caller joins this batch and decides in turn.
            drop(guard);
        } else {
            self.writer.commit(guard).await;
        }
        // A failed member waits for the outcome too: the rows it lost a race to may be
        // those of an earlier member of this batch, and a caller that retries at once
        // must read them committed, not the state from before the batch.
        let committed = self.wait_for_outcome().await;
        match (result, committed) {
            (Ok(value), Ok(())) => Ok(value),
            (Err(failed), Ok(())) => Err(failed),
            // What the member saw (and maybe failed on) was never committed.
            (_, Err(aborted)) => Err(aborted),
        }
    }

    async fn wait_for_outcome(&mut self) -> StoreResult<()> {
        loop {
            // The borrowed value is turned into an owned one at once: it holds a lock.
            let waited = tokio::time::timeout(FLUSH_AFTER, self.outcome.wait_for(Option::is_some))
                .await
                .map(|r| r.map(|outcome| outcome.clone()));
            match waited {
                Ok(Ok(Some(Ok(())))) => return Ok(()),
                Ok(Ok(Some(Err(reason)))) => return Err(StoreError::Aborted(reason.to_string())),
                Ok(Ok(None)) => unreachable!("waited for Some"),
                Ok(Err(_closed)) => {
                    return Err(StoreError::Aborted(
                        "the write batch was abandoned".to_owned(),
                    ))
                }
                Err(_elapsed) => self.writer.flush(Some(self.batch), true).await,
            }
        }
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        // Only a member dropped before `finish` still holds the writer: roll its body
        // back and commit what the batch's other members wrote.
        if let Some(guard) = self.guard.take() {
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                let writer = self.writer.clone();
                runtime.spawn(async move { writer.flush_locked(guard, None, false).await });
            }
        }
    }
}

/// Counts a caller waiting for the writer. Dropped before it got there (cancelled), it
/// makes sure the batch it was expected to join does not stay open.
struct Waiting {
    inner: Arc<Inner>,
    joined: bool,
}

impl Waiting {
    fn new(inner: &Arc<Inner>) -> Waiting {
        inner.waiting.fetch_add(1, Ordering::AcqRel);
        Waiting {
            inner: inner.clone(),
            joined: false,
        }
    }

    fn joined(mut self) {
        self.joined = true;
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        self.inner.waiting.fetch_sub(1, Ordering::AcqRel);
        if !self.joined {
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                let writer = GroupWriter {
                    inner: self.inner.clone(),
                };
                runtime.spawn(async move { writer.flush(None, false).await });
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use diesel::sql_types::{BigInt, Text};
    use diesel_async::RunQueryDsl;

    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }

    #[derive(diesel::QueryableByName)]
    struct Name {
        #[diesel(sql_type = Text)]
        name: String,
    }

    struct TempDb(String);

    impl Drop for TempDb {
        fn drop(&mut self) {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", self.0));
            }
        }
    }

    async fn writer() -> (GroupWriter, TempDb) {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "nexpay-group-commit-{}-{}.db",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let path = path.to_string_lossy().into_owned();
        let db = TempDb(path.clone());
        let w = GroupWriter::new(path);
        w.transaction(async |c: &mut SqliteConn| {
            c.batch_execute("CREATE TABLE t (name TEXT PRIMARY KEY)")
                .await?;
            Ok(())
        })
        .await
        .unwrap();
        (w, db)
    }

    async fn insert(c: &mut SqliteConn, name: &str) -> StoreResult<()> {
        diesel::sql_query("INSERT INTO t (name) VALUES (?)")
            .bind::<Text, _>(name)
            .execute(c)
            .await?;
        Ok(())
    }

    /// What another connection (another process) sees: only committed rows.
    async fn committed(db: &TempDb) -> Vec<String> {
        let mut c = open_sqlite(&db.0).await.unwrap();
        let mut names: Vec<String> = diesel::sql_query("SELECT name FROM t ORDER BY name")
            .load::<Name>(&mut c)
            .await
            .unwrap()
            .into_iter()
            .map(|n| n.name)
            .collect();
        names.sort();
        names
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writes_share_commits_and_are_all_durable() {
        let (w, db) = writer().await;
        let before = w.stats();
        let tasks = spawn_inserts(&w, (0..200).map(|i| format!("{i:03}")));
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        let after = w.stats();
        assert_eq!(after.transactions - before.transactions, 200);
        let commits = after.commits - before.commits;
        assert!(
            commits < 100,
            "200 concurrent writes took {commits} commits: they are not grouped"
        );
        let expected: Vec<String> = (0..200).map(|i| format!("{i:03}")).collect();
        assert_eq!(committed(&db).await, expected);
    }

    type Task = tokio::task::JoinHandle<Result<(), StoreError>>;

    /// One concurrent write per name, each inserting its name alone.
    fn spawn_inserts(w: &GroupWriter, names: impl Iterator<Item = String>) -> Vec<Task> {
        names
            .map(|name| {
                let w = w.clone();
                tokio::spawn(async move {
                    w.transaction(async |c: &mut SqliteConn| insert(c, &name).await)
                        .await
                })
            })
            .collect()
    }

    /// One write that inserts `name`, then keeps the writer for `hold`.
    fn spawn_insert_holding(w: &GroupWriter, name: &'static str, hold: Duration) -> Task {
        let w = w.clone();
        tokio::spawn(async move {
            w.transaction(async |c: &mut SqliteConn| {
                insert(c, name).await?;
                tokio::time::sleep(hold).await;
                Ok(())
            })
            .await
        })
    }

    /// What the database holds, in any order, is exactly `expected`.
    async fn assert_committed(db: &TempDb, expected: impl Iterator<Item = String>) {
        let mut expected: Vec<String> = expected.collect();
        expected.sort();
        assert_eq!(committed(db).await, expected);
    }

    /// Awaits every task: exactly those `fails` picks must have failed, each as `expected`.
    async fn expect_failures(
        tasks: Vec<Task>,
        fails: impl Fn(usize) -> bool,
        expected: impl Fn(&StoreError) -> bool,
    ) {
        for (i, t) in tasks.into_iter().enumerate() {
            match (t.await.unwrap(), fails(i)) {
                (Ok(()), false) => {}
                (Err(e), true) if expected(&e) => {}
                (r, _) => panic!("member {i}: {r:?}"),
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_member_is_rolled_back_alone() {
        let (w, db) = writer().await;
        let tasks: Vec<_> = (0..100)
            .map(|i| {
                let w = w.clone();
                tokio::spawn(async move {
                    w.transaction(async |c: &mut SqliteConn| {
                        insert(c, &format!("{i:03}")).await?;
                        if i % 2 == 1 {
                            return Err(StoreError::Stale("odd".into()));
                        }
                        // A second statement after the first: the whole member counts.
                        insert(c, &format!("{i:03}-second")).await
                    })
                    .await
                })
            })
            .collect();
        expect_failures(tasks, |i| i % 2 == 1, |e| matches!(e, StoreError::Stale(_))).await;
        let expected = (0..100)
            .step_by(2)
            .flat_map(|i| [format!("{i:03}"), format!("{i:03}-second")]);
        assert_committed(&db, expected).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_unique_violation_leaves_the_batch_usable() {
        let (w, db) = writer().await;
        w.transaction(async |c: &mut SqliteConn| insert(c, "taken").await)
            .await
            .unwrap();
        let names = (0..40).map(|i| match i % 4 {
            0 => "taken".to_owned(),
            _ => format!("{i:03}"),
        });
        let tasks = spawn_inserts(&w, names);
        expect_failures(
            tasks,
            |i| i % 4 == 0,
            |e| matches!(e, StoreError::Conflict(_)),
        )
        .await;
        let expected = (0..40)
            .filter(|i| i % 4 != 0)
            .map(|i| format!("{i:03}"))
            .chain(["taken".to_owned()]);
        assert_committed(&db, expected).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_member_dropped_mid_body_is_undone_and_the_others_commit() {
        let (w, db) = writer().await;
        // The first caller gives up (its client went away) while its body waits.
        let slow = {
            let w = w.clone();
            tokio::spawn(async move {
                tokio::time::timeout(
                    Duration::from_millis(100),
                    w.transaction(async |c: &mut SqliteConn| {
                        insert(c, "dropped").await?;
                        tokio::time::sleep(Duration::from_secs(10)).await;
                        Ok(())
                    }),
                )
                .await
            })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        // Callers waiting for the writer meanwhile: they join the same batch.
        let others = spawn_inserts(&w, (0..5).map(|i| format!("kept-{i}")));
        assert!(slow.await.unwrap().is_err(), "the slow caller timed out");
        for o in others {
            o.await.unwrap().unwrap();
        }
        let expected: Vec<String> = (0..5).map(|i| format!("kept-{i}")).collect();
        assert_eq!(committed(&db).await, expected);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_member_that_lost_a_race_sees_the_winner_committed_when_told() {
        let (w, db) = writer().await;
        // The winner writes and holds the writer a moment, so that the two others queue
        // behind it and join its batch.
        // Short of MAX_BATCH_AGE: the batch stays open for the others.
        let winner = spawn_insert_holding(&w, "won", Duration::from_millis(3));
        tokio::time::sleep(Duration::from_millis(1)).await;
        // The loser finds the winner's row (inside the batch) and gives up.
        let loser = {
            let w = w.clone();
            tokio::spawn(async move {
                let lost = w
                    .transaction(async |c: &mut SqliteConn| {
                        let n: Vec<Count> =
                            diesel::sql_query("SELECT COUNT(*) AS n FROM t WHERE name = 'won'")
                                .load(c)
                                .await?;
                        match n[0].n {
                            0 => insert(c, "lost").await,
                            _ => Err(StoreError::Stale("taken".into())),
                        }
                    })
                    .await;
                (lost, Instant::now())
            })
        };
        tokio::time::sleep(Duration::from_millis(1)).await;
        // A third member keeps the batch open after the loser's turn.
        let third = spawn_insert_holding(&w, "third", Duration::from_millis(40));
        let (lost, told) = loser.await.unwrap();
        assert!(matches!(lost, Err(StoreError::Stale(_))), "{lost:?}");
        // Told it lost: what it lost to is visible to anyone from then on.
        assert!(
            committed(&db).await.contains(&"won".to_owned()),
            "the loser was told before the winner's row was committed"
        );
        winner.await.unwrap().unwrap();
        third.await.unwrap().unwrap();
        assert!(told.elapsed() < Duration::from_secs(5));
        assert_committed(&db, ["third", "won"].map(String::from).into_iter()).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_member_dropped_alone_does_not_keep_the_database_locked() {
        let (w, db) = writer().await;
        let r = tokio::time::timeout(
            Duration::from_millis(50),
            w.transaction(async |c: &mut SqliteConn| {
                insert(c, "dropped").await?;
                tokio::time::sleep(Duration::from_secs(10)).await;
                Ok(())
            }),
        )
        .await;
        assert!(r.is_err());
        // Another process can write at once (it would wait for the 5 s busy timeout and
        // fail if the dropped member's transaction were still open).
        let mut other = open_sqlite(&db.0).await.unwrap();
        other
            .batch_execute("PRAGMA busy_timeout = 1000; INSERT INTO t (name) VALUES ('other')")
            .await
            .expect("the database is not left locked");
        drop(other);
        // And this writer goes on.
        w.transaction(async |c: &mut SqliteConn| insert(c, "after").await)
            .await
            .unwrap();
        assert_eq!(committed(&db).await, vec!["after", "other"]);
        let mut c = open_sqlite(&db.0).await.unwrap();
        let n: Vec<Count> = diesel::sql_query("SELECT COUNT(*) AS n FROM t WHERE name = 'dropped'")
            .load(&mut c)
            .await
            .unwrap();
        assert_eq!(n[0].n, 0);
    }
}
