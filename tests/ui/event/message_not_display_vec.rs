use audit_core::{AuditEvent, EntityRef, PrefixedId};

#[derive(PrefixedId)]
#[id(prefix = "user")]
pub struct UserId([u8; 16]);

#[derive(PrefixedId)]
#[id(prefix = "wdgt", name = "widget")]
pub struct WidgetId([u8; 16]);

#[derive(AuditEvent)]
#[audit(action = "widget.tagged", message = "{actor} tagged {widget} with {tags}")]
pub struct WidgetTagged {
    #[audit(actor)]
    pub user: EntityRef<UserId>,
    #[audit(subject)]
    pub widget: EntityRef<WidgetId>,
    pub tags: Vec<String>,
}

fn main() {}
