//! Prefixed IDs as rusqlite values (feature `rusqlite`, on through `sqlite`): a real table keyed
//! by a `UserId`, written and read through `ToSql`/`FromSql`; a stored value of another type, a
//! non-canonical text, NULL or a number is an error, never a wrong ID.

use audit_core::{ParseIdError, PrefixedId};
use rusqlite::types::{FromSql, FromSqlError, ToSql, ToSqlOutput, Type, Value, ValueRef};
use rusqlite::{Connection, params};

#[derive(PrefixedId)]
#[id(prefix = "user")]
pub struct UserId([u8; 16]);

#[derive(PrefixedId)]
#[id(prefix = "wdgt", name = "widget")]
pub struct WidgetId([u8; 16]);

#[derive(PrefixedId)]
#[id(prefix = "ordr", sortable)]
pub struct OrderId([u8; 16]);

fn shop() -> Connection {
    let conn = Connection::open_in_memory().expect("in-memory database");
    conn.execute_batch(
        "CREATE TABLE users (
             id TEXT PRIMARY KEY COLLATE BINARY,
             name TEXT NOT NULL
         ) WITHOUT ROWID;
         CREATE TABLE widgets (
             id TEXT PRIMARY KEY COLLATE BINARY,
             owner TEXT REFERENCES users (id),
             name TEXT NOT NULL
         );
         CREATE TABLE orders (id TEXT PRIMARY KEY COLLATE BINARY, n INTEGER NOT NULL);",
    )
    .expect("schema");
    conn
}

