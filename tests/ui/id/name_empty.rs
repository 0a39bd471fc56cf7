use audit_core::PrefixedId;

#[derive(PrefixedId)]
#[id(prefix = "wdgt", name = "")]
pub struct WidgetId([u8; 16]);

fn main() {
    // The type is still usable: the mistake above is the only error.
    let id = WidgetId::new();
    let _ = WidgetId::parse(&id.to_string());
}
