use audit_core::PrefixedId;

#[derive(PrefixedId)]
#[id(prefix = "a", prefix = "b")]
pub struct UserId([u8; 16]);

fn main() {
    // The type is still usable: the mistake above is the only error.
    let id = UserId::new();
    let text = id.to_string();
    assert_eq!(UserId::parse(&text).ok(), Some(id.clone()));
    let _: [u8; 16] = id.to_bytes();
}
