//! serde for IDs: the text form in human-readable formats, 16 bytes in binary ones.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::ser::Serializer;

use super::PrefixedId;

pub(crate) fn serialize<T: PrefixedId, S: Serializer>(id: &T, s: S) -> Result<S::Ok, S::Error> {
    if s.is_human_readable() {
        s.serialize_str(&id.encode())
    } else {
        s.serialize_bytes(&id.to_bytes())
    }
}

pub(crate) fn deserialize<'de, T: PrefixedId, D: Deserializer<'de>>(d: D) -> Result<T, D::Error> {
    // The visitor takes every form whatever the format claims: serde's buffering for
    // untagged and flattened types loses the human-readable flag.
    if d.is_human_readable() {
        d.deserialize_any(IdVisitor(PhantomData))
    } else {
        d.deserialize_bytes(IdVisitor(PhantomData))
    }
}

struct IdVisitor<T>(PhantomData<T>);

impl<'de, T: PrefixedId> Visitor<'de> for IdVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "a `{}` ID: a string `{}_` + 22 base64url characters, or 16 bytes",
            T::PREFIX,
            T::PREFIX
        )
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        T::parse(v).map_err(E::custom)
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<T, E> {
        <[u8; 16]>::try_from(v)
            .map(T::from_bytes)
            .map_err(|_| E::invalid_length(v.len(), &self))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<T, A::Error> {
        let mut bytes = [0u8; 16];
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = seq
                .next_element()?
                .ok_or_else(|| de::Error::invalid_length(i, &self))?;
        }
        if seq.next_element::<de::IgnoredAny>()?.is_some() {
            return Err(de::Error::invalid_length(17, &self));
        }
        Ok(T::from_bytes(bytes))
    }
}
