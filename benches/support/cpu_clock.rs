//! A criterion measurement of the benchmark thread's CPU time, so that other processes on a
//! shared machine do not count; wall time when the given environment variable is set, or off
//! unix. Included by the benches with `#[path]`.

use criterion::measurement::{Measurement, ValueFormatter, WallTime};

/// Thread CPU time in nanoseconds (or wall time).
pub struct Clock {
    cpu: bool,
    origin: std::time::Instant,
    wall: WallTime,
}

impl Clock {
    /// CPU time, unless `wall_env` is set in the environment.
    pub fn new(wall_env: &str) -> Self {
        Clock {
            cpu: cfg!(unix) && std::env::var_os(wall_env).is_none(),
            origin: std::time::Instant::now(),
            wall: WallTime,
        }
    }

    fn now(&self) -> u64 {
        #[cfg(unix)]
        if self.cpu {
            let mut ts = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            // SAFETY: `ts` is a valid, writable `timespec`; the clock id is a constant that
            // every supported unix defines.
            let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &raw mut ts) };
            assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
            let secs = u64::try_from(ts.tv_sec).expect("non-negative");
            let nanos = u64::try_from(ts.tv_nsec).expect("non-negative");
            return secs * 1_000_000_000 + nanos;
        }
        u64::try_from(self.origin.elapsed().as_nanos()).expect("a benchmark run is short")
    }
}

impl Measurement for Clock {
    type Intermediate = u64;
    type Value = u64;

    fn start(&self) -> u64 {
        self.now()
    }
    fn end(&self, start: u64) -> u64 {
        self.now() - start
    }
    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }
    fn zero(&self) -> u64 {
        0
    }
    #[allow(clippy::cast_precision_loss)]
    fn to_f64(&self, value: &u64) -> f64 {
        *value as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        // Nanoseconds, like wall time: reuse its formatting.
        self.wall.formatter()
    }
}
