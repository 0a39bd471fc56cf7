use audit_core::{AuditEntity, EntityRef, PrefixedId};

#[derive(PrefixedId)]
#[id(prefix = "user")]
pub struct UserId([u8; 16]);

#[derive(AuditEntity)]
#[audit(crate = audit_core, krate = audit_core)]
pub struct User {
    #[audit(idd)]
    pub id: UserId,
    pub email: String,
}

fn main() {
    // The model is still usable: the mistakes above are the only errors.
    let user = User { id: UserId::new(), email: "a@example.com".into() };
    let _ = EntityRef::from(&user);
}
