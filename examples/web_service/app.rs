//! The widget shop's HTTP API: its model, its audit events, its routes and `GET /audit`.
//!
//! [`routes`] is the whole API *without* the audit layer: `main.rs` adds
//! `.layer(AuditLayer::new())`, which gives every request a context (request id, client IP,
//! user agent, trace id) and puts it in scope while the handler runs. The handlers never pass
//! a context around: [`AppState::record`] emits with the context in scope.
//!
//! | route                          | what                                     | audit event        |
//! | ------------------------------ | ---------------------------------------- | ------------------ |
//! | `POST /users`                  | sign up `{"name", "email"}`              | `user.signed_up`   |
//! | `POST /widgets`                | `{"name", "price_cents", "stock"}`       | `widget.created`   |
//! | `GET /widgets/{id}`            | one widget (reads are not audited)       |                    |
//! | `POST /widgets/{id}/purchase`  | `{"quantity", "card_number"}`            | `widget.purchased` |
//! | `DELETE /widgets/{id}`         | the owner only; others are refused       | `widget.deleted`   |
//! | `GET /audit`                   | the log: JSON, or HTML for a browser     |                    |
//!
//! `GET /audit` takes `actor`, `subject` (IDs), `action` (`widget.purchased`, or `widget.*`),
//! `limit` and `after` (the `next` cursor of the previous page), and answers
//! `{"events": [...], "next": "<cursor>" | null}`, or an HTML table when the client asks for
//! `text/html` (a browser does) or passes `format=html`.
//!
//! The tests include this file (`tests/web_service.rs`), so it is all the shop there is.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use audit_core::query::{Cursor, Page, Query};
use audit_core::sink::{QueryError, SqliteLog};
use audit_core::{
    AuditEntity, AuditEvent, Auditor, EmitError, EntityRef, Envelope, EventId, FlushError, Outcome,
    PrefixedId, Redacted, context,
};
use axum::extract::{FromRequestParts, Path as UrlPath, Query as UrlQuery, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};

// ---- The model: one prefixed ID per record, the TEXT primary key of its table -------------

/// A user of the shop: `user_...`.
#[derive(PrefixedId)]
#[id(prefix = "user")]
pub struct UserId([u8; 16]);

/// A widget for sale: `wdgt_...`.
#[derive(PrefixedId)]
#[id(prefix = "wdgt", name = "widget")]
pub struct WidgetId([u8; 16]);

/// A row of `users`.
#[derive(AuditEntity, Serialize)]
pub struct User {
    #[audit(id)]
    pub id: UserId,
    #[audit(display)]
    pub name: String,
    pub email: String,
}

/// A row of `widgets`.
#[derive(AuditEntity, Serialize)]
pub struct Widget {
    #[audit(id)]
    pub id: WidgetId,
    #[audit(display)]
    pub name: String,
    pub owner: UserId,
    pub price_cents: u32,
    pub stock: u32,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS users (
    id          TEXT PRIMARY KEY COLLATE BINARY,
    name        TEXT NOT NULL,
    email       TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS widgets (
    id          TEXT PRIMARY KEY COLLATE BINARY,
    owner       TEXT NOT NULL COLLATE BINARY REFERENCES users (id),
    name        TEXT NOT NULL,
    price_cents INTEGER NOT NULL,
    stock       INTEGER NOT NULL CHECK (stock >= 0)
) WITHOUT ROWID;
";

/// Opens (or creates) the shop's own database. The audit log lives in another file, written
/// by `audit_core`'s `SqliteSink`.
pub async fn open_shop(path: &Path) -> sqlx::Result<SqlitePool> {
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .foreign_keys(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(4)
        .connect_with(options)
        .await?;
    sqlx::raw_sql(SCHEMA).execute(&pool).await?;
    Ok(pool)
}

// ---- The audit events: each schema is checked at compile time -----------------------------

/// `POST /users`: the new user is both who acted and what was acted on.
#[derive(AuditEvent)]
#[audit(action = "user.signed_up", message = "{actor} signed up")]
pub struct UserSignedUp {
    #[audit(actor, subject)]
    pub user: EntityRef<UserId>,
    /// Kept out of the log: the log records that an address was given, not which.
    pub email: Redacted<String>,
}

/// `POST /widgets`.
#[derive(AuditEvent)]
#[audit(
    action = "widget.created",
    message = "{actor} created {widget} at {price_cents} cents"
)]
pub struct WidgetCreated {
    #[audit(actor)]
    pub by: EntityRef<UserId>,
    #[audit(subject)]
    pub widget: EntityRef<WidgetId>,
    pub price_cents: u32,
    pub stock: u32,
}

/// `POST /widgets/{id}/purchase`.
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
    /// Kept out of the log (it prints `[redacted]` everywhere).
    pub card_last4: Redacted<String>,
}

