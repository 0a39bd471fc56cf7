use audit_core::PrefixedId;

#[derive(PrefixedId)]
#[id(prefix = "user")]
pub struct UserId<T>([u8; 16], std::marker::PhantomData<T>);

fn main() {
    // The type is still usable: the mistake above is the only error.
    let id = UserId::<u8>::new();
    let text = id.to_string();
    assert_eq!(UserId::<u8>::parse(&text).ok(), Some(id.clone()));
    let _: [u8; 16] = id.to_bytes();
}
