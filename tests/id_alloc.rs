//! Making, encoding, parsing and displaying IDs allocate nothing on the heap.
//!
//! A counting global allocator counts every allocation of the process. The file runs without
//! the libtest harness (`harness = false` in `Cargo.toml`), so no other thread allocates while
//! a section is measured.

use std::alloc::{GlobalAlloc, Layout, System};
use std::fmt::Write as _;
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};

use audit_core::{AnyId, EventId, PrefixedId};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller upholds `alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller upholds `alloc_zeroed`'s contract.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller upholds `realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller upholds `dealloc`'s contract.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[derive(PrefixedId)]
#[id(prefix = "user")]
struct UserId([u8; 16]);

#[derive(PrefixedId)]
#[id(prefix = "oevt", sortable)]
struct OrderEventId([u8; 16]);

/// Enough IDs to cross the generator's 64 KiB reseed threshold several times.
const ROUNDS: usize = 20_000;

/// How many allocations `f` makes.
fn allocations(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    f();
    ALLOCATIONS.load(Ordering::Relaxed) - before
}

fn assert_no_allocation(name: &str, f: impl FnOnce()) {
    let n = allocations(f);
    assert_eq!(n, 0, "{name}: {n} heap allocations");
    println!("test {name} ... ok");
}

fn main() {
    println!("\nrunning 8 tests");

    // The counter sees allocations, so a zero below means something.
    let n = allocations(|| drop(black_box(Vec::<u8>::with_capacity(black_box(8)))));
    assert_eq!(n, 1, "the counting allocator works");
    println!("test counter_counts ... ok");

    // Warm up: seed this thread's generator, register the fork handler.
    black_box(UserId::new());
    black_box(OrderEventId::new());
    black_box(EventId::new());

    assert_no_allocation("new_plain", || {
        for _ in 0..ROUNDS {
            black_box(UserId::new());
        }
    });
    assert_no_allocation("new_sortable", || {
        for _ in 0..ROUNDS {
            black_box(OrderEventId::new());
            black_box(EventId::new());
        }
    });

    let user = UserId::new();
    let event = OrderEventId::new();
    assert_no_allocation("encode", || {
        for _ in 0..ROUNDS {
            black_box(black_box(user).encode());
            black_box(black_box(event).encode());
        }
    });

    let user_text = user.to_string();
    let event_text = event.to_string();
    assert_no_allocation("parse_valid", || {
        for _ in 0..ROUNDS {
            assert_eq!(UserId::parse(black_box(&user_text)), Ok(user));
            assert_eq!(OrderEventId::parse(black_box(&event_text)), Ok(event));
            assert_eq!(black_box(&user_text).parse::<UserId>(), Ok(user));
        }
    });

    let long = "x".repeat(1 << 20);
    let invalid = [
        "",
        "user",
        "user_8hWAb-kHmq5nmfE-xPggAB",
        "user_8hWAb-kHmq5nmfE-xPgg!A",
        "wdgt_fwz7uz86mmt1Crr2D-jnPA",
        &long,
    ];
    assert_no_allocation("parse_invalid", || {
        for _ in 0..ROUNDS / 10 {
            for s in invalid {
                assert!(UserId::parse(black_box(s)).is_err());
            }
        }
    });

    let mut out = String::with_capacity(64);
    assert_no_allocation("display_into_preallocated_string", || {
        for _ in 0..ROUNDS {
            out.clear();
            write!(out, "{}", black_box(user)).expect("fmt");
            out.clear();
            write!(out, "{}", black_box(event)).expect("fmt");
        }
    });
    assert_eq!(out, event_text);

    // Resolving a registered ID walks a static list.
    let any = AnyId::from(user);
    assert_no_allocation("any_id_parse_valid", || {
        for _ in 0..ROUNDS / 10 {
            assert_eq!(AnyId::parse(black_box(&user_text)), Ok(any));
        }
    });

    println!("\ntest result: ok. 8 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out\n");
}
