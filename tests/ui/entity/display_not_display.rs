use audit_core::{AuditEntity, PrefixedId};

#[derive(PrefixedId)]
#[id(prefix = "user")]
pub struct UserId([u8; 16]);

#[derive(AuditEntity)]
pub struct User {
    #[audit(id)]
    pub id: UserId,
    #[audit(display)]
    pub names: Vec<String>,
}

fn main() {}
