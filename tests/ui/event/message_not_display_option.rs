use audit_core::{AuditEvent, EntityRef, PrefixedId};

#[derive(PrefixedId)]
#[id(prefix = "user")]
pub struct UserId([u8; 16]);

#[derive(PrefixedId)]
#[id(prefix = "wdgt", name = "widget")]
pub struct WidgetId([u8; 16]);

#[derive(AuditEvent)]
#[audit(action = "widget.gifted", message = "{actor} gave {widget} to {recipient}")]
pub struct WidgetGifted {
    #[audit(actor)]
    pub giver: EntityRef<UserId>,
    #[audit(subject)]
    pub widget: EntityRef<WidgetId>,
    #[audit(subject)]
    pub recipient: Option<EntityRef<UserId>>,
}

fn main() {}