/// `DELETE /widgets/{id}`: recorded as `success`, or `denied` when not the owner's.
#[derive(AuditEvent)]
#[audit(action = "widget.deleted", message = "{actor} deleted {widget}")]
pub struct WidgetDeleted {
    #[audit(actor)]
    pub by: EntityRef<UserId>,
    #[audit(subject)]
    pub widget: EntityRef<WidgetId>,
}

// ---- State and errors -----------------------------------------------------------------------

/// What every handler shares. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    db: SqlitePool,
    auditor: Auditor,
    /// A reader on the audit database (blocking calls: used on the blocking pool).
    audit_log: Arc<Mutex<SqliteLog>>,
}

impl AppState {
    /// `auditor` should deliver in the background (`.background(capacity)`), so that emitting
    /// never blocks the async executor; `audit_log` reads the auditor's `SqliteSink`.
    pub fn new(db: SqlitePool, auditor: Auditor, audit_log: SqliteLog) -> Self {
        AppState {
            db,
            auditor,
            audit_log: Arc::new(Mutex::new(audit_log)),
        }
    }

    /// Records `event` with the request's context (the layer put it in scope), and returns
    /// once it is durable, so a client never sees a success whose audit event could still be
    /// lost. `emit_async` queues without blocking the executor; `flush_async` waits for the
    /// write (concurrent requests share one commit).
    pub async fn record(&self, event: impl AuditEvent) -> Result<EventId, ApiError> {
        let id = self.auditor.emit_async(event).await?;
        self.auditor.flush_async().await?;
        Ok(id)
    }

    /// As [`AppState::record`], with another outcome than `success`. (`emit_envelope` does
    /// not wait for room: a full queue is an error, answered with 503.)
    async fn record_outcome(
        &self,
        event: impl AuditEvent,
        outcome: Outcome,
    ) -> Result<EventId, ApiError> {
        let envelope = Envelope::from_event(&event, &context::current())
            .map_err(EmitError::from)?
            .with_outcome(outcome);
        let id = self.auditor.emit_envelope(envelope)?;
        self.auditor.flush_async().await?;
        Ok(id)
    }

    async fn user(&self, id: UserId) -> sqlx::Result<Option<User>> {
        let row: Option<(String, String)> =
            sqlx::query_as("SELECT name, email FROM users WHERE id = ?1")
                .bind(id)
                .fetch_optional(&self.db)
                .await?;
        Ok(row.map(|(name, email)| User { id, name, email }))
    }

    async fn widget(&self, id: WidgetId) -> Result<Widget, ApiError> {
        let row: Option<(UserId, String, u32, u32)> =
            sqlx::query_as("SELECT owner, name, price_cents, stock FROM widgets WHERE id = ?1")
                .bind(id)
                .fetch_optional(&self.db)
                .await?;
        let (owner, name, price_cents, stock) =
            row.ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "no such widget"))?;
        Ok(Widget {
            id,
            name,
            owner,
            price_cents,
            stock,
        })
    }
}

/// An error answer: `{"error": "...", "request_id": "..."}` with a status.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }

    /// A 500 whose details go to the server's log, not to the client.
    fn internal(what: &str, error: &dyn std::error::Error) -> Self {
        tracing::error!(%error, "{what}");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // Still inside the request: the request id lets a user's report be matched to the log.
        let request_id = context::current().request_id_str().map(str::to_owned);
        let body = json!({"error": self.message, "request_id": request_id});
        (self.status, Json(body)).into_response()
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        ApiError::internal("database error", &e)
    }
}

