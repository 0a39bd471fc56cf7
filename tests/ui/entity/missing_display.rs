use audit_core::{AuditEntity, EntityRef, PrefixedId};

#[derive(PrefixedId)]
#[id(prefix = "user")]
pub struct UserId([u8; 16]);

#[derive(AuditEntity)]
pub struct User {
    #[audit(id)]
    pub id: UserId,
    pub name: String,
}

fn main() {
    let user = User { id: UserId::new(), name: "Alice".into() };
    let _ = EntityRef::from(&user);
}
