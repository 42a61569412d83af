//! Values kept in memory for a while, per database and city: what is read often and changes
//! rarely (boundaries, public statistics, and what every submission reads: categories, the work
//! calendar, deadline kinds, message wording). Another instance's change is seen when the time is
//! up; this instance's own change calls `forget`.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::city::City;
use crate::db::Db;

/// The key of a city in a database (tests run many databases with the same city code).
pub fn key(db: &Db, city: &City) -> String {
    key_of(db.id(), city)
}

/// The same key from a database's id (what a transaction knows of its database).
pub fn key_of(db_id: &str, city: &City) -> String {
    format!("{db_id}|{}", city.code)
}

pub struct Memo<T> {
    ttl: Duration,
    /// How long past `ttl` a value may still be served while it is read anew
    /// ([`Memo::get_or_refresh`]); zero for the rest.
    stale_for: Duration,
    map: Mutex<HashMap<String, (Instant, Arc<T>)>>,
    /// Keys being read anew in the background.
    refreshing: Mutex<HashSet<String>>,
}

impl<T> Memo<T> {
    pub fn new(ttl: Duration) -> Memo<T> {
        Memo::stale_while_refreshing(ttl, Duration::ZERO)
    }

    /// Values that are fresh for `ttl`, then served for up to `stale_for` more while one task
    /// reads them anew: what is slow to count and may be a few minutes old (public figures).
    pub fn stale_while_refreshing(ttl: Duration, stale_for: Duration) -> Memo<T> {
        Memo {
            ttl,
            stale_for,
            map: Mutex::new(HashMap::new()),
            refreshing: Mutex::new(HashSet::new()),
        }
    }

    /// The value, while it is fresh.
    pub fn get(&self, key: &str) -> Option<Arc<T>> {
        let map = self.map.lock().ok()?;
        map.get(key)
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, v)| v.clone())
    }

    pub fn put(&self, key: String, value: T) -> Arc<T> {
        let v = Arc::new(value);
        if let Ok(mut map) = self.map.lock() {
            map.retain(|_, (at, _)| at.elapsed() < self.ttl + self.stale_for);
            map.insert(key, (Instant::now(), v.clone()));
        }
        v
    }

    /// The fresh value, or else what `load` reads, kept from now on.
    pub async fn get_or_load<E>(
        &self,
        key: String,
        load: impl AsyncFnOnce() -> Result<T, E>,
    ) -> Result<Arc<T>, E> {
        match self.get(&key) {
            Some(v) => Ok(v),
            None => Ok(self.put(key, load().await?)),
        }
    }

    /// The kept value, fresh or not yet too stale; when it is past its time, one task (not
    /// every caller) reads it anew in the background, and the callers meanwhile get the old
    /// one. Only the first caller, with nothing kept, waits for `load`. A failed background
    /// read is logged and tried again by a later caller.
    pub async fn get_or_refresh<E, F, Fut>(&'static self, key: String, load: F) -> Result<Arc<T>, E>
    where
        T: Send + Sync + 'static,
        E: std::fmt::Debug + Send + 'static,
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
    {
        let kept = self.map.lock().ok().and_then(|map| {
            map.get(&key)
                .filter(|(at, _)| at.elapsed() < self.ttl + self.stale_for)
                .map(|(at, v)| (at.elapsed() < self.ttl, v.clone()))
        });
        match kept {
            Some((true, v)) => Ok(v),
            Some((false, v)) => {
                let first = self
                    .refreshing
                    .lock()
                    .map(|mut r| r.insert(key.clone()))
                    .unwrap_or(false);
                if first {
                    tokio::spawn(async move {
                        match load().await {
                            Ok(fresh) => {
                                self.put(key.clone(), fresh);
                            }
                            Err(e) => tracing::warn!(?e, key, "refreshing a kept value failed"),
                        }
                        if let Ok(mut r) = self.refreshing.lock() {
                            r.remove(&key);
                        }
                    });
                }
                Ok(v)
            }
            None => Ok(self.put(key, load().await?)),
        }
    }

    pub fn forget(&self, key: &str) {
        if let Ok(mut map) = self.map.lock() {
            map.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_expire_and_can_be_forgotten() {
        let m: Memo<u32> = Memo::new(Duration::from_millis(50));
        assert!(m.get("a").is_none());
        assert_eq!(*m.put("a".into(), 7), 7);
        assert_eq!(m.get("a").as_deref(), Some(&7));
        m.forget("a");
        assert!(m.get("a").is_none());
        m.put("b".into(), 1);
        std::thread::sleep(Duration::from_millis(60));
        assert!(m.get("b").is_none(), "expired");
    }

    #[tokio::test]
    async fn a_stale_value_is_served_while_one_task_reads_it_anew() {
        use std::sync::atomic::{AtomicU32, Ordering};
        use tokio::sync::Semaphore;
        use tokio::time::{sleep, timeout};
        const TTL: Duration = Duration::from_millis(300);
        static M: std::sync::LazyLock<Memo<u32>> =
            std::sync::LazyLock::new(|| Memo::stale_while_refreshing(TTL, Duration::from_secs(60)));
        // A read counts itself, then waits for the test to let it finish (a permit), and gives
        // how many reads have finished.
        static STARTED: AtomicU32 = AtomicU32::new(0);
        static DONE: AtomicU32 = AtomicU32::new(0);
        static GATE: Semaphore = Semaphore::const_new(0);
        let load = || async {
            STARTED.fetch_add(1, Ordering::SeqCst);
            GATE.acquire().await.unwrap().forget();
            Ok::<u32, ()>(DONE.fetch_add(1, Ordering::SeqCst) + 1)
        };
        let soon = Duration::from_secs(5);
        // Waits (a while at most) for what the background task does.
        async fn until(done: impl Fn() -> bool) {
            for _ in 0..250 {
                if done() {
                    return;
                }
                sleep(Duration::from_millis(20)).await;
            }
        }
        // Nothing kept: the first caller waits for the read.
        GATE.add_permits(1);
        let v = timeout(soon, M.get_or_refresh("k".into(), load)).await;
        assert_eq!(*v.unwrap().unwrap(), 1);
        sleep(TTL + Duration::from_millis(50)).await;
        // Past its time: callers get the old value without waiting for the read (which cannot
        // finish yet), and only one read starts.
        for _ in 0..5 {
            let v = timeout(soon, M.get_or_refresh("k".into(), load)).await;
            assert_eq!(*v.expect("did not wait").unwrap(), 1);
        }
        until(|| STARTED.load(Ordering::SeqCst) == 2).await;
        sleep(Duration::from_millis(50)).await;
        assert_eq!(
            STARTED.load(Ordering::SeqCst),
            2,
            "one read in the background"
        );
        GATE.add_permits(1);
        until(|| DONE.load(Ordering::SeqCst) == 2).await;
        assert_eq!(
            *M.get_or_refresh("k".into(), load).await.unwrap(),
            2,
            "the new value"
        );
        // A failed read keeps the old value, and a later caller tries again.
        sleep(TTL + Duration::from_millis(50)).await;
        let fail = || async { Err::<u32, ()>(()) };
        assert_eq!(*M.get_or_refresh("k".into(), fail).await.unwrap(), 2);
        sleep(Duration::from_millis(50)).await;
        GATE.add_permits(1);
        assert_eq!(*M.get_or_refresh("k".into(), load).await.unwrap(), 2);
        until(|| DONE.load(Ordering::SeqCst) == 3).await;
        assert_eq!(*M.get_or_refresh("k".into(), load).await.unwrap(), 3);
    }
}
