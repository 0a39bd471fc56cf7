//! The API `#[derive(PrefixedId)]` generates, as a user sees it: constructors, text form,
//! traits, sortable IDs, serde, errors, `AnyId`, the registry and the `uuid` feature.

use std::collections::{HashMap, HashSet};
use std::hash::BuildHasher;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use audit_core::ids::{self, IdRegistration};
use audit_core::{AnyId, EventId, ParseIdError, PrefixedId};
use serde::{Deserialize, Serialize};

#[derive(PrefixedId)]
#[id(prefix = "user")]
pub struct UserId([u8; 16]);

#[derive(PrefixedId)]
#[id(prefix = "wdgt", name = "widget")]
pub struct WidgetId([u8; 16]);

#[derive(PrefixedId)]
#[id(prefix = "oevt", sortable)]
pub struct OrderEventId([u8; 16]);

const USER: &str = "user_8hWAb-kHmq5nmfE-xPggAA";
const USER_BYTES: [u8; 16] = [
    0xf2, 0x15, 0x80, 0x6f, 0xe9, 0x07, 0x9a, 0xae, 0x67, 0x99, 0xf1, 0x3e, 0xc4, 0xf8, 0x20, 0x00,
];
const WIDGET: &str = "wdgt_fwz7uz86mmt1Crr2D-jnPA";

fn now_ms() -> u64 {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_millis();
    u64::try_from(ms).expect("fits")
}

// ---------------------------------------------------------------------------------------------
// The generated API

#[test]
fn prefix_and_name() {
    assert_eq!(UserId::PREFIX, "user");
    assert_eq!(<UserId as PrefixedId>::PREFIX, "user");
    assert_eq!(
        <UserId as PrefixedId>::NAME,
        "user",
        "the name defaults to the prefix"
    );
    assert_eq!(WidgetId::PREFIX, "wdgt");
    assert_eq!(<WidgetId as PrefixedId>::NAME, "widget");
    assert_eq!(OrderEventId::PREFIX, "oevt");
    assert!(!sortable::<UserId>());
    assert!(sortable::<OrderEventId>());
    assert_eq!(EventId::PREFIX, "evt");
    assert_eq!(<EventId as PrefixedId>::NAME, "event");
    assert!(sortable::<EventId>());
}

fn sortable<T: PrefixedId>() -> bool {
    T::SORTABLE
}

#[test]
fn bytes_round_trip_and_const_constructor() {
    const FIXED: UserId = UserId::from_bytes(USER_BYTES);
    const FIXED_BYTES: [u8; 16] = FIXED.to_bytes();
    assert_eq!(FIXED_BYTES, USER_BYTES);
    assert_eq!(FIXED.to_string(), USER);
    // The trait's methods agree with the inherent ones.
    assert_eq!(<UserId as PrefixedId>::from_bytes(USER_BYTES), FIXED);
    assert_eq!(PrefixedId::to_bytes(&FIXED), USER_BYTES);
}

#[test]
fn new_gives_random_ids() {
    let ids: Vec<UserId> = (0..1000).map(|_| UserId::new()).collect();
    let distinct: HashSet<[u8; 16]> = ids.iter().map(UserId::to_bytes).collect();
    assert_eq!(distinct.len(), ids.len());
    // Every one of the 128 bits is sometimes set and sometimes clear: no fixed bits (plain
    // IDs carry no version, timestamp or counter).
    let mut ones = [0u32; 128];
    for id in &ids {
        for (bit, count) in ones.iter_mut().enumerate() {
            *count += u32::from(id.to_bytes()[bit / 8] >> (7 - bit % 8) & 1);
        }
    }
    for (bit, &count) in ones.iter().enumerate() {
        assert!(
            (300..700).contains(&count),
            "bit {bit} set in {count} of 1000 IDs"
        );
    }
    assert_eq!(ids[0].timestamp_ms(), None, "plain IDs carry no time");
}

#[test]
fn parse_encode_display_fromstr_tryfrom() {
    let id = UserId::parse(USER).expect("valid");
    assert_eq!(id.to_bytes(), USER_BYTES);
    let encoded = id.encode();
    let as_str: &str = &encoded;
    assert_eq!(as_str, USER);
    assert_eq!(encoded.as_str(), USER);
    assert_eq!(encoded.len(), 27, "derefs to str");
    assert_eq!(id.to_string(), USER);
    assert_eq!(format!("<{id}>"), format!("<{USER}>"));
    assert_eq!(USER.parse::<UserId>(), Ok(id));
    assert_eq!(UserId::try_from(USER), Ok(id));
    assert_eq!(<UserId as PrefixedId>::parse(USER), Ok(id));
    assert!(UserId::try_from(WIDGET).is_err());
    assert!(WIDGET.parse::<UserId>().is_err());
    assert_eq!(WidgetId::parse(WIDGET).expect("valid").to_string(), WIDGET);
}

