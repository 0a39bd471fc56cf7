use audit_core::{AuditEvent, Context, EntityRef, Envelope, PrefixedId};

#[derive(PrefixedId)]
#[id(prefix = "user")]
pub struct UserId([u8; 16]);

#[derive(PrefixedId)]
#[id(prefix = "wdgt", name = "widget")]
pub struct WidgetId([u8; 16]);

#[derive(AuditEvent)]
#[audit(action = "widget.swapped")]
pub struct WidgetSwapped {
    #[audit(actor)]
    pub user: EntityRef<UserId>,
    #[audit(subject)]
    pub widget: EntityRef<WidgetId>,
    #[audit(subject, role = "widget")]
    pub replacement: EntityRef<WidgetId>,
}

fn main() {
    let event = WidgetSwapped {
        user: EntityRef::new(UserId::new(), "Alice"),
        widget: EntityRef::new(WidgetId::new(), "Blue widget"),
        replacement: EntityRef::new(WidgetId::new(), "Red widget"),
    };
    let _ = Envelope::from_event(&event, &Context::new());
}
