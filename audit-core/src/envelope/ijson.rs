//! A serializer decorator that rejects values JSON cannot carry faithfully (`I-JSON`, RFC 7493):
//! integers beyond ±2^53 and non-finite floats. `serde_json` would silently write `NaN` as
//! `null`, and other languages read big integers as rounded doubles; an audit log must not
//! change what it was given, so these are emit errors that say to use a string.

use std::fmt::Display;

use serde::ser::{
    self, Serialize, SerializeMap, SerializeSeq, SerializeStruct, SerializeStructVariant,
    SerializeTuple, SerializeTupleStruct, SerializeTupleVariant, Serializer,
};

/// Largest integer magnitude a double holds exactly.
pub(crate) const MAX_SAFE: u64 = (1 << 53) - 1;

/// Serializes the wrapped value through [`Check`].
pub(crate) struct Checked<'a, T: ?Sized>(pub(crate) &'a T);

impl<T: Serialize + ?Sized> Serialize for Checked<'_, T> {
    #[inline]
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(Check(s))
    }
}

/// Forwards to the inner serializer, checking every number on the way.
pub(crate) struct Check<S>(pub(crate) S);

fn out_of_range<E: ser::Error>(value: impl Display) -> E {
    E::custom(format_args!(
        "the number {value} is outside the I-JSON range (±2^53) that every JSON reader \
         keeps exactly; serialize it as a string"
    ))
}

fn in_field<E: ser::Error>(key: &str, err: &E) -> E {
    E::custom(format_args!("`{key}`: {err}"))
}

macro_rules! forward {
    ($($method:ident($ty:ty);)*) => {
        $(
            #[inline]
            fn $method(self, v: $ty) -> Result<S::Ok, S::Error> {
                self.0.$method(v)
            }
        )*
    };
}

impl<S: Serializer> Serializer for Check<S> {
    type Ok = S::Ok;
    type Error = S::Error;
    type SerializeSeq = Check<S::SerializeSeq>;
    type SerializeTuple = Check<S::SerializeTuple>;
    type SerializeTupleStruct = Check<S::SerializeTupleStruct>;
    type SerializeTupleVariant = Check<S::SerializeTupleVariant>;
    type SerializeMap = Check<S::SerializeMap>;
    type SerializeStruct = Check<S::SerializeStruct>;
    type SerializeStructVariant = Check<S::SerializeStructVariant>;

    forward! {
        serialize_bool(bool);
        serialize_i8(i8);
        serialize_i16(i16);
        serialize_i32(i32);
        serialize_u8(u8);
        serialize_u16(u16);
        serialize_u32(u32);
        serialize_char(char);
        serialize_str(&str);
        serialize_bytes(&[u8]);
        serialize_unit_struct(&'static str);
    }

    #[inline]
    fn serialize_i64(self, v: i64) -> Result<S::Ok, S::Error> {
        if v.unsigned_abs() > MAX_SAFE {
            return Err(out_of_range(v));
        }
        self.0.serialize_i64(v)
    }

    #[inline]
    fn serialize_u64(self, v: u64) -> Result<S::Ok, S::Error> {
        if v > MAX_SAFE {
            return Err(out_of_range(v));
        }
        self.0.serialize_u64(v)
    }

    fn serialize_i128(self, v: i128) -> Result<S::Ok, S::Error> {
        match i64::try_from(v) {
            Ok(v) => self.serialize_i64(v),
            Err(_) => Err(out_of_range(v)),
        }
    }

    fn serialize_u128(self, v: u128) -> Result<S::Ok, S::Error> {
        match u64::try_from(v) {
            Ok(v) => self.serialize_u64(v),
            Err(_) => Err(out_of_range(v)),
        }
    }

    #[inline]
    fn serialize_f32(self, v: f32) -> Result<S::Ok, S::Error> {
        if !v.is_finite() {
            return Err(non_finite(v));
        }
        self.0.serialize_f32(v)
    }

    #[inline]
    fn serialize_f64(self, v: f64) -> Result<S::Ok, S::Error> {
        if !v.is_finite() {
            return Err(non_finite(v));
        }
        self.0.serialize_f64(v)
    }

    #[inline]
    fn serialize_none(self) -> Result<S::Ok, S::Error> {
        self.0.serialize_none()
    }

    #[inline]
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<S::Ok, S::Error> {
        self.0.serialize_some(&Checked(v))
    }

    #[inline]
    fn serialize_unit(self) -> Result<S::Ok, S::Error> {
        self.0.serialize_unit()
    }

    fn serialize_unit_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
    ) -> Result<S::Ok, S::Error> {
        self.0.serialize_unit_variant(name, index, variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        v: &T,
    ) -> Result<S::Ok, S::Error> {
        self.0.serialize_newtype_struct(name, &Checked(v))
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        v: &T,
    ) -> Result<S::Ok, S::Error> {
        self.0
            .serialize_newtype_variant(name, index, variant, &Checked(v))
    }

    fn serialize_seq(self, len: Option<usize>) -> Result<Self::SerializeSeq, S::Error> {
        self.0.serialize_seq(len).map(Check)
    }

    fn serialize_tuple(self, len: usize) -> Result<Self::SerializeTuple, S::Error> {
        self.0.serialize_tuple(len).map(Check)
    }

    fn serialize_tuple_struct(
        self,
        name: &'static str,
        len: usize,
    ) -> Result<Self::SerializeTupleStruct, S::Error> {
        self.0.serialize_tuple_struct(name, len).map(Check)
    }

    fn serialize_tuple_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self::SerializeTupleVariant, S::Error> {
        self.0
            .serialize_tuple_variant(name, index, variant, len)
            .map(Check)
    }

    fn serialize_map(self, len: Option<usize>) -> Result<Self::SerializeMap, S::Error> {
        self.0.serialize_map(len).map(Check)
    }

    fn serialize_struct(
        self,
        name: &'static str,
        len: usize,
    ) -> Result<Self::SerializeStruct, S::Error> {
        self.0.serialize_struct(name, len).map(Check)
    }

    fn serialize_struct_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self::SerializeStructVariant, S::Error> {
        self.0
            .serialize_struct_variant(name, index, variant, len)
            .map(Check)
    }

    fn is_human_readable(&self) -> bool {
        self.0.is_human_readable()
    }
}

fn non_finite<E: ser::Error>(value: impl Display) -> E {
    E::custom(format_args!(
        "the number {value} cannot be written as JSON (it would become `null`); serialize it \
         as a string or an `Option`"
    ))
}

macro_rules! compound {
    ($trait:ident, $method:ident) => {
        impl<S: $trait> $trait for Check<S> {
            type Ok = S::Ok;
            type Error = S::Error;
            #[inline]
            fn $method<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), S::Error> {
                self.0.$method(&Checked(v))
            }
            #[inline]
            fn end(self) -> Result<S::Ok, S::Error> {
                self.0.end()
            }
        }
    };
}

