//! Values kept in memory for a while, per database and city: what is read often and changes
//! rarely (boundaries, public statistics, and what every submission reads: categories, the work
//! calendar, deadline kinds, message wording). Another instance's change is seen when the time is
//! up; this instance's own change calls `forget`.

use std::collections::HashMap;
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
    map: Mutex<HashMap<String, (Instant, Arc<T>)>>,
}

impl<T> Memo<T> {
    pub fn new(ttl: Duration) -> Memo<T> {
        Memo {
            ttl,
            map: Mutex::new(HashMap::new()),
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
            map.retain(|_, (at, _)| at.elapsed() < self.ttl);
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
}
