use audit_core::{AuditEvent, Context, EntityRef, Envelope, PrefixedId};

#[derive(PrefixedId)]
#[id(prefix = "user")]
pub struct UserId([u8; 16]);

#[derive(PrefixedId)]
#[id(prefix = "wdgt", name = "widget")]
pub struct WidgetId([u8; 16]);

// A mistake in the definition, and the event used in several places: the derive emits a
// stub impl beside its error, so the only error is the one on the definition.
#[derive(AuditEvent)]
#[audit(action = "widget.purchased", version = 0)]
pub struct WidgetPurchased {
    #[audit(actor)]
    pub buyer: EntityRef<UserId>,
    #[audit(subject)]
    pub widget: EntityRef<WidgetId>,
}

fn envelope_of<E: AuditEvent>(event: &E) -> Option<Envelope> {
    Envelope::from_event(event, &Context::new()).ok()
}

fn main() {
    let event = WidgetPurchased {
        buyer: EntityRef::new(UserId::new(), "Alice"),
        widget: EntityRef::new(WidgetId::new(), "Blue widget"),
    };
    let _ = Envelope::from_event(&event, &Context::new());
    let _ = envelope_of(&event);
    let _: &str = WidgetPurchased::ACTION;
    let _ = WidgetPurchased::schema();
}
