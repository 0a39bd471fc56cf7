//! The main job: a small shop's audit log, end to end, in an embedded SQLite database.
//!
//! Users and widgets live in the shop's own SQLite tables, keyed by prefixed IDs. Every change
//! emits a typed audit event; then the example prints the timeline of one widget and of one
//! user, straight from the audit log (no lookups: display names were captured at emit), and
//! verifies the log's hash chain.
//!
//! Run it with `cargo run --example quickstart`. It writes only inside `./quickstart-data/`.

use std::error::Error;
use std::path::Path;

use audit_core::query::{Query, timeline};
use audit_core::sink::SqliteSink;
use audit_core::{
    Actor, AuditEntity, AuditEvent, Auditor, Context, EntityRef, Envelope, Outcome, PrefixedId,
    Redacted, context,
};
use rusqlite::{Connection, params};

// ---- The shop's model: one prefixed ID per record, used as the primary key ----------------

#[derive(PrefixedId)]
#[id(prefix = "user")]
pub struct UserId([u8; 16]);

#[derive(PrefixedId)]
#[id(prefix = "wdgt", name = "widget")]
pub struct WidgetId([u8; 16]);

#[derive(AuditEntity)]
pub struct User {
    #[audit(id)]
    pub id: UserId,
    #[audit(display)]
    pub name: String,
    pub email: String,
}

#[derive(AuditEntity)]
pub struct Widget {
    #[audit(id)]
    pub id: WidgetId,
    #[audit(display)]
    pub name: String,
    pub price_cents: u32,
}

// ---- The audit events: each schema is checked at compile time -----------------------------

#[derive(AuditEvent)]
#[audit(
    action = "user.signed_up",
    message = "{actor} signed up on the {plan} plan"
)]
pub struct UserSignedUp {
    #[audit(actor, subject)]
    pub user: EntityRef<UserId>,
    pub plan: String,
    pub email: Redacted<String>,
}

#[derive(AuditEvent)]
#[audit(
    action = "widget.created",
    message = "{actor} created {widget} at {price_cents} cents"
)]
pub struct WidgetCreated {
    #[audit(actor)]
    pub by: Actor,
    #[audit(subject)]
    pub widget: EntityRef<WidgetId>,
    pub price_cents: u32,
}

#[derive(AuditEvent)]
#[audit(
    action = "widget.purchased",
    message = "{actor} bought {quantity} of {widget}"
)]
pub struct WidgetPurchased {
    #[audit(actor)]
    pub buyer: EntityRef<UserId>,
    #[audit(subject)]
    pub widget: EntityRef<WidgetId>,
    pub quantity: u32,
    pub card_last4: Redacted<String>,
}

#[derive(AuditEvent)]
#[audit(
    action = "widget.refunded",
    message = "{actor} refunded {quantity} of {widget}"
)]
pub struct WidgetRefunded {
    #[audit(actor)]
    pub by: Actor,
    #[audit(subject)]
    pub widget: EntityRef<WidgetId>,
    pub quantity: u32,
    pub reason: String,
}

#[derive(AuditEvent)]
#[audit(action = "widget.deleted", message = "{actor} deleted {widget}")]
pub struct WidgetDeleted {
    #[audit(actor)]
    pub by: EntityRef<UserId>,
    #[audit(subject)]
    pub widget: EntityRef<WidgetId>,
}

#[derive(AuditEvent)]
#[audit(
    action = "billing.invoices_sent",
    message = "{actor} sent {invoices} invoices"
)]
pub struct InvoicesSent {
    #[audit(actor)]
    pub job: Actor,
    #[audit(subject, role = "customer")]
    pub customers: Vec<EntityRef<UserId>>,
    pub invoices: u32,
}

// ---- The shop -------------------------------------------------------------------------------

fn create_shop(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "CREATE TABLE users (id TEXT PRIMARY KEY COLLATE BINARY, name TEXT NOT NULL, email TEXT NOT NULL);
         CREATE TABLE widgets (id TEXT PRIMARY KEY COLLATE BINARY, name TEXT NOT NULL, price_cents INTEGER NOT NULL);",
    )
}

fn sign_up(
    conn: &Connection,
    auditor: &Auditor,
    name: &str,
    email: &str,
) -> Result<User, Box<dyn Error>> {
    let user = User {
        id: UserId::new(),
        name: name.to_owned(),
        email: email.to_owned(),
    };
    conn.execute(
        "INSERT INTO users (id, name, email) VALUES (?1, ?2, ?3)",
        params![user.id, user.name, user.email],
    )?;
    auditor.emit(UserSignedUp {
        user: EntityRef::from(&user),
        plan: "starter".to_owned(),
        email: Redacted::new(user.email.clone()),
    })?;
    Ok(user)
}

