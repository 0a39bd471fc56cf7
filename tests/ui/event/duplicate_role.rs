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
    #[audit(subject, role = "widget")]
    pub old: EntityRef<WidgetId>,
    #[audit(subject, role = "widget")]
    pub new: EntityRef<WidgetId>,
}

fn main() {
    let event = WidgetSwapped {
        user: EntityRef::new(UserId::new(), "Alice"),
        old: EntityRef::new(WidgetId::new(), "Blue widget"),
        new: EntityRef::new(WidgetId::new(), "Red widget"),
    };
    let _ = Envelope::from_event(&event, &Context::new());
}
