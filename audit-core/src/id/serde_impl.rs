//! serde for IDs: the text form in human-readable formats, 16 bytes in binary ones.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::ser::Serializer;

use super::{ParseIdError, PrefixedId};

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
        T::parse(v).map_err(|e| match e {
            // These messages name the prefix already.
            ParseIdError::WrongPrefix { .. } => E::custom(e),
            _ => E::custom(format_args!("invalid `{}` ID: {e}", T::PREFIX)),
        })
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
                .next_element_seed(ByteSeed::<T>(PhantomData))?
                .ok_or_else(|| de::Error::invalid_length(i, &self))?;
        }
        if seq.next_element::<de::IgnoredAny>()?.is_some() {
            return Err(de::Error::invalid_length(17, &self));
        }
        Ok(T::from_bytes(bytes))
    }
}

/// One element of an ID given as a sequence, so that an element's error names the prefix.
struct ByteSeed<T>(PhantomData<T>);

impl<'de, T: PrefixedId> de::DeserializeSeed<'de> for ByteSeed<T> {
    type Value = u8;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<u8, D::Error> {
        d.deserialize_u8(self)
    }
}

impl<T: PrefixedId> Visitor<'_> for ByteSeed<T> {
    type Value = u8;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a byte (0 to 255) of a `{}` ID", T::PREFIX)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<u8, E> {
        u8::try_from(v).map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<u8, E> {
        u8::try_from(v).map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
    }
}
