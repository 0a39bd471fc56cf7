use audit_core::PrefixedId;

#[derive(PrefixedId)]
#[id(prefix = "2fa")]
pub struct TwoFactorId([u8; 16]);

fn main() {
    // The type is still usable: the mistake above is the only error.
    let id = TwoFactorId::new();
    let text = id.to_string();
    assert_eq!(TwoFactorId::parse(&text).ok(), Some(id.clone()));
    let _: [u8; 16] = id.to_bytes();
}