#[test]
fn debug_shows_the_string_form() {
    let id = UserId::parse(USER).expect("valid");
    assert_eq!(format!("{id:?}"), format!("UserId({USER:?})"));
    assert!(format!("{id:#?}").contains(USER));
    let sortable = OrderEventId::from_bytes([0; 16]);
    assert_eq!(
        format!("{sortable:?}"),
        "OrderEventId(\"oevt_----------------------\")"
    );
    assert_eq!(format!("{:?}", id.encode()), format!("{USER:?}"));
}

#[test]
fn ord_is_byte_order() {
    let zero = UserId::from_bytes([0; 16]);
    let mut high = [0; 16];
    high[0] = 0xF8; // encodes as `-`, which sorts before `A` in ASCII
    let high = UserId::from_bytes(high);
    assert!(zero < high, "byte order");
    assert!(
        zero.to_string() > high.to_string(),
        "plain IDs use standard base64url, whose string order differs"
    );
    let mut last = [0; 16];
    last[15] = 1;
    assert!(zero < UserId::from_bytes(last));
    assert!(UserId::from_bytes(last) < high);

    let mut ids: Vec<UserId> = (0..500).map(|_| UserId::new()).collect();
    ids.sort();
    for pair in ids.windows(2) {
        assert!(pair[0].to_bytes() < pair[1].to_bytes());
        assert_eq!(
            pair[0].partial_cmp(&pair[1]),
            Some(std::cmp::Ordering::Less)
        );
    }
}

#[test]
fn eq_and_hash_agree() {
    let state = std::collections::hash_map::RandomState::new();
    let a = UserId::parse(USER).expect("valid");
    let b = UserId::from_bytes(USER_BYTES);
    let copy = a;
    assert_eq!(a, b);
    assert_eq!(a, copy);
    #[allow(clippy::clone_on_copy)]
    let cloned = a.clone();
    assert_eq!(cloned, a);
    assert_eq!(state.hash_one(a), state.hash_one(b));
    let ids: Vec<UserId> = (0..1000).map(|_| UserId::new()).collect();
    let hashes: HashSet<u64> = ids.iter().map(|id| state.hash_one(id)).collect();
    assert!(
        hashes.len() > 990,
        "hashes collide: {} of 1000",
        hashes.len()
    );
    let map: HashMap<UserId, usize> = ids.iter().enumerate().map(|(i, &id)| (id, i)).collect();
    for (i, id) in ids.iter().enumerate() {
        let reparsed = UserId::parse(&id.to_string()).expect("valid");
        assert_eq!(map.get(&reparsed), Some(&i));
    }
}

#[test]
fn layout_and_auto_traits() {
    fn assert_id<T: PrefixedId + Copy + Send + Sync + Unpin + std::panic::UnwindSafe + 'static>() {}
    assert_eq!(std::mem::size_of::<UserId>(), 16);
    assert_eq!(std::mem::size_of::<OrderEventId>(), 16);
    assert_eq!(std::mem::size_of::<EventId>(), 16);
    assert_id::<UserId>();
    assert_id::<OrderEventId>();
    assert_id::<EventId>();
}

// ---------------------------------------------------------------------------------------------
// Sortable IDs

fn uuid_v7_bits(bytes: [u8; 16]) {
    assert_eq!(bytes[6] >> 4, 7, "version 7: {bytes:02x?}");
    assert_eq!(bytes[8] >> 6, 0b10, "variant 10: {bytes:02x?}");
}