#[test]
fn user_id_primary_key_round_trip() {
    let conn = shop();
    let users: Vec<(UserId, String)> = (0..200)
        .map(|i| (UserId::new(), format!("user {i}")))
        .collect();
    for (id, name) in &users {
        conn.execute(
            "INSERT INTO users (id, name) VALUES (?1, ?2)",
            params![id, name],
        )
        .expect("insert");
    }
    // Stored as TEXT in canonical form, nothing else.
    let (ty, text): (String, String) = conn
        .query_row(
            "SELECT typeof(id), id FROM users WHERE name = 'user 7'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("select");
    assert_eq!(ty, "text");
    assert_eq!(text, users[7].0.to_string());

    // Select by primary key, with the ID as the parameter, and read it back typed.
    for (id, name) in &users {
        let (back, back_name): (UserId, String) = conn
            .query_row("SELECT id, name FROM users WHERE id = ?1", [id], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .expect("select by id");
        assert_eq!(back, *id);
        assert_eq!(&back_name, name);
    }

    // The primary key holds: a second row with the same ID is refused.
    let dup = conn.execute(
        "INSERT INTO users (id, name) VALUES (?1, 'again')",
        params![users[0].0],
    );
    assert!(dup.is_err(), "duplicate primary key accepted");

    // Every row reads back as a UserId; BINARY order is the IDs' own order.
    let mut stmt = conn.prepare("SELECT id FROM users ORDER BY id").unwrap();
    let all: Vec<UserId> = stmt
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .expect("every row is a UserId");
    let mut expected: Vec<UserId> = users.iter().map(|(id, _)| *id).collect();
    expected.sort_by_key(ToString::to_string);
    assert_eq!(all, expected);
}

#[test]
fn foreign_key_and_optional_ids() {
    let conn = shop();
    conn.execute_batch("PRAGMA foreign_keys = ON").unwrap();
    let alice = UserId::new();
    conn.execute("INSERT INTO users (id, name) VALUES (?1, 'Alice')", [alice])
        .unwrap();
    let owned = WidgetId::new();
    let orphan = WidgetId::new();
    conn.execute(
        "INSERT INTO widgets (id, owner, name) VALUES (?1, ?2, 'Blue')",
        params![owned, Some(alice)],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO widgets (id, owner, name) VALUES (?1, ?2, 'Red')",
        params![orphan, None::<UserId>],
    )
    .unwrap();
    // A foreign key to a user that does not exist is refused by SQLite itself.
    let bad = conn.execute(
        "INSERT INTO widgets (id, owner, name) VALUES (?1, ?2, 'Green')",
        params![WidgetId::new(), Some(UserId::new())],
    );
    assert!(bad.is_err());

    let rows: Vec<(WidgetId, Option<UserId>)> = conn
        .prepare("SELECT id, owner FROM widgets ORDER BY name")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(rows, vec![(owned, Some(alice)), (orphan, None)]);

    // A join through the typed key.
    let owner_name: String = conn
        .query_row(
            "SELECT u.name FROM widgets w JOIN users u ON u.id = w.owner WHERE w.id = ?1",
            [owned],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(owner_name, "Alice");
}

#[test]
fn sortable_ids_insert_in_key_order() {
    let conn = shop();
    let ids: Vec<OrderId> = (0..500).map(|_| OrderId::new()).collect();
    for (n, id) in (0_i64..).zip(&ids) {
        conn.execute("INSERT INTO orders (id, n) VALUES (?1, ?2)", params![id, n])
            .unwrap();
    }
    let by_key: Vec<i64> = conn
        .prepare("SELECT n FROM orders ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(by_key, (0..500).collect::<Vec<i64>>());
}

#[test]
fn another_types_id_is_an_error_naming_the_prefix() {
    let conn = shop();
    let widget = WidgetId::new();
    // A user table row that holds a widget's ID (written as plain text, as a bug would).
    conn.execute(
        "INSERT INTO users (id, name) VALUES (?1, 'not a user')",
        [widget.to_string()],
    )
    .unwrap();

    let err = conn
        .query_row("SELECT id FROM users", [], |r| r.get::<_, UserId>(0))
        .expect_err("a wdgt_ ID read as a UserId");
    let rusqlite::Error::FromSqlConversionFailure(index, ty, source) = &err else {
        panic!("expected FromSqlConversionFailure, got {err:?}");
    };
    assert_eq!(*index, 0);
    assert_eq!(*ty, Type::Text);
    let parse = source
        .downcast_ref::<ParseIdError>()
        .unwrap_or_else(|| panic!("not a ParseIdError: {source:?}"));
    assert!(
        matches!(parse, ParseIdError::WrongPrefix { expected: "user", found } if found.as_str() == "wdgt"),
        "{parse:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains("`user`") && message.contains("`wdgt`"),
        "{message}"
    );

    // The same through the trait itself: `FromSqlError::Other` wrapping the ParseIdError.
    let text = widget.to_string();
    let err = UserId::column_result(ValueRef::Text(text.as_bytes())).unwrap_err();
    let FromSqlError::Other(source) = &err else {
        panic!("expected FromSqlError::Other, got {err:?}");
    };
    assert!(matches!(
        source.downcast_ref::<ParseIdError>(),
        Some(ParseIdError::WrongPrefix {
            expected: "user",
            ..
        })
    ));
    // While the widget's own type reads it.
    assert_eq!(
        WidgetId::column_result(ValueRef::Text(text.as_bytes())).unwrap(),
        widget
    );
}

#[test]
fn malformed_texts_are_errors() {
    let id = UserId::new().to_string();
    let mut non_canonical = id.clone();
    // The last char of the 22 carries 4 unused low bits: set one.
    let last = non_canonical.pop().unwrap();
    let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let pos = alphabet.find(last).unwrap();
    non_canonical.push(alphabet.as_bytes()[(pos & !15) | 1] as char);
    let cases = [
        String::new(),
        "user_".to_owned(),
        format!("{id}A"),
        id[..id.len() - 1].to_owned(),
        id.to_uppercase(),
        format!(" {id}"),
        id.replace('_', "-"),
        non_canonical,
        "\u{e9}".repeat(27),
    ];
    for case in &cases {
        let err = UserId::column_result(ValueRef::Text(case.as_bytes()))
            .expect_err(&format!("{case:?} read as a UserId"));
        assert!(
            matches!(&err, FromSqlError::Other(e) if e.downcast_ref::<ParseIdError>().is_some()),
            "{case:?}: {err:?}"
        );
    }
    // Bytes that are not UTF-8 are an error too, not a panic.
    assert!(UserId::column_result(ValueRef::Text(&[0xff, 0xfe, b'_'])).is_err());
}

#[test]
fn null_integer_real_and_blob_are_type_errors() {
    let raw = UserId::new();
    let blob = raw.to_bytes();
    for value in [
        ValueRef::Null,
        ValueRef::Integer(42),
        ValueRef::Real(1.5),
        ValueRef::Blob(&blob),
    ] {
        let err = UserId::column_result(value).expect_err("a non-text value read as a UserId");
        assert!(
            matches!(err, FromSqlError::InvalidType),
            "{value:?}: {err:?}"
        );
    }

    // Through a real table without type constraints.
    let conn = Connection::open_in_memory().unwrap();
    conn.execute_batch(
        "CREATE TABLE t (n INTEGER, v);
         INSERT INTO t VALUES (1, NULL), (2, 42), (3, 2.5), (4, x'00112233445566778899aabbccddeeff');",
    )
    .unwrap();
    for n in 1..=4 {
        let err = conn
            .query_row("SELECT v FROM t WHERE n = ?1", [n], |r| {
                r.get::<_, UserId>(0)
            })
            .expect_err("a non-text value read as a UserId");
        assert!(
            matches!(err, rusqlite::Error::InvalidColumnType(0, _, _)),
            "row {n}: {err:?}"
        );
    }
    // NULL reads as None where the column is optional.
    let none: Option<UserId> = conn
        .query_row("SELECT v FROM t WHERE n = 1", [], |r| r.get(0))
        .unwrap();
    assert_eq!(none, None);
}

#[test]
fn to_sql_is_canonical_text() {
    let id = UserId::new();
    let out = id.to_sql().unwrap();
    let text = match out {
        ToSqlOutput::Owned(Value::Text(t)) => t,
        ToSqlOutput::Borrowed(ValueRef::Text(t)) => String::from_utf8(t.to_vec()).unwrap(),
        other => panic!("not text: {other:?}"),
    };
    assert_eq!(text, id.to_string());
    assert_eq!(UserId::parse(&text).unwrap(), id);
}
