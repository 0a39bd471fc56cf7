//! Time-ordered IDs in the UUIDv7 layout of RFC 9562.
//!
//! ```text
//!  0               1               2               3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                    unix_ts_ms (48 bits) ...                   |
//! |  ... unix_ts_ms               |  ver  |  counter (12 bits)    |
//! |var|                  random (62 bits) ...                     |
//! |                     ... random                                |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! Monotonic within a process: one atomic holds the last `(milliseconds, counter)` pair as a
//! 60-bit number, and each new ID takes `max(now << 12, last + 1)`. The clock never goes back,
//! IDs in the same millisecond take the next counter value, and a counter overflow carries into
//! the next millisecond.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// `(unix_ms << 12) | counter` of the last ID made in this process.
static LAST: AtomicU64 = AtomicU64::new(0);

const MS_MASK: u64 = (1 << 48) - 1;

/// Unix time in milliseconds, masked to 48 bits. A clock before 1970 counts as 0: the
/// monotonic rule then keeps order.
#[cfg(unix)]
#[inline]
fn now_ms() -> u64 {
    // `clock_gettime` directly rather than `SystemTime::now().duration_since(UNIX_EPOCH)`:
    // the same vDSO call without std's conversions, which cost about a fifth of a sortable
    // ID.
    // SAFETY: all-zero bytes are a valid `timespec` (integers, plus padding on some targets);
    // `clock_gettime` writes through a pointer to it that is valid for the whole call; and
    // `CLOCK_REALTIME` exists on every unix. On failure, `ts` is not used.
    let (rc, ts) = unsafe {
        let mut ts: libc::timespec = std::mem::zeroed();
        (libc::clock_gettime(libc::CLOCK_REALTIME, &raw mut ts), ts)
    };
    if rc != 0 {
        return now_ms_std();
    }
    let ms = u64::try_from(ts.tv_sec).map_or(0, |secs| {
        // `tv_nsec` is below 10^9.
        let nanos = u64::try_from(ts.tv_nsec).unwrap_or(0);
        secs.saturating_mul(1000).saturating_add(nanos / 1_000_000)
    });
    ms & MS_MASK
}

#[cfg(not(unix))]
#[inline]
fn now_ms() -> u64 {
    now_ms_std()
}

/// [`now_ms`] through `std`.
fn now_ms_std() -> u64 {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    u64::try_from(ms).unwrap_or(u64::MAX) & MS_MASK
}

/// The next `(unix_ms << 12) | counter` value for the clock reading `now_ms`: strictly
/// greater than every earlier one.
fn next_timestamp(now_ms: u64) -> u64 {
    let now = (now_ms & MS_MASK) << 12;
    let mut last = LAST.load(Ordering::Relaxed);
    loop {
        let next = now.max(last + 1);
        match LAST.compare_exchange_weak(last, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return next,
            Err(seen) => last = seen,
        }
    }
}

/// 16 bytes of a new sortable ID.
#[inline]
pub(crate) fn bytes16() -> [u8; 16] {
    bytes16_at(now_ms())
}

/// [`bytes16`] for a clock reading the caller made (Unix milliseconds), so that an event's
/// ID and its timestamp come from one reading.
pub(crate) fn bytes16_at(unix_ms: u64) -> [u8; 16] {
    let ts = next_timestamp(unix_ms);
    // `ts` is `(unix_ms << 12) | counter`: the first 64 bits are the 48 bits of milliseconds,
    // version 7, then the 12-bit counter.
    let ms = (ts >> 12) & MS_MASK;
    let counter = ts & 0xFFF;
    let hi = (ms << 16) | 0x7000 | counter;
    // Variant `10`, then 62 random bits.
    let lo = 0x8000_0000_0000_0000 | (super::random::u64() >> 2);
    ((u128::from(hi) << 64) | u128::from(lo)).to_be_bytes()
}

/// The millisecond timestamp a sortable ID was made at.
pub(crate) fn timestamp_ms(bytes: &[u8; 16]) -> u64 {
    let mut be = [0u8; 8];
    be[2..].copy_from_slice(&bytes[..6]);
    u64::from_be_bytes(be)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_and_order() {
        let mut prev = bytes16();
        for _ in 0..100_000 {
            let next = bytes16();
            assert!(next > prev, "{next:?} <= {prev:?}");
            assert_eq!(next[6] >> 4, 7, "version");
            assert_eq!(next[8] >> 6, 0b10, "variant");
            prev = next;
        }
        let now = now_ms();
        assert!(
            now.abs_diff(now_ms_std()) < 1_000,
            "libc and std clocks agree"
        );
        let ts = timestamp_ms(&prev);
        // The counter may have borrowed a few milliseconds ahead.
        assert!(ts.abs_diff(now) < 60_000, "{ts} vs {now}");

        // Counter overflow borrows the next millisecond. Checked after the clock test, in the
        // same test, because it moves the process-wide state far into the future.
        let base = (now_ms() + 10_000_000) << 12;
        LAST.store(base | 0xFFE, Ordering::Relaxed);
        assert_eq!(next_timestamp(now_ms()), base | 0xFFF);
        assert_eq!(next_timestamp(now_ms()), base + 0x1000);
    }
}