impl From<EmitError> for ApiError {
    fn from(e: EmitError) -> Self {
        if let EmitError::Full { .. } = e {
            tracing::warn!(error = %e, "audit queue full");
            return ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "busy: try again");
        }
        ApiError::internal("audit emit failed", &e)
    }
}

impl From<FlushError> for ApiError {
    fn from(e: FlushError) -> Self {
        ApiError::internal("audit flush failed", &e)
    }
}

impl From<QueryError> for ApiError {
    fn from(e: QueryError) -> Self {
        ApiError::internal("audit query failed", &e)
    }
}

/// The user making the request, from the `x-user-id` header.
///
/// A stand-in for real authentication, to keep the example short: a real service takes the
/// user from a verified session or token, never from a header that the client chooses.
pub struct CurrentUser(pub User);

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let unauthorized = || {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "send the x-user-id header of a user (from POST /users)",
            )
        };
        let id = parts
            .headers
            .get("x-user-id")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| UserId::parse(v).ok())
            .ok_or_else(unauthorized)?;
        let user = state.user(id).await?.ok_or_else(unauthorized)?;
        Ok(CurrentUser(user))
    }
}

// ---- Routes ---------------------------------------------------------------------------------

/// The shop's API, without the audit layer (the caller adds it).
pub fn routes(state: AppState) -> Router {
    Router::new()
        .route("/users", post(sign_up))
        .route("/widgets", post(create_widget))
        .route("/widgets/{id}", get(get_widget).delete(delete_widget))
        .route("/widgets/{id}/purchase", post(purchase))
        .route("/audit", get(audit_log))
        .with_state(state)
}

fn check_name(name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "a name has 1 to 100 characters",
        ));
    }
    Ok(name.to_owned())
}

/// `{"name", "email"}` of `POST /users`.
#[derive(Deserialize)]
pub struct NewUser {
    pub name: String,
    pub email: String,
}

async fn sign_up(
    State(state): State<AppState>,
    Json(new): Json<NewUser>,
) -> Result<(StatusCode, Json<User>), ApiError> {
    let user = User {
        id: UserId::new(),
        name: check_name(&new.name)?,
        email: new.email,
    };
    sqlx::query("INSERT INTO users (id, name, email) VALUES (?1, ?2, ?3)")
        .bind(user.id)
        .bind(&user.name)
        .bind(&user.email)
        .execute(&state.db)
        .await?;
    state
        .record(UserSignedUp {
            user: EntityRef::from(&user),
            email: Redacted::new(user.email.clone()),
        })
        .await?;
    Ok((StatusCode::CREATED, Json(user)))
}

/// `{"name", "price_cents", "stock"}` of `POST /widgets`.
#[derive(Deserialize)]
pub struct NewWidget {
    pub name: String,
    pub price_cents: u32,
    pub stock: u32,
}

