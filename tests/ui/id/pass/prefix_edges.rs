//! The edges of the prefix rules that must be accepted.
use audit_core::PrefixedId;

#[derive(PrefixedId)]
#[id(prefix = "a")]
pub struct OneLetterId([u8; 16]);

#[derive(PrefixedId)]
#[id(prefix = "abcdefghijklmnopqrstuvwxyz_01234")] // exactly 32 characters
pub struct LongestId([u8; 16]);

#[derive(PrefixedId)]
#[id(prefix = "org_member_v2", name = "organization member")]
pub struct OrgMemberId([u8; 16]);

#[derive(PrefixedId)]
#[id(prefix = "oevt", sortable)]
pub struct OrderEventId([u8; 16]);

#[derive(PrefixedId)]
#[id(prefix = "tenant")]
#[id(name = "tenant", sortable)] // keys may be split over several attributes
pub struct TenantId([u8; 16]);

fn main() {
    assert_eq!(LongestId::PREFIX.len(), 32);
    assert_eq!(OneLetterId::PREFIX, "a");
    assert_eq!(<OrgMemberId as PrefixedId>::NAME, "organization member");
    assert!(<OrderEventId as PrefixedId>::SORTABLE);
    assert!(<TenantId as PrefixedId>::SORTABLE);
    let id = OrgMemberId::new();
    assert_eq!(OrgMemberId::parse(&id.encode()), Ok(id));
}
