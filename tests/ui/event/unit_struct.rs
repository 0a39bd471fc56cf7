use audit_core::AuditEvent;

#[derive(AuditEvent)]
#[audit(action = "system.started")]
pub struct SystemStarted;

fn main() {}
