use audit_core::{AuditEvent, Context, EntityRef, Envelope, PrefixedId};

#[derive(PrefixedId)]
#[id(prefix = "user")]
pub struct UserId([u8; 16]);

#[derive(PrefixedId)]
#[id(prefix = "wdgt", name = "widget")]
pub struct WidgetId([u8; 16]);

#[derive(AuditEvent)]
#[audit(action = "widget.purchased", message = "{actor} bought} {widget}")]
pub struct WidgetPurchased {
    #[audit(actor)]
    pub buyer: EntityRef<UserId>,
    #[audit(subject)]
    pub widget: EntityRef<WidgetId>,
}
fn main() {
    // The event is still usable: the mistake above is the only error.
    let event = WidgetPurchased {
        buyer: EntityRef::new(UserId::new(), "Alice"),
        widget: EntityRef::new(WidgetId::new(), "Blue widget"),
    };
    let _ = Envelope::from_event(&event, &Context::new());
}
