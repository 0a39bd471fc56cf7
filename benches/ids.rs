//! IDs side by side with the crates a user would pick instead, in one run.
//!
//! ```sh
//! cargo bench --bench ids -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! Two groups: `generate_encode` (a new ID, written out as text into a buffer that needs no
//! heap allocation where the crate allows it) and `parse` (text back to the value). The
//! `floor` entries are the least any 16-byte base64url ID can cost: `rand`'s thread-local
//! generator plus the `base64` crate, with no type, prefix check or canonical-form check.
//! Compare within one run only, as ratios.
//!
//! Times are the benchmark thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`), not wall time, so
//! that other processes on a shared machine do not count against whichever entry was running
//! when the scheduler switched; set `IDS_BENCH_WALL=1` to measure wall time instead.

use std::fmt::Write as _;
use std::hint::black_box;

use audit_core::{AnyId, PrefixedId};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{Criterion, criterion_group, criterion_main};

#[path = "support/cpu_clock.rs"]
mod cpu_clock;
use cpu_clock::Clock;
use rand::RngCore as _;
use type_safe_id::{StaticType, TypeSafeId};
use ulid::Ulid;
use uuid::Uuid;

#[derive(PrefixedId)]
#[id(prefix = "user")]
pub struct UserId([u8; 16]);

#[derive(PrefixedId)]
#[id(prefix = "oevt", sortable)]
pub struct OrderEventId([u8; 16]);

#[derive(Default)]
struct User;

impl StaticType for User {
    const TYPE: &'static str = "user";
}

type TypedUserId = TypeSafeId<User>;

const PREFIX: &[u8] = b"user_";
/// `user_` + 22 base64url characters.
const FLOOR_LEN: usize = 5 + 22;

/// The floor: 16 random bytes from `rand`'s thread-local generator, base64url-encoded after
/// the prefix into a stack buffer.
fn floor_generate_encode(buf: &mut [u8; FLOOR_LEN]) -> &str {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    buf[..PREFIX.len()].copy_from_slice(PREFIX);
    let n = URL_SAFE_NO_PAD
        .encode_slice(bytes, &mut buf[PREFIX.len()..])
        .expect("22 characters fit");
    std::str::from_utf8(&buf[..PREFIX.len() + n]).expect("ascii")
}

/// The floor: strip the prefix, base64url-decode into a stack buffer.
fn floor_parse(s: &str) -> Option<[u8; 16]> {
    let suffix = s.as_bytes().strip_prefix(PREFIX)?;
    let mut out = [0u8; 16];
    match URL_SAFE_NO_PAD.decode_slice(suffix, &mut out) {
        Ok(16) => Some(out),
        _ => None,
    }
}

fn generate_encode(c: &mut Criterion<Clock>) {
    let mut g = c.benchmark_group("generate_encode");

    g.bench_function("ours (plain)", |b| {
        b.iter(|| {
            let text = UserId::new().encode();
            black_box(text);
        });
    });
    g.bench_function("ours (sortable)", |b| {
        b.iter(|| {
            let text = OrderEventId::new().encode();
            black_box(text);
        });
    });
    g.bench_function("uuid v4", |b| {
        b.iter(|| {
            let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
            let text: &str = Uuid::new_v4().hyphenated().encode_lower(&mut buf);
            black_box(text);
        });
    });
    g.bench_function("uuid v7", |b| {
        b.iter(|| {
            let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
            let text: &str = Uuid::now_v7().hyphenated().encode_lower(&mut buf);
            black_box(text);
        });
    });
    g.bench_function("ulid", |b| {
        b.iter(|| {
            let mut buf = [0u8; ulid::ULID_LEN];
            let text: &str = Ulid::new().array_to_str(&mut buf);
            black_box(text);
        });
    });
    g.bench_function("type-safe-id", |b| {
        let mut out = String::with_capacity(64);
        b.iter(|| {
            out.clear();
            write!(out, "{}", TypedUserId::new()).expect("write to a String");
            black_box(out.as_str());
        });
    });
    g.bench_function("floor (rand + base64)", |b| {
        b.iter(|| {
            let mut buf = [0u8; FLOOR_LEN];
            black_box(floor_generate_encode(&mut buf));
        });
    });
    g.finish();
}

fn parse(c: &mut Criterion<Clock>) {
    let ours = UserId::new().to_string();
    let ours_sortable = OrderEventId::new().to_string();
    let uuid = Uuid::new_v4().hyphenated().to_string();
    let ulid = Ulid::new().to_string();
    let tsid = TypedUserId::new().to_string();
    // The same bytes as `ours`, so the floor decodes a string of the same length and shape.
    let floor = ours.clone();
    assert_eq!(
        floor_parse(&floor),
        Some(UserId::parse(&ours).expect("valid").to_bytes())
    );

    let mut g = c.benchmark_group("parse");
    g.bench_function("ours (plain)", |b| {
        b.iter(|| black_box(UserId::parse(black_box(&ours))));
    });
    g.bench_function("ours (sortable)", |b| {
        b.iter(|| black_box(OrderEventId::parse(black_box(&ours_sortable))));
    });
    g.bench_function("ours (AnyId, registry lookup)", |b| {
        b.iter(|| black_box(AnyId::parse(black_box(&ours))));
    });
    g.bench_function("uuid", |b| {
        b.iter(|| black_box(Uuid::parse_str(black_box(&uuid))));
    });
    g.bench_function("ulid", |b| {
        b.iter(|| black_box(Ulid::from_string(black_box(&ulid))));
    });
    g.bench_function("type-safe-id", |b| {
        b.iter(|| black_box(black_box(&tsid).parse::<TypedUserId>()));
    });
    g.bench_function("floor (base64)", |b| {
        b.iter(|| black_box(floor_parse(black_box(&floor))));
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(Clock::new("IDS_BENCH_WALL"));
    targets = generate_encode, parse
}
criterion_main!(benches);
