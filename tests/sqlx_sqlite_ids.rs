//! Prefixed IDs as sqlx SQLite values (feature `sqlx-sqlite`), against a real SQLite database
//! through sqlx: TEXT in canonical form, re-validated on decode, so a row holding another
//! type's ID, a malformed text, NULL or a number never decodes as an ID.
//!
//! Run with `cargo test --features sqlx-sqlite --test sqlx_sqlite_ids`.
#![cfg(feature = "sqlx-sqlite")]

use std::error::Error as _;

use audit_core::{ParseIdError, PrefixedId};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::{Row, SqlitePool};

#[derive(PrefixedId)]
#[id(prefix = "user")]
pub struct UserId([u8; 16]);

#[derive(PrefixedId)]
#[id(prefix = "wdgt", name = "widget")]
pub struct WidgetId([u8; 16]);

#[derive(PrefixedId)]
#[id(prefix = "ordr", sortable)]
pub struct OrderId([u8; 16]);

/// A private in-memory database (one connection, so every query sees the same database).
async fn pool() -> SqlitePool {
    let options = SqliteConnectOptions::new()
        .in_memory(true)
        .foreign_keys(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .expect("in-memory SQLite");
    sqlx::raw_sql(
        "CREATE TABLE users (
             id TEXT PRIMARY KEY COLLATE BINARY,
             name TEXT NOT NULL
         ) WITHOUT ROWID;
         CREATE TABLE widgets (
             id TEXT PRIMARY KEY COLLATE BINARY,
             owner TEXT REFERENCES users (id),
             name TEXT NOT NULL
         );
         CREATE TABLE orders (id TEXT PRIMARY KEY COLLATE BINARY, n INTEGER NOT NULL);
         CREATE TABLE loose (n INTEGER PRIMARY KEY, v);",
    )
    .execute(&pool)
    .await
    .expect("schema");
    pool
}

/// The `ParseIdError` inside a column decode error.
fn parse_error(err: &sqlx::Error) -> &ParseIdError {
    let sqlx::Error::ColumnDecode { source, .. } = err else {
        panic!("expected a column decode error, got {err:?}");
    };
    source
        .downcast_ref::<ParseIdError>()
        .unwrap_or_else(|| panic!("not a ParseIdError: {source:?}"))
}

