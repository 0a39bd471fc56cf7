use audit_core::{AuditEvent, EntityRef, PrefixedId};

#[derive(PrefixedId)]
#[id(prefix = "user")]
pub struct UserId([u8; 16]);

#[derive(PrefixedId)]
#[id(prefix = "wdgt", name = "widget")]
pub struct WidgetId([u8; 16]);

/// A type the user forgot to derive `Serialize` on.
pub struct Colour {
    pub name: String,
}

#[derive(AuditEvent)]
#[audit(action = "widget.purchased")]
pub struct WidgetPurchased {
    #[audit(actor)]
    pub buyer: EntityRef<UserId>,
    #[audit(subject)]
    pub widget: EntityRef<WidgetId>,
    pub quantity: u32,
    pub colour: Colour,
}

fn main() {}
