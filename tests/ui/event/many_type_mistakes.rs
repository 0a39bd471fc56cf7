use audit_core::{AuditEvent, Context, Envelope};

/// A type the user forgot to derive `Serialize` on.
pub struct Colour;

#[derive(AuditEvent)]
#[audit(action = "widget.purchased", message = "{actor} bought {widget} in {colours}")]
pub struct WidgetPurchased {
    #[audit(actor)]
    pub buyer: String,
    #[audit(subject)]
    pub widget: u32,
    pub colour: Colour,
    pub colours: Vec<String>,
}

fn main() {
    let event = WidgetPurchased {
        buyer: String::from("Alice"),
        widget: 7,
        colour: Colour,
        colours: Vec::new(),
    };
    let _ = Envelope::from_event(&event, &Context::new());
}