#[tokio::test]
async fn user_id_primary_key_round_trip() {
    let pool = pool().await;
    let users: Vec<(UserId, String)> = (0..100)
        .map(|i| (UserId::new(), format!("user {i}")))
        .collect();
    for (id, name) in &users {
        sqlx::query("INSERT INTO users (id, name) VALUES (?1, ?2)")
            .bind(id)
            .bind(name)
            .execute(&pool)
            .await
            .unwrap();
    }

    // Stored as TEXT, in canonical form.
    let (ty, text): (String, String) =
        sqlx::query_as("SELECT typeof(id), id FROM users WHERE name = 'user 3'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(ty, "text");
    assert_eq!(text, users[3].0.to_string());

    // Bound as the key, decoded typed: `query_as`, `query_scalar` and `Row::get`.
    for (id, name) in &users {
        let (back, back_name): (UserId, String) =
            sqlx::query_as("SELECT id, name FROM users WHERE id = ?1")
                .bind(*id)
                .fetch_one(&pool)
                .await
                .unwrap();
        assert_eq!((back, &back_name), (*id, name));
    }
    let id: UserId = sqlx::query_scalar("SELECT id FROM users WHERE name = 'user 9'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(id, users[9].0);
    let row = sqlx::query("SELECT id FROM users WHERE id = ?1")
        .bind(users[0].0)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(row.get::<UserId, _>("id"), users[0].0);

    // The primary key holds.
    let dup = sqlx::query("INSERT INTO users (id, name) VALUES (?1, 'again')")
        .bind(users[0].0)
        .execute(&pool)
        .await;
    assert!(dup.is_err());

    // Every row decodes; BINARY order is string order.
    let all: Vec<UserId> = sqlx::query_scalar("SELECT id FROM users ORDER BY id")
        .fetch_all(&pool)
        .await
        .unwrap();
    let mut expected: Vec<UserId> = users.iter().map(|(id, _)| *id).collect();
    expected.sort_by_key(ToString::to_string);
    assert_eq!(all, expected);
}

#[tokio::test]
async fn optional_ids_foreign_keys_and_sortable_order() {
    let pool = pool().await;
    let alice = UserId::new();
    sqlx::query("INSERT INTO users (id, name) VALUES (?1, 'Alice')")
        .bind(alice)
        .execute(&pool)
        .await
        .unwrap();
    let (owned, orphan) = (WidgetId::new(), WidgetId::new());
    for (id, owner, name) in [(owned, Some(alice), "Blue"), (orphan, None, "Red")] {
        sqlx::query("INSERT INTO widgets (id, owner, name) VALUES (?1, ?2, ?3)")
            .bind(id)
            .bind(owner)
            .bind(name)
            .execute(&pool)
            .await
            .unwrap();
    }
    let missing_owner = sqlx::query("INSERT INTO widgets (id, owner, name) VALUES (?1, ?2, 'X')")
        .bind(WidgetId::new())
        .bind(UserId::new())
        .execute(&pool)
        .await;
    assert!(missing_owner.is_err(), "the foreign key was not enforced");
    let rows: Vec<(WidgetId, Option<UserId>)> =
        sqlx::query_as("SELECT id, owner FROM widgets ORDER BY name")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(rows, vec![(owned, Some(alice)), (orphan, None)]);

    let orders: Vec<OrderId> = (0..300).map(|_| OrderId::new()).collect();
    for (n, id) in (0_i64..).zip(&orders) {
        sqlx::query("INSERT INTO orders (id, n) VALUES (?1, ?2)")
            .bind(id)
            .bind(n)
            .execute(&pool)
            .await
            .unwrap();
    }
    let by_key: Vec<i64> = sqlx::query_scalar("SELECT n FROM orders ORDER BY id")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(by_key, (0..300).collect::<Vec<i64>>());
}

#[tokio::test]
async fn another_types_id_is_a_decode_error_naming_the_prefix() {
    let pool = pool().await;
    let widget = WidgetId::new();
    // A user row holding a widget's ID, written as plain text (as a bug would).
    sqlx::query("INSERT INTO users (id, name) VALUES (?1, 'not a user')")
        .bind(widget.to_string())
        .execute(&pool)
        .await
        .unwrap();

    let err = sqlx::query_scalar::<_, UserId>("SELECT id FROM users")
        .fetch_one(&pool)
        .await
        .expect_err("a wdgt_ ID decoded as a UserId");
    let parse = parse_error(&err);
    assert!(
        matches!(parse, ParseIdError::WrongPrefix { expected: "user", found } if found.as_str() == "wdgt"),
        "{parse:?}"
    );
    let message = format!("{err} / {}", err.source().unwrap());
    assert!(
        message.contains("`user`") && message.contains("`wdgt`"),
        "{message}"
    );

    let row = sqlx::query("SELECT id FROM users")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(row.try_get::<UserId, _>(0).is_err());
    // The widget's own type reads it.
    assert_eq!(row.try_get::<WidgetId, _>(0).unwrap(), widget);
}

#[tokio::test]
async fn malformed_texts_are_decode_errors() {
    let pool = pool().await;
    let id = UserId::new().to_string();
    let cases = [
        String::new(),
        "user_".to_owned(),
        format!("{id}A"),
        id[..id.len() - 1].to_owned(),
        id.to_uppercase(),
        format!(" {id}"),
        id.replace('_', "-"),
        "\u{e9}".repeat(27),
    ];
    for (n, case) in (1_i64..).zip(&cases) {
        sqlx::query("INSERT INTO loose (n, v) VALUES (?1, ?2)")
            .bind(n)
            .bind(case)
            .execute(&pool)
            .await
            .unwrap();
        let err = sqlx::query_scalar::<_, UserId>("SELECT v FROM loose WHERE n = ?1")
            .bind(n)
            .fetch_one(&pool)
            .await
            .expect_err(case);
        parse_error(&err);
    }
}

#[tokio::test]
async fn null_integer_real_and_blob_are_errors() {
    let pool = pool().await;
    sqlx::raw_sql(
        "INSERT INTO loose (n, v) VALUES (1, NULL), (2, 42), (3, 2.5),
             (4, x'00112233445566778899aabbccddeeff');",
    )
    .execute(&pool)
    .await
    .unwrap();

    let null = sqlx::query_scalar::<_, UserId>("SELECT v FROM loose WHERE n = 1")
        .fetch_one(&pool)
        .await
        .expect_err("NULL decoded as a UserId");
    assert!(
        matches!(&null, sqlx::Error::ColumnDecode { source, .. }
            if source.downcast_ref::<sqlx::error::UnexpectedNullError>().is_some()),
        "{null:?}"
    );
    // NULL is `None` where the ID is optional.
    let none: Option<UserId> = sqlx::query_scalar("SELECT v FROM loose WHERE n = 1")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(none, None);

    for n in 2..=4 {
        let err = sqlx::query_scalar::<_, UserId>("SELECT v FROM loose WHERE n = ?1")
            .bind(n)
            .fetch_one(&pool)
            .await
            .expect_err("a non-text value decoded as a UserId");
        assert!(
            matches!(err, sqlx::Error::ColumnDecode { .. }),
            "row {n}: {err:?}"
        );
        let wrapped = sqlx::query_scalar::<_, Option<UserId>>("SELECT v FROM loose WHERE n = ?1")
            .bind(n)
            .fetch_one(&pool)
            .await;
        assert!(wrapped.is_err(), "row {n}: {wrapped:?}");
    }
}

#[tokio::test]
async fn temp_file_database_with_a_pool() {
    let path = std::env::temp_dir().join(format!("audit-sqlx-ids-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let options = SqliteConnectOptions::new()
        .filename(&path)
        .create_if_missing(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(4)
        .connect_with(options)
        .await
        .unwrap();
    sqlx::query("CREATE TABLE users (id TEXT PRIMARY KEY COLLATE BINARY, n INTEGER NOT NULL)")
        .execute(&pool)
        .await
        .unwrap();
    let ids: Vec<UserId> = (0..50).map(|_| UserId::new()).collect();
    let mut tasks = Vec::new();
    for (n, id) in (0_i64..).zip(ids.clone()) {
        let pool = pool.clone();
        tasks.push(tokio::spawn(async move {
            sqlx::query("INSERT INTO users (id, n) VALUES (?1, ?2)")
                .bind(id)
                .bind(n)
                .execute(&pool)
                .await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    for (n, id) in (0_i64..).zip(&ids) {
        let back: UserId = sqlx::query_scalar("SELECT id FROM users WHERE n = ?1")
            .bind(n)
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(back, *id);
    }
    pool.close().await;
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}
