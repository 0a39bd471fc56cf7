use audit_core::PrefixedId;

// Two independent mistakes: both are reported, and the uses below add nothing.
#[derive(PrefixedId)]
#[id(prefix = "Order", sortable)]
pub struct OrderId {
    bytes: [u8; 16],
}

#[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
struct Order {
    id: OrderId,
}

fn main() {
    let order = Order { id: OrderId::new() };
    assert_eq!(order.id, OrderId::parse("order_AAAAAAAAAAAAAAAAAAAAAA").unwrap());
    println!("{} {:?}", order.id, order);
}
