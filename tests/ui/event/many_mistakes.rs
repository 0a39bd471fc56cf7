use audit_core::{AuditEvent, Context, EntityRef, Envelope, PrefixedId};

#[derive(PrefixedId)]
#[id(prefix = "user")]
pub struct UserId([u8; 16]);

#[derive(PrefixedId)]
#[id(prefix = "wdgt", name = "widget")]
pub struct WidgetId([u8; 16]);

#[derive(AuditEvent)]
#[audit(action = "Widget-Purchased", version = 0, mesage = "{actor} bought {widget}")]
pub struct WidgetPurchased {
    #[audit(actor)]
    pub buyer: EntityRef<UserId>,
    #[audit(actor)]
    pub seller: EntityRef<UserId>,
    #[audit(subjct)]
    pub widget: EntityRef<WidgetId>,
    #[audit(skip, role = "x")]
    pub note: String,
}

fn main() {
    // The event is still usable: the mistakes above are the only errors.
    let event = WidgetPurchased {
        buyer: EntityRef::new(UserId::new(), "Alice"),
        seller: EntityRef::new(UserId::new(), "Bob"),
        widget: EntityRef::new(WidgetId::new(), "Blue widget"),
        note: String::new(),
    };
    let _ = Envelope::from_event(&event, &Context::new());
}