fn create_widget(
    conn: &Connection,
    auditor: &Auditor,
    by: Actor,
    name: &str,
    price_cents: u32,
) -> Result<Widget, Box<dyn Error>> {
    let widget = Widget {
        id: WidgetId::new(),
        name: name.to_owned(),
        price_cents,
    };
    conn.execute(
        "INSERT INTO widgets (id, name, price_cents) VALUES (?1, ?2, ?3)",
        params![widget.id, widget.name, widget.price_cents],
    )?;
    auditor.emit(WidgetCreated {
        by,
        widget: EntityRef::from(&widget),
        price_cents,
    })?;
    Ok(widget)
}

fn main() -> Result<(), Box<dyn Error>> {
    let dir = Path::new("quickstart-data");
    std::fs::create_dir_all(dir)?;
    for file in ["shop.db", "audit.db"] {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(dir.join(format!("{file}{suffix}")));
        }
    }
    let shop = Connection::open(dir.join("shop.db"))?;
    create_shop(&shop)?;

    // One auditor for the whole program: events go to an embedded SQLite audit log.
    let audit_path = dir.join("audit.db");
    let sink = SqliteSink::open(&audit_path)?;
    let log = sink.log()?;
    let auditor = Auditor::builder().sink(sink).build()?;

    // A request: its context (request id, client IP, user agent) goes into every event
    // emitted while it is in scope.
    let signup = Context::new()
        .request_id("req-0001")
        .ip("203.0.113.7".parse()?)
        .user_agent("curl/8.5");
    let (alice, bob, admin) = context::scope(&signup, || -> Result<_, Box<dyn Error>> {
        Ok((
            sign_up(&shop, &auditor, "Alice", "alice@example.com")?,
            sign_up(&shop, &auditor, "Bob", "bob@example.com")?,
            sign_up(&shop, &auditor, "Ada Admin", "ada@example.com")?,
        ))
    })?;

    let catalog_job = Actor::system("catalog-import");
    let blue = create_widget(&shop, &auditor, catalog_job.clone(), "Blue widget", 1_250)?;
    let red = create_widget(&shop, &auditor, catalog_job, "Red widget", 990)?;

    // Purchases, with the card's last digits kept out of the log.
    let checkout = Context::new()
        .request_id("req-0002")
        .ip("198.51.100.23".parse()?);
    auditor.emit_with(
        &checkout,
        WidgetPurchased {
            buyer: EntityRef::from(&alice),
            widget: EntityRef::from(&blue),
            quantity: 2,
            card_last4: Redacted::new("4242".to_owned()),
        },
    )?;
    auditor.emit_with(
        &checkout,
        WidgetPurchased {
            buyer: EntityRef::from(&bob),
            widget: EntityRef::from(&red),
            quantity: 1,
            card_last4: Redacted::new("0005".to_owned()),
        },
    )?;

    // Support: the admin acts on behalf of Alice.
    auditor.emit_with(
        &Context::new().request_id("req-0003"),
        WidgetRefunded {
            by: Actor::on_behalf_of(EntityRef::from(&admin), EntityRef::from(&alice)),
            widget: EntityRef::from(&blue),
            quantity: 1,
            reason: "arrived scratched".to_owned(),
        },
    )?;

    // Bob tries to delete a widget he does not own: the attempt is recorded as denied.
    let denied = Envelope::from_event(
        &WidgetDeleted {
            by: EntityRef::from(&bob),
            widget: EntityRef::from(&blue),
        },
        &Context::new().request_id("req-0004"),
    )?
    .with_outcome(Outcome::Denied);
    auditor.emit_envelope(denied)?;

    // A nightly job, with no request: a system actor.
    auditor.emit(InvoicesSent {
        job: Actor::system("nightly-billing"),
        customers: vec![EntityRef::from(&alice), EntityRef::from(&bob)],
        invoices: 2,
    })?;

    // Renaming a widget later does not rewrite history: the log kept the name at emit.
    shop.execute(
        "UPDATE widgets SET name = 'Azure widget' WHERE id = ?1",
        params![blue.id],
    )?;
    let stored: WidgetId = shop.query_row(
        "SELECT id FROM widgets WHERE name = 'Azure widget'",
        [],
        |r| r.get(0),
    )?;
    assert_eq!(stored, blue.id);

    auditor.flush()?;

    println!("== What happened to {} ({})", blue.name, blue.id);
    let page = log.query(&Query::new().subject(blue.id))?;
    print!("{}", timeline(&page.events));

    println!("\n== What {} did ({})", alice.name, alice.id);
    let page = log.query(&Query::new().actor(alice.id))?;
    print!("{}", timeline(&page.events));

    println!(
        "\n== Counts: {} events, {} purchases, {} on request req-0001",
        log.count(&Query::new())?,
        log.count(&Query::new().action("widget.purchased"))?,
        log.count(&Query::new().request_id("req-0001"))?,
    );

    let report = auditor.shutdown();
    assert!(report.is_clean(), "{report:?}");
    let verified = SqliteSink::verify(&audit_path)?;
    println!(
        "== Hash chain verified: {} events, seq {}..={}, last hash {}",
        verified.events, verified.first_seq, verified.last_seq, verified.last_hash
    );
    println!("== Audit log: {}", audit_path.display());
    println!("   Shop data: {}", dir.join("shop.db").display());
    Ok(())
}
