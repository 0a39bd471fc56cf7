use audit_core::PrefixedId;

#[derive(PrefixedId)]
#[id(prefix = "organization_membership_invitation")]
pub struct InvitationId([u8; 16]);

fn main() {
    // The type is still usable: the mistake above is the only error.
    let id = InvitationId::new();
    let text = id.to_string();
    assert_eq!(InvitationId::parse(&text).ok(), Some(id.clone()));
    let _: [u8; 16] = id.to_bytes();
}
