//! A bounded cache with expiry and single flight: the first request for a
//! key starts the work on its own thread, every request for that key
//! (the first included) waits for it until its own deadline, and the result
//! is kept for a time that depends on it (long for a pass, short for a
//! failure). A request that runs out of time gets `None` and answers
//! without it; the work finishes and fills the cache for the next one.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Where an answer came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// Cached.
    Hit,
    /// Computed for this request.
    Miss,
    /// Computed for a concurrent request and shared.
    Shared,
    /// Not computed: as many computations as allowed are running already.
    Busy,
}

#[derive(Debug)]
struct Flight<V> {
    /// `Some(None)`: the work panicked.
    done: Mutex<Option<Option<V>>>,
    cv: Condvar,
}

#[derive(Debug)]
enum Slot<V> {
    Ready(V, Instant),
    Pending(Arc<Flight<V>>),
}

/// The cache.
#[derive(Debug)]
pub struct Cache<K, V> {
    map: Mutex<HashMap<K, Slot<V>>>,
    capacity: usize,
    /// Computations running, and how many may (each is a thread).
    running: std::sync::atomic::AtomicUsize,
    workers: usize,
}

impl<K, V> Cache<K, V>
where
    K: Eq + Hash + Clone + Send + 'static,
    V: Clone + Send + 'static,
{
    /// A cache of at most `capacity` answers, computing at most `workers`
    /// at once.
    #[must_use]
    pub fn new(capacity: usize, workers: usize) -> Arc<Self> {
        Arc::new(Self {
            map: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
            running: std::sync::atomic::AtomicUsize::new(0),
            workers: workers.max(1),
        })
    }

    /// A fresh cached answer, without waiting or starting work.
    pub fn peek(&self, key: &K) -> Option<V> {
        let map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        match map.get(key) {
            Some(Slot::Ready(v, until)) if *until > Instant::now() => Some(v.clone()),
            _ => None,
        }
    }

    /// The answer for `key`: cached, or computed by `work` (on its own
    /// thread, once for all concurrent callers), which also says how long
    /// to keep it. `None` when it is not ready by `deadline`.
    pub fn get(
        self: &Arc<Self>,
        key: K,
        deadline: Instant,
        work: impl FnOnce() -> (V, Duration) + Send + 'static,
    ) -> (Option<V>, Source) {
        let (flight, source) = {
            let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
            match map.get(&key) {
                Some(Slot::Ready(v, until)) if *until > Instant::now() => {
                    return (Some(v.clone()), Source::Hit);
                }
                Some(Slot::Pending(f)) => (f.clone(), Source::Shared),
                _ => {
                    use std::sync::atomic::Ordering::SeqCst;
                    // Work nobody will wait for is not started, and the
                    // number of threads is bounded: past it, the answer is
                    // "busy" (a denial, for admission), never a new thread.
                    if Instant::now() >= deadline {
                        return (None, Source::Miss);
                    }
                    if self
                        .running
                        .fetch_update(SeqCst, SeqCst, |n| (n < self.workers).then_some(n + 1))
                        .is_err()
                    {
                        return (None, Source::Busy);
                    }
                    let f = Arc::new(Flight {
                        done: Mutex::new(None),
                        cv: Condvar::new(),
                    });
                    self.evict(&mut map);
                    map.insert(key.clone(), Slot::Pending(f.clone()));
                    let (cache, f2, k2) = (Arc::clone(self), f.clone(), key.clone());
                    let spawned = std::thread::Builder::new()
                        .name("bulwark-verify".into())
                        .spawn(move || {
                            // A panic must not leave the key pending for
                            // ever: the slot is dropped and the waiters
                            // answer without it (a denial, for admission).
                            let result =
                                std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
                            let mut map = cache.map.lock().unwrap_or_else(PoisonError::into_inner);
                            let outcome = match result {
                                Ok((v, keep)) => {
                                    map.insert(k2, Slot::Ready(v.clone(), Instant::now() + keep));
                                    Some(v)
                                }
                                Err(_) => {
                                    map.remove(&k2);
                                    None
                                }
                            };
                            drop(map);
                            cache.running.fetch_sub(1, SeqCst);
                            *f2.done.lock().unwrap_or_else(PoisonError::into_inner) = Some(outcome);
                            f2.cv.notify_all();
                        });
                    if spawned.is_err() {
                        map.remove(&key);
                        self.running.fetch_sub(1, SeqCst);
                        return (None, Source::Busy);
                    }
                    (f, Source::Miss)
                }
            }
        };
        let mut done = flight.done.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(v) = done.as_ref() {
                return (v.clone(), source);
            }
            let now = Instant::now();
            if now >= deadline {
                return (None, source);
            }
            done = flight
                .cv
                .wait_timeout(done, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Makes room for one more: expired answers go first, then the answers
    /// that expire soonest (a tenth of the cache at a time).
    fn evict(&self, map: &mut HashMap<K, Slot<V>>) {
        if map.len() < self.capacity {
            return;
        }
        let now = Instant::now();
        map.retain(|_, s| !matches!(s, Slot::Ready(_, until) if *until <= now));
        if map.len() < self.capacity {
            return;
        }
        let mut ready: Vec<(Instant, K)> = map
            .iter()
            .filter_map(|(k, s)| match s {
                Slot::Ready(_, until) => Some((*until, k.clone())),
                Slot::Pending(_) => None,
            })
            .collect();
        ready.sort_by_key(|(until, _)| *until);
        for (_, k) in ready.into_iter().take(self.capacity / 10 + 1) {
            map.remove(&k);
        }
    }

    /// Answers held (ready or pending).
    pub fn len(&self) -> usize {
        self.map
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn keep(v: Result<u32, String>) -> (Result<u32, String>, Duration) {
        let d = if v.is_ok() {
            Duration::from_secs(60)
        } else {
            Duration::from_millis(50)
        };
        (v, d)
    }

    #[test]
    fn concurrent_requests_share_one_computation() {
        let cache = Cache::<&str, Result<u32, String>>::new(10, 16);
        let runs = Arc::new(AtomicUsize::new(0));
        let deadline = Instant::now() + Duration::from_secs(10);
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (cache, runs) = (cache.clone(), runs.clone());
                std::thread::spawn(move || {
                    cache.get("sha256:a", deadline, move || {
                        runs.fetch_add(1, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(100));
                        keep(Ok(7))
                    })
                })
            })
            .collect();
        let results: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert!(results.iter().all(|(v, _)| *v == Some(Ok(7))));
        assert_eq!(
            results.iter().filter(|(_, s)| *s == Source::Miss).count(),
            1
        );
        let (v, s) = cache.get("sha256:a", deadline, || keep(Ok(8)));
        assert_eq!((v, s), (Some(Ok(7)), Source::Hit));
    }

    #[test]
    fn computations_are_bounded() {
        let cache = Cache::<u32, Result<u32, String>>::new(10, 2);
        let later = Instant::now() + Duration::from_secs(5);
        for k in 0..2 {
            let soon = Instant::now() + Duration::from_millis(10);
            cache.get(k, soon, || {
                std::thread::sleep(Duration::from_millis(200));
                keep(Ok(0))
            });
        }
        let (v, s) = cache.get(9, later, || keep(Ok(9)));
        assert_eq!((v, s), (None, Source::Busy));
        std::thread::sleep(Duration::from_millis(300));
        let (v, _) = cache.get(9, later, || keep(Ok(9)));
        assert_eq!(v, Some(Ok(9)));
        // Past its deadline, nothing is started.
        let past = Instant::now() - Duration::from_millis(1);
        assert_eq!(cache.get(10, past, || keep(Ok(10))).0, None);
    }

    #[test]
    fn a_panicking_computation_leaves_nothing_pending() {
        let cache = Cache::<u32, Result<u32, String>>::new(10, 16);
        let later = Instant::now() + Duration::from_secs(5);
        let (v, _) = cache.get(1, later, || panic!("boom"));
        assert_eq!(v, None);
        let (v, s) = cache.get(1, later, || keep(Ok(1)));
        assert_eq!((v, s), (Some(Ok(1)), Source::Miss));
    }

    #[test]
    fn deadlines_failures_and_the_size_bound() {
        let cache = Cache::<u32, Result<u32, String>>::new(10, 16);
        // Too slow: no answer by the deadline, the work still fills the cache.
        let soon = Instant::now() + Duration::from_millis(20);
        let (v, _) = cache.get(1, soon, || {
            std::thread::sleep(Duration::from_millis(100));
            keep(Ok(1))
        });
        assert_eq!(v, None);
        std::thread::sleep(Duration::from_millis(150));
        assert_eq!(cache.peek(&1), Some(Ok(1)));
        // Failures are kept briefly.
        let later = Instant::now() + Duration::from_secs(5);
        cache.get(2, later, || keep(Err("down".into())));
        assert!(cache.peek(&2).is_some());
        std::thread::sleep(Duration::from_millis(80));
        assert!(cache.peek(&2).is_none());
        let (v, s) = cache.get(2, later, || keep(Ok(2)));
        assert_eq!((v, s), (Some(Ok(2)), Source::Miss));
        for k in 10..100 {
            cache.get(k, later, move || keep(Ok(k)));
        }
        assert!(cache.len() <= 10, "{}", cache.len());
    }
}