#[test]
fn sortable_ids_increase_in_a_tight_loop() {
    let before = now_ms();
    let ids: Vec<OrderEventId> = (0..100_000).map(|_| OrderEventId::new()).collect();
    let after = now_ms();
    let mut prev_string = String::new();
    for (i, pair) in ids.windows(2).enumerate() {
        assert!(
            pair[0] < pair[1],
            "not increasing at {i}: {:?} then {:?}",
            pair[0],
            pair[1]
        );
    }
    for id in &ids {
        let s = id.to_string();
        assert!(
            *s > *prev_string,
            "string order is not creation order: {prev_string} then {s}"
        );
        prev_string = s;
        uuid_v7_bits(id.to_bytes());
    }
    let (first, last) = (ids[0].timestamp_ms(), ids[ids.len() - 1].timestamp_ms());
    let (first, last) = (first.expect("sortable"), last.expect("sortable"));
    assert!(
        first >= before,
        "{first} is before the loop started ({before})"
    );
    // Counter overflow may borrow a few milliseconds ahead of the clock, not seconds.
    assert!(
        last <= after + 1000,
        "{last} is far after the loop ended ({after})"
    );
}

#[test]
fn sortable_ids_increase_across_threads() {
    const PER_THREAD: usize = 25_000;
    let handles: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(|| {
                (0..PER_THREAD)
                    .map(|_| OrderEventId::new())
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let per_thread: Vec<Vec<OrderEventId>> = handles
        .into_iter()
        .map(|h| h.join().expect("thread"))
        .collect();
    let mut all = HashSet::new();
    let mut timestamps = HashSet::new();
    for ids in &per_thread {
        assert_eq!(ids.len(), PER_THREAD);
        for pair in ids.windows(2) {
            assert!(pair[0] < pair[1]);
            assert!(pair[0].to_string() < pair[1].to_string());
        }
        for id in ids {
            let bytes = id.to_bytes();
            assert!(all.insert(bytes), "duplicate {id}");
            // The (millisecond, counter) part is process-wide: no two IDs share it.
            let mut time_and_counter = [0u8; 8];
            time_and_counter.copy_from_slice(&bytes[..8]);
            assert!(
                timestamps.insert(time_and_counter),
                "shared timestamp and counter: {id}"
            );
        }
    }
    assert_eq!(all.len(), 4 * PER_THREAD);
}

#[test]
fn sortable_layout_and_timestamp() {
    let before = now_ms();
    let a = OrderEventId::new();
    let b = OrderEventId::new();
    let after = now_ms();
    let ts = a.timestamp_ms().expect("sortable IDs carry their time");
    assert!(
        ts >= before && ts <= after + 1000,
        "{ts} not within [{before}, {after}]"
    );
    // 48-bit big-endian milliseconds at the start.
    let mut be = [0u8; 8];
    be[2..].copy_from_slice(&a.to_bytes()[..6]);
    assert_eq!(u64::from_be_bytes(be), ts);
    uuid_v7_bits(a.to_bytes());
    uuid_v7_bits(b.to_bytes());
    assert!(a < b);
    // The tails are random, not a copy of each other.
    assert_ne!(a.to_bytes()[9..], b.to_bytes()[9..]);
    // EventId is sortable too.
    let (e1, e2) = (EventId::new(), EventId::new());
    assert!(e1 < e2 && e1.to_string() < e2.to_string());
    assert!(e1.to_string().starts_with("evt_"));
    assert!(e1.timestamp_ms().expect("sortable") >= before);
}

#[test]
fn sortable_random_bits_vary() {
    let ids: Vec<[u8; 16]> = (0..1000).map(|_| OrderEventId::new().to_bytes()).collect();
    // Bits 66..128 (after the variant) are random: each is sometimes set, sometimes clear.
    for bit in 66..128 {
        let set = ids
            .iter()
            .filter(|b| b[bit / 8] >> (7 - bit % 8) & 1 == 1)
            .count();
        assert!(
            (300..700).contains(&set),
            "random bit {bit} set in {set} of 1000"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// serde

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Purchase {
    buyer: UserId,
    widget: WidgetId,
    event: OrderEventId,
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
#[serde(untagged)]
enum UserRef {
    Id(UserId),
    Name(String),
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Flattened {
    #[serde(flatten)]
    purchase: Purchase,
    note: String,
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
#[serde(tag = "kind")]
enum Tagged {
    Bought { buyer: UserId },
}

fn purchase() -> Purchase {
    Purchase {
        buyer: UserId::parse(USER).expect("valid"),
        widget: WidgetId::parse(WIDGET).expect("valid"),
        event: OrderEventId::new(),
    }
}

fn to_cbor<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::into_writer(value, &mut out).expect("CBOR serializes");
    out
}

fn from_cbor<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, String> {
    ciborium::from_reader(bytes).map_err(|e| e.to_string())
}

fn cbor_value<T: Serialize>(value: &T) -> ciborium::Value {
    ciborium::Value::serialized(value).expect("to a CBOR value")
}

#[test]
fn json_uses_the_string_form() {
    let id = UserId::parse(USER).expect("valid");
    assert_eq!(
        serde_json::to_string(&id).expect("json"),
        format!("\"{USER}\"")
    );
    assert_eq!(
        serde_json::to_value(id).expect("json"),
        serde_json::Value::String(USER.to_owned())
    );
    let p = purchase();
    let json = serde_json::to_string(&p).expect("json");
    assert!(json.contains(&format!("\"buyer\":\"{USER}\"")), "{json}");
    assert!(
        json.contains(&format!("\"event\":\"{}\"", p.event)),
        "{json}"
    );
    assert_eq!(serde_json::from_str::<Purchase>(&json).expect("back"), p);
    let value = serde_json::to_value(&p).expect("json");
    assert_eq!(serde_json::from_value::<Purchase>(value).expect("back"), p);
    // Escaped strings (not borrowed from the input) work too.
    let escaped = format!("\"{}\"", USER.replace('_', "\\u005f"));
    assert_eq!(
        serde_json::from_str::<UserId>(&escaped).expect("escaped"),
        id
    );
}

#[test]
fn json_accepts_a_16_element_sequence() {
    let id = UserId::parse(USER).expect("valid");
    let seq = serde_json::to_string(&USER_BYTES).expect("json");
    assert_eq!(serde_json::from_str::<UserId>(&seq).expect("sequence"), id);
    for bad in [
        "[1,2,3]",
        "[]",
        &format!("[{}]", ["1"; 17].join(",")),
        &format!("[256{}]", ",0".repeat(15)),
        "[-1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]",
    ] {
        let err = serde_json::from_str::<UserId>(bad).expect_err(bad);
        assert!(err.to_string().contains("user"), "{bad}: {err}");
    }
}

#[test]
fn cbor_uses_the_16_bytes() {
    let id = UserId::parse(USER).expect("valid");
    let cbor = to_cbor(&id);
    // Major type 2 (bytes), length 16, then the bytes: no text.
    assert_eq!(cbor[0], 0x50);
    assert_eq!(cbor[1..], USER_BYTES);
    assert_eq!(from_cbor::<UserId>(&cbor), Ok(id));
    let p = purchase();
    assert_eq!(from_cbor::<Purchase>(&to_cbor(&p)), Ok(p));
    // A 16-element array also decodes.
    let array = to_cbor(&ciborium::Value::Array(
        USER_BYTES
            .iter()
            .map(|&b| ciborium::Value::from(b))
            .collect(),
    ));
    assert_eq!(from_cbor::<UserId>(&array), Ok(id));
    // Wrong lengths are errors that name the prefix.
    for bad in [vec![0u8; 15], vec![0u8; 17], vec![]] {
        let err = from_cbor::<UserId>(&to_cbor(&ciborium::Value::Bytes(bad.clone())))
            .expect_err("wrong length");
        assert!(err.contains("`user`"), "{} bytes: {err}", bad.len());
    }
}

#[test]
fn untagged_flattened_and_internally_tagged_containers() {
    let id = UserId::parse(USER).expect("valid");
    // Untagged: JSON string, JSON sequence, CBOR bytes, CBOR text, CBOR array.
    assert_eq!(
        serde_json::from_str::<UserRef>(&format!("\"{USER}\"")).expect("id"),
        UserRef::Id(id)
    );
    assert_eq!(
        serde_json::from_str::<UserRef>("\"alice\"").expect("name"),
        UserRef::Name("alice".to_owned())
    );
    let seq = serde_json::to_string(&USER_BYTES).expect("json");
    assert_eq!(
        serde_json::from_str::<UserRef>(&seq).expect("seq"),
        UserRef::Id(id)
    );
    assert_eq!(
        from_cbor::<UserRef>(&to_cbor(&UserRef::Id(id))),
        Ok(UserRef::Id(id))
    );
    assert_eq!(from_cbor::<UserRef>(&to_cbor(&USER)), Ok(UserRef::Id(id)));
    let array = ciborium::Value::Array(
        USER_BYTES
            .iter()
            .map(|&b| ciborium::Value::from(b))
            .collect(),
    );
    assert_eq!(from_cbor::<UserRef>(&to_cbor(&array)), Ok(UserRef::Id(id)));

    // Flattened: the IDs are buffered, in JSON and in CBOR.
    let flat = Flattened {
        purchase: purchase(),
        note: "gift".to_owned(),
    };
    let json = serde_json::to_string(&flat).expect("json");
    assert_eq!(
        serde_json::from_str::<Flattened>(&json).expect("json back"),
        flat
    );
    assert_eq!(from_cbor::<Flattened>(&to_cbor(&flat)), Ok(flat));
    // A flattened ID given as text in CBOR, or as an array in JSON.
    let mut map = match cbor_value(&purchase()) {
        ciborium::Value::Map(m) => m,
        other => panic!("not a map: {other:?}"),
    };
    map.push(("note".into(), "x".into()));
    for (k, v) in &mut map {
        if k.as_text() == Some("buyer") {
            *v = ciborium::Value::Text(USER.to_owned());
        }
    }
    let parsed: Flattened = from_cbor(&to_cbor(&ciborium::Value::Map(map))).expect("text in CBOR");
    assert_eq!(parsed.purchase.buyer, id);
    let mut value = serde_json::to_value(Flattened {
        purchase: purchase(),
        note: String::new(),
    })
    .expect("json");
    value["buyer"] = serde_json::to_value(USER_BYTES).expect("json");
    let parsed: Flattened = serde_json::from_value(value).expect("array in JSON");
    assert_eq!(parsed.purchase.buyer, id);

    // Internally tagged enums buffer too.
    let tagged = Tagged::Bought { buyer: id };
    let json = serde_json::to_string(&tagged).expect("json");
    assert_eq!(
        json,
        format!("{{\"kind\":\"Bought\",\"buyer\":\"{USER}\"}}")
    );
    assert_eq!(serde_json::from_str::<Tagged>(&json).expect("back"), tagged);
    assert_eq!(from_cbor::<Tagged>(&to_cbor(&tagged)), Ok(tagged));
}

#[test]
fn deserialize_from_serde_value_deserializers() {
    use serde::de::value::{
        BytesDeserializer, Error, SeqDeserializer, StrDeserializer, U32Deserializer,
    };
    let id = UserId::parse(USER).expect("valid");
    assert_eq!(
        UserId::deserialize(StrDeserializer::<Error>::new(USER)),
        Ok(id)
    );
    assert_eq!(
        UserId::deserialize(BytesDeserializer::<Error>::new(&USER_BYTES)),
        Ok(id)
    );
    let seq = SeqDeserializer::<_, Error>::new(USER_BYTES.iter().copied());
    assert_eq!(UserId::deserialize(seq), Ok(id));
    let err = UserId::deserialize(U32Deserializer::<Error>::new(7)).expect_err("a number");
    assert!(err.to_string().contains("`user`"), "{err}");
}

#[test]
fn deserialize_errors_name_the_expected_prefix() {
    let cases = [
        format!("\"{WIDGET}\""),
        "\"\"".to_owned(),
        "\"user_short\"".to_owned(),
        "\"user_8hWAb-kHmq5nmfE-xPggAB\"".to_owned(),
        "42".to_owned(),
        "{}".to_owned(),
        "null".to_owned(),
        "true".to_owned(),
    ];
    for json in &cases {
        let err = serde_json::from_str::<UserId>(json).expect_err(json);
        let msg = err.to_string();
        assert!(
            msg.contains("user") || msg.contains("ID"),
            "{json}: the error does not say what was expected: {msg}"
        );
    }
    let err = serde_json::from_str::<UserId>(&format!("\"{WIDGET}\"")).expect_err("widget");
    assert!(
        err.to_string().contains("`user`") && err.to_string().contains("wdgt"),
        "{err}"
    );
    let err = serde_json::from_str::<UserId>("42").expect_err("number");
    assert!(err.to_string().contains("`user`"), "{err}");
    let err = serde_json::from_str::<UserId>("\"\"").expect_err("empty");
    assert!(err.to_string().contains("empty"), "{err}");
    // Nested: serde's path and our message.
    let err = serde_json::from_str::<Purchase>(&format!(
        "{{\"buyer\":\"{WIDGET}\",\"widget\":\"{WIDGET}\",\"event\":\"oevt_----------------------\"}}"
    ))
    .expect_err("wrong type");
    assert!(err.to_string().contains("`user`"), "{err}");
    // A huge string is not echoed.
    let huge = format!("\"{}\"", "x".repeat(1 << 20));
    let msg = serde_json::from_str::<UserId>(&huge)
        .expect_err("huge")
        .to_string();
    assert!(msg.len() < 200, "{} bytes", msg.len());
}

// ---------------------------------------------------------------------------------------------
// ParseIdError

#[test]
fn parse_error_traits() {
    fn assert_error<E: std::error::Error + Clone + Send + Sync + PartialEq + 'static>() {}
    assert_error::<ParseIdError>();
    let err = UserId::parse("").expect_err("empty");
    let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(err.clone());
    assert_eq!(boxed.to_string(), err.to_string());
}

#[test]
fn parse_error_messages_say_what_was_expected_and_found() {
    let cases: &[(&str, ParseIdError, &[&str])] = &[
        ("", ParseIdError::Empty, &["empty"]),
        (
            WIDGET,
            ParseIdError::WrongPrefix {
                expected: "user",
                found: audit_core::Snippet::new("wdgt"),
            },
            &["`user`", "`wdgt`"],
        ),
        (
            "user_abc",
            ParseIdError::WrongLength {
                expected: 27,
                found: 8,
            },
            &["27", "8"],
        ),
        (
            "user_8hWAb-kHmq5nmfE-xPgg!A",
            ParseIdError::InvalidCharacter {
                index: 25,
                found: '!',
            },
            &["'!'", "25"],
        ),
        (
            "user_8hWAb-kHmq5nmfE-xPggAB",
            ParseIdError::NonCanonical,
            &["canonical"],
        ),
        (
            "userx8hWAb-kHmq5nmfE-xPggAA",
            ParseIdError::WrongPrefix {
                expected: "user",
                found: audit_core::Snippet::new("userx8hWAb-kHmq5nmfE-xPggAA"),
            },
            &["`user`", "`userx8hWAb"],
        ),
        (
            "user",
            ParseIdError::WrongLength {
                expected: 27,
                found: 4,
            },
            &["27", "4"],
        ),
    ];
    for (input, expected, words) in cases {
        let err = UserId::parse(input).expect_err(input);
        assert_eq!(&err, expected, "{input:?}");
        let msg = err.to_string();
        for word in *words {
            assert!(msg.contains(word), "{input:?}: {msg:?} lacks {word:?}");
        }
    }
    // Expected and found are never the same text.
    for input in [
        "user",
        "userx8hWAb-kHmq5nmfE-xPggAA",
        "user-8hWAb-kHmq5nmfE-xPggAA",
    ] {
        let msg = UserId::parse(input).expect_err(input).to_string();
        assert!(!msg.contains("found `user`"), "{input:?}: {msg}");
    }
}

#[test]
fn parse_errors_never_echo_a_long_input() {
    const MB: usize = 1 << 20;
    let inputs = [
        "x".repeat(MB),
        format!("user_{}", "A".repeat(MB)),
        format!("{}_{}", "q".repeat(MB), "A".repeat(22)),
        "é".repeat(MB / 2),
        "😀".repeat(MB / 4),
        format!("user{}", "_".repeat(MB)),
    ];
    for input in &inputs {
        let errors = [
            UserId::parse(input).expect_err("invalid"),
            OrderEventId::parse(input).expect_err("invalid"),
            AnyId::parse(input).expect_err("invalid"),
        ];
        for err in errors {
            let msg = err.to_string();
            let dbg = format!("{err:?}");
            assert!(msg.len() <= 200, "{} bytes: {msg}", msg.len());
            assert!(dbg.len() <= 200, "{} bytes: {dbg}", dbg.len());
            // At most 32 bytes of input; the rest of the message is ASCII.
            let echoed = msg.len() - msg.chars().filter(char::is_ascii).count();
            assert!(echoed <= 32 + "…".len(), "{msg}");
            for run in ["x", "A", "q", "_"] {
                assert!(!msg.contains(&run.repeat(33)), "{msg}");
            }
        }
    }
}

#[test]
fn wrong_length_is_rejected_without_reading_the_input() {
    let huge = format!("user_{}", "A".repeat(10 << 20));
    let no_prefix = "é".repeat(5 << 20);
    let start = Instant::now();
    for _ in 0..20_000 {
        assert!(UserId::parse(&huge).is_err());
        assert!(UserId::parse(&no_prefix).is_err());
        assert!(AnyId::parse(&huge).is_err());
    }
    // A scan of 10 MB per call would take tens of seconds; a length check takes microseconds.
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
}

// ---------------------------------------------------------------------------------------------
// AnyId and the registry

#[test]
fn any_id_parses_registered_types() {
    let any = AnyId::parse(USER).expect("registered");
    assert_eq!(any.prefix(), "user");
    assert!(any.is::<UserId>());
    assert!(!any.is::<WidgetId>());
    assert_eq!(
        any.downcast::<UserId>(),
        Some(UserId::parse(USER).expect("valid"))
    );
    assert_eq!(any.downcast::<WidgetId>(), None);
    assert_eq!(any.to_string(), USER);
    assert_eq!(any.to_bytes(), USER_BYTES);
    assert_eq!(format!("{any:?}"), format!("AnyId({USER:?})"));
    assert_eq!(any.registration().name(), "user");
    assert_eq!(USER.parse::<AnyId>(), Ok(any));

    let widget = AnyId::parse(WIDGET).expect("registered");
    assert_eq!(widget.prefix(), "wdgt");
    assert_eq!(widget.registration().name(), "widget");
    assert!(widget.is::<WidgetId>());

    // Sortable types decode with their own alphabet.
    let event = OrderEventId::new();
    let any = AnyId::parse(&event.to_string()).expect("registered");
    assert_eq!(any.downcast::<OrderEventId>(), Some(event));
    assert!(any.registration().sortable());
    let event = EventId::new();
    let any = AnyId::parse(&event.to_string()).expect("EventId is registered");
    assert_eq!(any.prefix(), "evt");
    assert_eq!(any.downcast::<EventId>(), Some(event));
}

#[test]
fn any_id_errors() {
    assert_eq!(AnyId::parse(""), Err(ParseIdError::Empty));
    let err = AnyId::parse("usr_8hWAb-kHmq5nmfE-xPggAA").expect_err("unknown");
    match &err {
        ParseIdError::UnknownPrefix { found, suggestion } => {
            assert_eq!(found.as_str(), "usr");
            assert_eq!(*suggestion, Some("user"));
        }
        other => panic!("expected UnknownPrefix, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains("`usr`") && msg.contains("did you mean `user`"),
        "{msg}"
    );
    let err = AnyId::parse("zzzzzzzzzz_8hWAb-kHmq5nmfE-xPggAA").expect_err("unknown");
    assert!(
        matches!(&err, ParseIdError::UnknownPrefix { suggestion: None, found } if found.as_str() == "zzzzzzzzzz"),
        "{err:?}"
    );
    assert!(!err.to_string().contains("did you mean"), "{err}");
    // A known prefix with the wrong length reports the length.
    assert_eq!(
        AnyId::parse("user_abc"),
        Err(ParseIdError::WrongLength {
            expected: 27,
            found: 8
        })
    );
    assert_eq!(
        AnyId::parse("wdgt_fwz7uz86mmt1Crr2D-jnPA="),
        Err(ParseIdError::WrongLength {
            expected: 27,
            found: 28
        })
    );
    // A known prefix with a bad suffix reports the suffix.
    assert_eq!(
        AnyId::parse("user_8hWAb-kHmq5nmfE-xPggAB"),
        Err(ParseIdError::NonCanonical)
    );
    // A standard-alphabet suffix under a sortable prefix is checked with the sortable alphabet.
    assert_eq!(
        AnyId::parse("oevt_8hWAb-kHmq5nmfE-xPggAA"),
        Err(ParseIdError::NonCanonical)
    );
}

#[test]
fn any_id_parse_in_uses_only_the_given_types() {
    const ALLOWED: &[IdRegistration] = &[
        IdRegistration::of::<UserId>(),
        IdRegistration::of::<OrderEventId>(),
    ];
    let any = AnyId::parse_in(USER, ALLOWED).expect("allowed");
    assert!(any.is::<UserId>());
    let event = OrderEventId::new();
    assert_eq!(
        AnyId::parse_in(&event.to_string(), ALLOWED)
            .expect("allowed")
            .downcast(),
        Some(event)
    );
    // Registered globally, but not in the list.
    let err = AnyId::parse_in(WIDGET, ALLOWED).expect_err("not allowed");
    assert!(
        matches!(err, ParseIdError::UnknownPrefix { ref found, .. } if found.as_str() == "wdgt"),
        "{err:?}"
    );
    let err = AnyId::parse_in("oevx_----------------------", ALLOWED).expect_err("typo");
    assert!(
        matches!(
            err,
            ParseIdError::UnknownPrefix {
                suggestion: Some("oevt"),
                ..
            }
        ),
        "{err:?}"
    );
    assert!(AnyId::parse_in(USER, &[]).is_err());
}

#[test]
fn any_id_from_typed_ids() {
    let user = UserId::parse(USER).expect("valid");
    let any = AnyId::from(user);
    assert_eq!(any, AnyId::parse(USER).expect("registered"));
    assert_eq!(any.to_string(), USER);
    assert!(any.is::<UserId>());
    // Same bytes, different types: different AnyIds.
    let widget = AnyId::from(WidgetId::from_bytes(USER_BYTES));
    assert_ne!(any, widget);
    assert_eq!(widget.to_string(), "wdgt_8hWAb-kHmq5nmfE-xPggAA");
    let state = std::collections::hash_map::RandomState::new();
    assert_eq!(
        state.hash_one(any),
        state.hash_one(AnyId::parse(USER).expect("ok"))
    );
    let event = OrderEventId::new();
    assert_eq!(AnyId::from(event).to_string(), event.to_string());
}

#[test]
fn registry_lists_every_type() {
    let find = |prefix: &str| {
        ids::registered()
            .find(|r| r.prefix() == prefix)
            .unwrap_or_else(|| panic!("`{prefix}` is not registered"))
    };
    let user = find("user");
    assert_eq!(user.name(), "user");
    assert!(!user.sortable());
    assert!(user.type_name().ends_with("UserId"), "{}", user.type_name());
    assert_eq!(user.type_id(), std::any::TypeId::of::<UserId>());
    let widget = find("wdgt");
    assert_eq!(widget.name(), "widget");
    assert_eq!(widget.type_id(), std::any::TypeId::of::<WidgetId>());
    let order = find("oevt");
    assert!(order.sortable());
    let event = find("evt");
    assert_eq!(event.name(), "event");
    assert!(event.sortable());
    assert_eq!(event.type_id(), std::any::TypeId::of::<EventId>());
    assert!(event.type_name().ends_with("EventId"));
    // Each type once.
    let user_count = ids::registered()
        .filter(|r| r.type_id() == user.type_id())
        .count();
    assert_eq!(user_count, 1);
    assert!(format!("{user:?}").contains("UserId"));
}

#[test]
fn prefixes_are_unique_in_this_program() {
    ids::check_unique_prefixes().expect("no two types of this test share a prefix");
}

// ---------------------------------------------------------------------------------------------
// The `uuid` feature

#[cfg(feature = "uuid")]
mod with_uuid {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn conversions_both_ways() {
        let u = Uuid::from_bytes(USER_BYTES);
        let id = UserId::from(u);
        assert_eq!(id.to_string(), USER);
        assert_eq!(Uuid::from(id), u);
        let random = Uuid::new_v4();
        assert_eq!(Uuid::from(WidgetId::from(random)), random);
        assert_eq!(*random.as_bytes(), WidgetId::from(random).to_bytes());
    }

    #[test]
    fn sortable_ids_are_uuid_v7() {
        let mut prev = Uuid::nil();
        for _ in 0..1000 {
            let id = OrderEventId::new();
            let u = Uuid::from(id);
            assert_eq!(u.get_version_num(), 7, "{u}");
            assert_eq!(u.get_variant(), uuid::Variant::RFC4122, "{u}");
            let (secs, nanos) = u.get_timestamp().expect("v7 has a timestamp").to_unix();
            assert_eq!(
                secs * 1000 + u64::from(nanos) / 1_000_000,
                id.timestamp_ms().expect("sortable")
            );
            assert!(u > prev, "uuid order is creation order");
            prev = u;
        }
        let e = Uuid::from(EventId::new());
        assert_eq!(e.get_version_num(), 7);
    }

    #[test]
    fn uuid_v7_values_keep_their_time() {
        let u = Uuid::now_v7();
        let id = OrderEventId::from(u);
        let (secs, nanos) = u.get_timestamp().expect("v7").to_unix();
        assert_eq!(
            id.timestamp_ms(),
            Some(secs * 1000 + u64::from(nanos) / 1_000_000)
        );
        assert_eq!(OrderEventId::parse(&id.to_string()).map(Uuid::from), Ok(u));
    }
}
