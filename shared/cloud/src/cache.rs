//! A short-lived cache of infrastructure listings. Listing an application's server groups
//! reads every Auto Scaling group, target group health, launch template and image of a
//! region; Deck asks for it every few seconds from every open tab. Like Clouddriver's
//! cache, a listing may be a few seconds old; stages never read through it.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct ListingCache<V> {
    ttl: Duration,
    entries: Mutex<HashMap<String, (Instant, V)>>,
}

impl<V: Clone> ListingCache<V> {
    /// A cache keeping listings for `ttl`; zero keeps nothing.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The listing stored under `key` if it is younger than the time to live at `now`.
    pub fn get(&self, key: &str, now: Instant) -> Option<V> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let (stored_at, value) = entries.get(key)?;
        (now.saturating_duration_since(*stored_at) < self.ttl).then(|| value.clone())
    }

    /// Stores `value` under `key` as read at `now`, dropping expired entries.
    pub fn put(&self, key: &str, value: V, now: Instant) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.retain(|_, (stored_at, _)| now.saturating_duration_since(*stored_at) < self.ttl);
        entries.insert(key.to_string(), (now, value));
    }

    /// The cached listing of `key`, or a fresh one from `read` (stored when it succeeds).
    pub async fn get_or_read<E, F, Fut>(&self, key: &str, read: F) -> Result<V, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>>,
    {
        if let Some(value) = self.get(key, Instant::now()) {
            return Ok(value);
        }
        let value = read().await?;
        self.put(key, value.clone(), Instant::now());
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listing_is_served_until_it_expires() {
        let cache = ListingCache::new(Duration::from_secs(5));
        let start = Instant::now();
        cache.put("a", 1, start);
        assert_eq!(cache.get("a", start + Duration::from_secs(4)), Some(1));
        assert_eq!(cache.get("a", start + Duration::from_secs(5)), None);
        assert_eq!(cache.get("b", start), None);
    }

    #[test]
    fn a_zero_time_to_live_keeps_nothing() {
        let cache = ListingCache::new(Duration::ZERO);
        let now = Instant::now();
        cache.put("a", 1, now);
        assert_eq!(cache.get("a", now), None);
    }

    #[test]
    fn expired_entries_are_dropped_on_the_next_put() {
        let cache = ListingCache::new(Duration::from_secs(1));
        let start = Instant::now();
        cache.put("old", 1, start);
        cache.put("new", 2, start + Duration::from_secs(2));
        assert_eq!(cache.entries.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_failed_read_is_not_cached() {
        let cache: ListingCache<i32> = ListingCache::new(Duration::from_secs(60));
        let failed: Result<i32, &str> = cache.get_or_read("a", || async { Err("down") }).await;
        assert_eq!(failed, Err("down"));
        let read: Result<i32, &str> = cache.get_or_read("a", || async { Ok(7) }).await;
        assert_eq!(read, Ok(7));
        let cached: Result<i32, &str> = cache.get_or_read("a", || async { Ok(8) }).await;
        assert_eq!(cached, Ok(7));
    }
}