compound!(SerializeSeq, serialize_element);
compound!(SerializeTuple, serialize_element);
compound!(SerializeTupleStruct, serialize_field);
compound!(SerializeTupleVariant, serialize_field);

impl<S: SerializeMap> SerializeMap for Check<S> {
    type Ok = S::Ok;
    type Error = S::Error;
    #[inline]
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), S::Error> {
        // JSON keys are strings: a numeric key is written as text, so it needs no check.
        self.0.serialize_key(key)
    }
    #[inline]
    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), S::Error> {
        self.0.serialize_value(&Checked(v))
    }
    #[inline]
    fn end(self) -> Result<S::Ok, S::Error> {
        self.0.end()
    }
}

macro_rules! struct_compound {
    ($trait:ident) => {
        impl<S: $trait> $trait for Check<S> {
            type Ok = S::Ok;
            type Error = S::Error;
            #[inline]
            fn serialize_field<T: Serialize + ?Sized>(
                &mut self,
                key: &'static str,
                v: &T,
            ) -> Result<(), S::Error> {
                self.0
                    .serialize_field(key, &Checked(v))
                    .map_err(|e| in_field(key, &e))
            }
            #[inline]
            fn skip_field(&mut self, key: &'static str) -> Result<(), S::Error> {
                self.0.skip_field(key)
            }
            #[inline]
            fn end(self) -> Result<S::Ok, S::Error> {
                self.0.end()
            }
        }
    };
}

struct_compound!(SerializeStruct);
struct_compound!(SerializeStructVariant);

#[cfg(test)]
mod tests {
    use super::*;

    fn check<T: Serialize>(v: &T) -> Result<String, serde_json::Error> {
        serde_json::to_string(&Checked(v))
    }

    #[test]
    fn rejects_what_json_cannot_carry() {
        assert_eq!(check(&((1u64 << 53) - 1)).unwrap(), "9007199254740991");
        assert!(check(&(1u64 << 53)).is_err());
        assert!(check(&i64::MIN).is_err());
        assert!(check(&f64::NAN).is_err());
        assert!(check(&vec![Some(f32::INFINITY)]).is_err());
        assert_eq!(check(&vec![1.5f64]).unwrap(), "[1.5]");
        let mut map = std::collections::BTreeMap::new();
        map.insert("big", u128::MAX);
        let err = check(&map).unwrap_err().to_string();
        assert!(err.contains("I-JSON"), "{err}");
    }
}