async fn create_widget(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Json(new): Json<NewWidget>,
) -> Result<(StatusCode, Json<Widget>), ApiError> {
    let widget = Widget {
        id: WidgetId::new(),
        name: check_name(&new.name)?,
        owner: user.id,
        price_cents: new.price_cents,
        stock: new.stock,
    };
    sqlx::query(
        "INSERT INTO widgets (id, owner, name, price_cents, stock) VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .bind(widget.id)
    .bind(widget.owner)
    .bind(&widget.name)
    .bind(widget.price_cents)
    .bind(widget.stock)
    .execute(&state.db)
    .await?;
    state
        .record(WidgetCreated {
            by: EntityRef::from(&user),
            widget: EntityRef::from(&widget),
            price_cents: widget.price_cents,
            stock: widget.stock,
        })
        .await?;
    Ok((StatusCode::CREATED, Json(widget)))
}

async fn get_widget(
    State(state): State<AppState>,
    UrlPath(id): UrlPath<WidgetId>,
) -> Result<Json<Widget>, ApiError> {
    Ok(Json(state.widget(id).await?))
}

/// `{"quantity", "card_number"}` of `POST /widgets/{id}/purchase`.
#[derive(Deserialize)]
pub struct Purchase {
    pub quantity: u32,
    pub card_number: String,
}

async fn purchase(
    State(state): State<AppState>,
    CurrentUser(buyer): CurrentUser,
    UrlPath(id): UrlPath<WidgetId>,
    Json(order): Json<Purchase>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let digits: String = order
        .card_number
        .chars()
        .filter(|c| !matches!(c, ' ' | '-'))
        .collect();
    if !(12..=19).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "card_number has 12 to 19 digits",
        ));
    }
    if !(1..=100).contains(&order.quantity) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "quantity is 1 to 100",
        ));
    }
    let widget = state.widget(id).await?;
    // ... charge the card here ...
    let taken = sqlx::query("UPDATE widgets SET stock = stock - ?1 WHERE id = ?2 AND stock >= ?1")
        .bind(order.quantity)
        .bind(id)
        .execute(&state.db)
        .await?;
    if taken.rows_affected() == 0 {
        return Err(ApiError::new(StatusCode::CONFLICT, "not enough stock"));
    }
    state
        .record(WidgetPurchased {
            buyer: EntityRef::from(&buyer),
            widget: EntityRef::from(&widget),
            quantity: order.quantity,
            card_last4: Redacted::new(digits[digits.len() - 4..].to_owned()),
        })
        .await?;
    Ok(Json(json!({"widget": id, "quantity": order.quantity})))
}

async fn delete_widget(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    UrlPath(id): UrlPath<WidgetId>,
) -> Result<StatusCode, ApiError> {
    let widget = state.widget(id).await?;
    let event = WidgetDeleted {
        by: EntityRef::from(&user),
        widget: EntityRef::from(&widget),
    };
    if widget.owner != user.id {
        // A refusal is worth a line in the log too.
        state.record_outcome(event, Outcome::Denied).await?;
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "only the widget's owner can delete it",
        ));
    }
    sqlx::query("DELETE FROM widgets WHERE id = ?1")
        .bind(id)
        .execute(&state.db)
        .await?;
    state.record(event).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- GET /audit -----------------------------------------------------------------------------

/// The query string of `GET /audit`. Empty values count as absent (an HTML form sends them).
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct AuditParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
}

fn non_empty(value: Option<&String>) -> Option<&str> {
    value.map(|v| v.trim()).filter(|v| !v.is_empty())
}

impl AuditParams {
    fn query(&self) -> Result<Query, ApiError> {
        let mut query = Query::new().limit(self.limit.unwrap_or(20));
        if let Some(actor) = non_empty(self.actor.as_ref()) {
            query = query.actor(actor);
        }
        if let Some(subject) = non_empty(self.subject.as_ref()) {
            query = query.subject(subject);
        }
        if let Some(action) = non_empty(self.action.as_ref()) {
            query = query.action(action);
        }
        if let Some(after) = non_empty(self.after.as_ref()) {
            let cursor: Cursor = after
                .parse()
                .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("after: {e}")))?;
            query = query.after(cursor);
        }
        Ok(query)
    }

    /// HTML when asked with `format=html`, or by an `Accept` header that lists `text/html`
    /// (as a browser's does) unless `format=json`.
    fn wants_html(&self, headers: &HeaderMap) -> bool {
        match self.format.as_deref() {
            Some("html") => true,
            Some("json") => false,
            _ => headers
                .get_all(header::ACCEPT)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .any(|v| v.contains("text/html")),
        }
    }

    /// The URL of this listing with another `after`.
    fn url_after(&self, cursor: Cursor) -> String {
        let mut serializer = url::form_urlencoded::Serializer::new(String::new());
        for (key, value) in [
            ("actor", &self.actor),
            ("subject", &self.subject),
            ("action", &self.action),
            ("format", &self.format),
        ] {
            if let Some(value) = non_empty(value.as_ref()) {
                serializer.append_pair(key, value);
            }
        }
        if let Some(limit) = self.limit {
            serializer.append_pair("limit", &limit.to_string());
        }
        serializer.append_pair("after", &cursor.to_string());
        format!("/audit?{}", serializer.finish())
    }
}

