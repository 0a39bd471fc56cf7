use audit_core::PrefixedId;

#[derive(PrefixedId)]
pub struct UserId([u8; 16]);

fn main() {
    // The type is still usable: the mistake above is the only error.
    let id = UserId::new();
    let _ = UserId::parse(&id.to_string());
}
