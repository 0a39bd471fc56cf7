//! Random bits for IDs: a thread-local CSPRNG, reseeded in a forked child.
//!
//! Each thread keeps a ChaCha12 generator seeded from the operating system and reseeded from
//! it every 64 KiB of output. A process that forks must never repeat its parent's IDs, and the
//! child inherits the parent's generator state: a `pthread_atfork` child handler bumps a
//! process-wide generation counter, and a generator whose generation is stale reseeds before
//! its next use. The fast path is one relaxed atomic load, with no system call per ID.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};

use rand::RngCore;
use rand::rngs::{OsRng, ReseedingRng};
use rand_chacha::ChaCha12Core;

/// Bytes of output after which a thread's generator reseeds from the operating system.
const RESEED_THRESHOLD: u64 = 64 * 1024;

/// Bumped in the child after every `fork`.
static FORK_GENERATION: AtomicU64 = AtomicU64::new(0);

type Rng = ReseedingRng<ChaCha12Core, OsRng>;

struct ThreadRng {
    generation: u64,
    rng: Rng,
}

thread_local! {
    static RNG: RefCell<Option<ThreadRng>> = const { RefCell::new(None) };
}

#[cfg(unix)]
fn register_fork_handler() {
    use std::sync::Once;
    static REGISTER: Once = Once::new();
    extern "C" fn child() {
        FORK_GENERATION.fetch_add(1, Ordering::Relaxed);
    }
    REGISTER.call_once(|| {
        // SAFETY: `child` is async-signal-safe (one atomic add) and lives for the whole
        // program. A failure (ENOMEM) leaves fork detection off; IDs stay random, and the
        // next thread to seed a generator tries again.
        unsafe {
            libc::pthread_atfork(None, None, Some(child));
        }
    });
}

#[cfg(not(unix))]
fn register_fork_handler() {}

fn seeded() -> ThreadRng {
    register_fork_handler();
    // Read the generation after registering, so that a fork in between reseeds again.
    let generation = FORK_GENERATION.load(Ordering::Relaxed);
    match ReseedingRng::new(RESEED_THRESHOLD, OsRng) {
        Ok(rng) => ThreadRng { generation, rng },
        // As with `rand::rng()`: without the operating system's entropy no ID can be safe,
        // and there is nothing sensible to return instead.
        Err(err) => {
            panic!("audit-core: the operating system's random number generator failed: {err}")
        }
    }
}

/// Runs `f` on this thread's generator, seeding it first if this thread has none yet or the
/// process forked since it was seeded.
#[inline]
fn with_rng<R>(f: impl FnOnce(&mut Rng) -> R) -> R {
    RNG.with(|cell| {
        let mut slot = cell.borrow_mut();
        let generation = FORK_GENERATION.load(Ordering::Relaxed);
        let state = match &mut *slot {
            Some(state) if state.generation == generation => state,
            stale => reseed(stale),
        };
        f(&mut state.rng)
    })
}

/// Out of line: the fast path stays a flag check, a load and a compare.
#[cold]
#[inline(never)]
fn reseed(slot: &mut Option<ThreadRng>) -> &mut ThreadRng {
    slot.insert(seeded())
}

/// 16 random bytes.
#[inline]
pub(crate) fn bytes16() -> [u8; 16] {
    let mut out = [0u8; 16];
    with_rng(|rng| rng.fill_bytes(&mut out));
    out
}

/// 64 random bits.
#[inline]
pub(crate) fn u64() -> u64 {
    with_rng(RngCore::next_u64)
}
