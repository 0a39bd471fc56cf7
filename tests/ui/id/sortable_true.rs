use audit_core::PrefixedId;

#[derive(PrefixedId)]
#[id(prefix = "oevt", sortable = true)]
pub struct OrderEventId([u8; 16]);

fn main() {
    // The type is still usable: the mistake above is the only error.
    let id = OrderEventId::new();
    let text = id.to_string();
    assert_eq!(OrderEventId::parse(&text).ok(), Some(id.clone()));
    let _: [u8; 16] = id.to_bytes();
}