/// One page of the audit log as JSON.
#[derive(Serialize)]
pub struct AuditPage<'a> {
    pub events: &'a [Envelope],
    pub next: Option<String>,
}

async fn audit_log(
    State(state): State<AppState>,
    headers: HeaderMap,
    UrlQuery(params): UrlQuery<AuditParams>,
) -> Result<Response, ApiError> {
    let query = params.query()?;
    let log = Arc::clone(&state.audit_log);
    // SQLite calls block: run them on tokio's blocking pool.
    let page: Page = tokio::task::spawn_blocking(move || {
        log.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .query(&query)
    })
    .await
    .map_err(|e| ApiError::internal("audit query task", &e))??;
    if params.wants_html(&headers) {
        return Ok(Html(render_html(&params, &page)).into_response());
    }
    let body = AuditPage {
        events: &page.events,
        next: page.next.map(|c| c.to_string()),
    };
    Ok(Json(body).into_response())
}

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A link that filters the listing by `key` = `value`.
fn filter_link(key: &str, value: &str, text: &str) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("format", "html")
        .append_pair(key, value)
        .finish();
    format!("<a href=\"/audit?{}\">{}</a>", escape(&query), escape(text))
}

/// The page as a plain HTML timeline. Every value from the log or the request is escaped:
/// display names, messages and user agents are whatever users typed.
fn render_html(params: &AuditParams, page: &Page) -> String {
    let field = |name: &str, value: &Option<String>| {
        format!(
            "<label>{name} <input name=\"{name}\" value=\"{}\"></label> ",
            escape(non_empty(value.as_ref()).unwrap_or(""))
        )
    };
    let mut html = String::from(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Audit log</title>\
         <style>body{font-family:sans-serif}td,th{padding:2px 8px;text-align:left;\
         vertical-align:top}tr:nth-child(even){background:#f4f4f4}.denied{color:#b00}\
         </style></head><body>\n<h1>Audit log</h1>\n<form method=\"get\" action=\"/audit\">\
         <input type=\"hidden\" name=\"format\" value=\"html\">",
    );
    html.push_str(&field("actor", &params.actor));
    html.push_str(&field("subject", &params.subject));
    html.push_str(&field("action", &params.action));
    html.push_str("<button>Filter</button></form>\n<table>\n<tr><th>time (UTC)</th><th>outcome</th><th>action</th><th>actor</th><th>subjects</th><th>message</th><th>request</th><th>ip</th></tr>\n");
    for event in &page.events {
        let mut actor = filter_link("actor", &event.actor.id, &event.actor.display);
        if let Some(principal) = &event.actor.on_behalf_of {
            actor.push_str(" on behalf of ");
            actor.push_str(&filter_link("actor", &principal.id, &principal.display));
        }
        let subjects: Vec<String> = event
            .subjects
            .iter()
            .map(|s| {
                format!(
                    "{}: {}",
                    escape(&s.role),
                    filter_link("subject", &s.id, &s.display)
                )
            })
            .collect();
        let ctx = &event.context;
        let _ = writeln!(
            html,
            "<tr class=\"{outcome}\"><td>{time}</td><td>{outcome}</td><td>{action}</td>\
             <td>{actor}</td><td>{subjects}</td><td>{message}</td><td>{request}</td>\
             <td>{ip}</td></tr>",
            outcome = escape(event.outcome.as_str()),
            time = escape(&event.occurred_at.to_string()),
            action = escape(&event.action),
            subjects = subjects.join("<br>"),
            message = escape(event.message.as_deref().unwrap_or("")),
            request = escape(ctx.request_id_str().unwrap_or("")),
            ip = escape(&ctx.ip_addr().map(|ip| ip.to_string()).unwrap_or_default()),
        );
    }
    html.push_str("</table>\n");
    if page.events.is_empty() {
        html.push_str("<p>No events.</p>\n");
    }
    if let Some(next) = page.next {
        let _ = writeln!(
            html,
            "<p><a href=\"{}\">Older events</a></p>",
            escape(&params.url_after(next))
        );
    }
    html.push_str("</body></html>\n");
    html
}
