//! A coarse clock for activity stamps: one relaxed load per I/O instead of
//! a `clock_gettime` (idle limits are whole seconds; 20 ms is plenty).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

static EPOCH: OnceLock<Instant> = OnceLock::new();
static NOW_MS: AtomicU64 = AtomicU64::new(0);

/// How often the clock advances.
const TICK: Duration = Duration::from_millis(20);

fn epoch() -> Instant {
    *EPOCH.get_or_init(|| {
        // The ticker starts with the first use.
        let _ = std::thread::Builder::new()
            .name("wick-clock".into())
            .spawn(|| {
                loop {
                    std::thread::sleep(TICK);
                    if let Some(e) = EPOCH.get() {
                        NOW_MS.store(e.elapsed().as_millis() as u64, Ordering::Relaxed);
                    }
                }
            });
        Instant::now()
    })
}

/// Milliseconds since the clock started, to within a tick.
pub fn now_ms() -> u64 {
    let _ = epoch();
    NOW_MS.load(Ordering::Relaxed)
}

/// The instant `ms` milliseconds after the clock started.
pub fn instant(ms: u64) -> Instant {
    epoch() + Duration::from_millis(ms)
}
