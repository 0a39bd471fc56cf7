//! What generated code needs. Not public API: no stability promise.

pub use inventory;
pub use serde;
#[cfg(feature = "uuid")]
pub use uuid;

pub use crate::__impl_details_schema as impl_details_schema;
pub use crate::__impl_id_schema as impl_id_schema;
pub use crate::__impl_prefixed_id as impl_prefixed_id;
pub use crate::__impl_rusqlite as impl_rusqlite;
pub use crate::__impl_sqlx_postgres as impl_sqlx_postgres;
pub use crate::__impl_sqlx_sqlite as impl_sqlx_sqlite;
pub use crate::__impl_uuid as impl_uuid;
#[cfg(feature = "rusqlite")]
pub use rusqlite;
#[cfg(feature = "schemars")]
pub use schemars;
#[cfg(feature = "schemars")]
pub use serde_json;
#[cfg(any(feature = "sqlx-sqlite", feature = "sqlx-postgres"))]
pub use sqlx;

use crate::PrefixedId;

/// Serializes an ID (used by the generated `Serialize`).
///
/// # Errors
///
/// Whatever the serializer returns.
#[inline]
pub fn id_serialize<T: PrefixedId, S: serde::Serializer>(id: &T, s: S) -> Result<S::Ok, S::Error> {
    crate::id::serde_impl::serialize(id, s)
}

/// Deserializes an ID (used by the generated `Deserialize`).
///
/// # Errors
///
/// An error naming the expected prefix when the input is not an ID of type `T`.
#[inline]
pub fn id_deserialize<'de, T: PrefixedId, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<T, D::Error> {
    crate::id::serde_impl::deserialize(d)
}

/// Everything `#[derive(PrefixedId)]` generates, for a tuple struct `$t([u8; 16])`.
#[doc(hidden)]
#[macro_export]
macro_rules! __impl_prefixed_id {
    (type = $t:ident, prefix = $prefix:literal, name = $name:literal, sortable = $sortable:tt) => {
        #[automatically_derived]
        impl $crate::PrefixedId for $t {
            const PREFIX: &'static str = $prefix;
            const NAME: &'static str = $name;
            const SORTABLE: bool = $sortable;
            #[inline]
            fn from_bytes(bytes: [u8; 16]) -> Self {
                $t(bytes)
            }
            #[inline]
            fn to_bytes(&self) -> [u8; 16] {
                self.0
            }
        }

        #[allow(clippy::new_without_default)]
        impl $t {
            #[doc = ::core::concat!("The prefix of every `", ::core::stringify!($t), "`: `", $prefix, "`.")]
            pub const PREFIX: &'static str = $prefix;

            #[doc = ::core::concat!("A new `", ::core::stringify!($t), "`: ",
                $crate::__impl_prefixed_id!(@new_doc $sortable))]
            #[must_use]
            #[inline]
            pub fn new() -> Self {
                <Self as $crate::PrefixedId>::new()
            }

            #[doc = ::core::concat!("The `", ::core::stringify!($t), "` holding these 16 bytes.")]
            #[must_use]
            #[inline]
            pub const fn from_bytes(bytes: [u8; 16]) -> Self {
                $t(bytes)
            }

            /// The 16 bytes of this ID.
            #[must_use]
            #[inline]
            pub const fn to_bytes(&self) -> [u8; 16] {
                self.0
            }

            #[doc = ::core::concat!("Parses the canonical text form `", $prefix, "_` + 22 base64url characters.")]
            ///
            /// # Errors
            ///
            /// A `ParseIdError` saying what is wrong with the input.
            #[inline]
            pub fn parse(s: &str) -> ::core::result::Result<Self, $crate::ParseIdError> {
                <Self as $crate::PrefixedId>::parse(s)
            }

            /// The text form in a stack buffer that derefs to `&str`; no heap allocation.
            #[must_use]
            #[inline]
            pub fn encode(&self) -> $crate::EncodedId {
                <Self as $crate::PrefixedId>::encode(self)
            }
        }

        #[automatically_derived]
        impl ::core::clone::Clone for $t {
            #[inline]
            fn clone(&self) -> Self {
                *self
            }
        }

        #[automatically_derived]
        impl ::core::marker::Copy for $t {}

        #[automatically_derived]
        impl ::core::cmp::PartialEq for $t {
            #[inline]
            fn eq(&self, other: &Self) -> bool {
                self.0 == other.0
            }
        }

        #[automatically_derived]
        impl ::core::cmp::Eq for $t {}

        #[automatically_derived]
        impl ::core::cmp::PartialOrd for $t {
            #[inline]
            fn partial_cmp(&self, other: &Self) -> ::core::option::Option<::core::cmp::Ordering> {
                ::core::option::Option::Some(::core::cmp::Ord::cmp(self, other))
            }
        }

        #[automatically_derived]
        impl ::core::cmp::Ord for $t {
            #[inline]
            fn cmp(&self, other: &Self) -> ::core::cmp::Ordering {
                ::core::cmp::Ord::cmp(&self.0, &other.0)
            }
        }

        #[automatically_derived]
        impl ::core::hash::Hash for $t {
            #[inline]
            fn hash<H: ::core::hash::Hasher>(&self, state: &mut H) {
                state.write_u128(::core::primitive::u128::from_ne_bytes(self.0));
            }
        }

        #[automatically_derived]
        impl ::core::fmt::Display for $t {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.pad(&<Self as $crate::PrefixedId>::encode(self))
            }
        }

        #[automatically_derived]
        impl ::core::fmt::Debug for $t {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.debug_tuple(::core::stringify!($t))
                    .field(&<Self as $crate::PrefixedId>::encode(self).as_str())
                    .finish()
            }
        }

        #[automatically_derived]
        impl ::core::str::FromStr for $t {
            type Err = $crate::ParseIdError;
            #[inline]
            fn from_str(s: &str) -> ::core::result::Result<Self, $crate::ParseIdError> {
                <Self as $crate::PrefixedId>::parse(s)
            }
        }

        #[automatically_derived]
        impl ::core::convert::TryFrom<&str> for $t {
            type Error = $crate::ParseIdError;
            #[inline]
            fn try_from(s: &str) -> ::core::result::Result<Self, $crate::ParseIdError> {
                <Self as $crate::PrefixedId>::parse(s)
            }
        }

        #[automatically_derived]
        impl $crate::__private::serde::Serialize for $t {
            fn serialize<S: $crate::__private::serde::Serializer>(
                &self,
                serializer: S,
            ) -> ::core::result::Result<S::Ok, S::Error> {
                $crate::__private::id_serialize(self, serializer)
            }
        }

        #[automatically_derived]
        impl<'de> $crate::__private::serde::Deserialize<'de> for $t {
            fn deserialize<D: $crate::__private::serde::Deserializer<'de>>(
                deserializer: D,
            ) -> ::core::result::Result<Self, D::Error> {
                $crate::__private::id_deserialize(deserializer)
            }
        }

        $crate::__private::inventory::submit! {
            $crate::ids::IdRegistration::of::<$t>()
        }

        $crate::__private::impl_uuid!($t);
        $crate::__private::impl_rusqlite!($t);
        $crate::__private::impl_sqlx_sqlite!($t);
        $crate::__private::impl_sqlx_postgres!($t);
        $crate::__private::impl_id_schema!($t);
    };
    (@new_doc true) => { "time-ordered (UUIDv7 layout), greater than every ID made before it in this process." };
    (@new_doc false) => { "128 random bits from a CSPRNG." };
}

/// Reads an ID from an SQLite value: TEXT in canonical form, re-validated, so a row holding
/// another type's ID is an error.
///
/// # Errors
///
/// `FromSqlError::InvalidType` for a non-text value, `FromSqlError::Other` with the
/// [`ParseIdError`](crate::ParseIdError) for a text that is not a `T`.
#[cfg(feature = "rusqlite")]
pub fn rusqlite_from_sql<T: PrefixedId>(
    value: rusqlite::types::ValueRef<'_>,
) -> rusqlite::types::FromSqlResult<T> {
    let text = value.as_str()?;
    T::parse(text).map_err(|e| rusqlite::types::FromSqlError::Other(Box::new(e)))
}

/// `rusqlite` traits, present when the `rusqlite` feature is on.
#[cfg(feature = "rusqlite")]
#[doc(hidden)]
#[macro_export]
macro_rules! __impl_rusqlite {
    ($t:ident) => {
        #[automatically_derived]
        impl $crate::__private::rusqlite::types::ToSql for $t {
            fn to_sql(
                &self,
            ) -> $crate::__private::rusqlite::Result<
                $crate::__private::rusqlite::types::ToSqlOutput<'_>,
            > {
                ::core::result::Result::Ok($crate::__private::rusqlite::types::ToSqlOutput::from(
                    ::std::string::ToString::to_string(self),
                ))
            }
        }

        #[automatically_derived]
        impl $crate::__private::rusqlite::types::FromSql for $t {
            fn column_result(
                value: $crate::__private::rusqlite::types::ValueRef<'_>,
            ) -> $crate::__private::rusqlite::types::FromSqlResult<Self> {
                $crate::__private::rusqlite_from_sql(value)
            }
        }
    };
}

/// `rusqlite` traits: absent, the `rusqlite` feature is off.
#[cfg(not(feature = "rusqlite"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __impl_rusqlite {
    ($t:ident) => {};
}

/// Writes an ID as an SQLite TEXT argument, in canonical form (for the generated `Encode`).
///
/// # Errors
///
/// Never; the signature is `Encode`'s.
#[cfg(feature = "sqlx-sqlite")]
pub fn sqlx_sqlite_encode<T: PrefixedId>(
    id: &T,
    buf: &mut <sqlx::Sqlite as sqlx::Database>::ArgumentBuffer,
) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
    <String as sqlx::Encode<'_, sqlx::Sqlite>>::encode(id.encode().as_str().to_owned(), buf)
}

/// Reads an ID from an SQLite value: TEXT in canonical form, re-validated, so a row holding
/// another type's ID is an error (for the generated `Decode`).
///
/// # Errors
///
/// [`sqlx::error::UnexpectedNullError`] for NULL (sqlx hands NULL to `decode`, and would
/// read it as an empty text), sqlx's error for a value that is not text, or the
/// [`ParseIdError`](crate::ParseIdError) for a text that is not a `T`.
#[cfg(feature = "sqlx-sqlite")]
pub fn sqlx_sqlite_decode<T: PrefixedId>(
    value: <sqlx::Sqlite as sqlx::Database>::ValueRef<'_>,
) -> Result<T, sqlx::error::BoxDynError> {
    if sqlx::ValueRef::is_null(&value) {
        return Err(Box::new(sqlx::error::UnexpectedNullError));
    }
    let text = <&str as sqlx::Decode<'_, sqlx::Sqlite>>::decode(value)?;
    Ok(T::parse(text)?)
}

/// sqlx's SQLite traits (`Type`, `Encode`, `Decode`), present when the `sqlx-sqlite` feature
/// is on.
#[cfg(feature = "sqlx-sqlite")]
#[doc(hidden)]
#[macro_export]
macro_rules! __impl_sqlx_sqlite {
    ($t:ident) => {
        #[automatically_derived]
        impl $crate::__private::sqlx::Type<$crate::__private::sqlx::Sqlite> for $t {
            fn type_info() -> <$crate::__private::sqlx::Sqlite as $crate::__private::sqlx::Database>::TypeInfo {
                <::std::string::String as $crate::__private::sqlx::Type<
                    $crate::__private::sqlx::Sqlite,
                >>::type_info()
            }

            fn compatible(
                ty: &<$crate::__private::sqlx::Sqlite as $crate::__private::sqlx::Database>::TypeInfo,
            ) -> bool {
                <::std::string::String as $crate::__private::sqlx::Type<
                    $crate::__private::sqlx::Sqlite,
                >>::compatible(ty)
            }
        }

        #[automatically_derived]
        impl<'q> $crate::__private::sqlx::Encode<'q, $crate::__private::sqlx::Sqlite> for $t {
            fn encode_by_ref(
                &self,
                buf: &mut <$crate::__private::sqlx::Sqlite as $crate::__private::sqlx::Database>::ArgumentBuffer,
            ) -> ::core::result::Result<
                $crate::__private::sqlx::encode::IsNull,
                $crate::__private::sqlx::error::BoxDynError,
            > {
                $crate::__private::sqlx_sqlite_encode(self, buf)
            }
        }

        #[automatically_derived]
        impl<'r> $crate::__private::sqlx::Decode<'r, $crate::__private::sqlx::Sqlite> for $t {
            fn decode(
                value: <$crate::__private::sqlx::Sqlite as $crate::__private::sqlx::Database>::ValueRef<'r>,
            ) -> ::core::result::Result<Self, $crate::__private::sqlx::error::BoxDynError> {
                $crate::__private::sqlx_sqlite_decode(value)
            }
        }
    };
}

/// sqlx's SQLite traits: absent, the `sqlx-sqlite` feature is off.
#[cfg(not(feature = "sqlx-sqlite"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __impl_sqlx_sqlite {
    ($t:ident) => {};
}

/// Encodes an ID for Postgres: TEXT in canonical form.
///
/// # Errors
///
/// Whatever sqlx's text encoding returns.
#[cfg(feature = "sqlx-postgres")]
pub fn sqlx_pg_encode<T: PrefixedId>(
    id: &T,
    buf: &mut sqlx::postgres::PgArgumentBuffer,
) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
    let text = id.encode();
    <&str as sqlx::Encode<'_, sqlx::Postgres>>::encode_by_ref(&text.as_str(), buf)
}

/// Decodes an ID from Postgres TEXT, re-validated: a row holding another type's ID is an
/// error naming the expected prefix.
///
/// # Errors
///
/// A non-text value, or a [`ParseIdError`](crate::ParseIdError).
#[cfg(feature = "sqlx-postgres")]
pub fn sqlx_pg_decode<T: PrefixedId>(
    value: sqlx::postgres::PgValueRef<'_>,
) -> Result<T, sqlx::error::BoxDynError> {
    let text = <&str as sqlx::Decode<'_, sqlx::Postgres>>::decode(value)?;
    Ok(T::parse(text)?)
}

/// sqlx Postgres traits, present when the `sqlx-postgres` feature is on.
#[cfg(feature = "sqlx-postgres")]
#[doc(hidden)]
#[macro_export]
macro_rules! __impl_sqlx_postgres {
    ($t:ident) => {
        #[automatically_derived]
        impl $crate::__private::sqlx::Type<$crate::__private::sqlx::Postgres> for $t {
            fn type_info() -> $crate::__private::sqlx::postgres::PgTypeInfo {
                <&str as $crate::__private::sqlx::Type<$crate::__private::sqlx::Postgres>>::type_info()
            }
            fn compatible(ty: &$crate::__private::sqlx::postgres::PgTypeInfo) -> bool {
                <&str as $crate::__private::sqlx::Type<$crate::__private::sqlx::Postgres>>::compatible(ty)
            }
        }

        #[automatically_derived]
        impl $crate::__private::sqlx::postgres::PgHasArrayType for $t {
            fn array_type_info() -> $crate::__private::sqlx::postgres::PgTypeInfo {
                <&str as $crate::__private::sqlx::postgres::PgHasArrayType>::array_type_info()
            }
        }

        #[automatically_derived]
        impl<'q> $crate::__private::sqlx::Encode<'q, $crate::__private::sqlx::Postgres> for $t {
            fn encode_by_ref(
                &self,
                buf: &mut $crate::__private::sqlx::postgres::PgArgumentBuffer,
            ) -> ::core::result::Result<
                $crate::__private::sqlx::encode::IsNull,
                $crate::__private::sqlx::error::BoxDynError,
            > {
                $crate::__private::sqlx_pg_encode(self, buf)
            }
        }

        #[automatically_derived]
        impl<'r> $crate::__private::sqlx::Decode<'r, $crate::__private::sqlx::Postgres> for $t {
            fn decode(
                value: $crate::__private::sqlx::postgres::PgValueRef<'r>,
            ) -> ::core::result::Result<Self, $crate::__private::sqlx::error::BoxDynError> {
                $crate::__private::sqlx_pg_decode(value)
            }
        }
    };
}

/// sqlx Postgres traits: absent, the `sqlx-postgres` feature is off.
#[cfg(not(feature = "sqlx-postgres"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __impl_sqlx_postgres {
    ($t:ident) => {};
}

/// JSON Schema of the details of an event type, present when the `schemars` feature is on.
#[cfg(feature = "schemars")]
#[doc(hidden)]
#[macro_export]
macro_rules! __impl_details_schema {
    ($t:ident; $($name:literal => $ty:ty),* $(,)?) => {
        #[automatically_derived]
        impl $crate::catalog::DetailsSchema for $t {
            fn details_schema(
                generator: &mut $crate::__private::schemars::SchemaGenerator,
            ) -> $crate::__private::schemars::Schema {
                #[allow(unused_imports)]
                use $crate::__private::{SchemaFallback as _, SchemaViaJsonSchema as _};
                let mut properties = $crate::__private::serde_json::Map::new();
                $(
                    properties.insert(
                        ::std::string::ToString::to_string($name),
                        (&$crate::__private::SchemaProbe::<$ty>::new()).field_schema(generator),
                    );
                )*
                $crate::catalog::details_object(&properties)
            }
        }

        $crate::__private::inventory::submit! {
            $crate::catalog::SchemaRegistration::of::<$t>()
        }
    };
}

/// Picks a detail field's JSON Schema by autoref specialization: the type's own schema when
/// it implements `schemars::JsonSchema`, else an unconstrained schema that says why, so that
/// turning the `schemars` feature on never breaks an event whose detail types lack it.
#[cfg(feature = "schemars")]
pub struct SchemaProbe<T: ?Sized>(::core::marker::PhantomData<T>);

#[cfg(feature = "schemars")]
impl<T: ?Sized> Default for SchemaProbe<T> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(feature = "schemars")]
impl<T: ?Sized> SchemaProbe<T> {
    /// A probe for `T`.
    #[must_use]
    pub const fn new() -> Self {
        SchemaProbe(::core::marker::PhantomData)
    }
}

/// The specialized path: `T: JsonSchema`.
#[cfg(feature = "schemars")]
pub trait SchemaViaJsonSchema {
    /// The field's schema.
    fn field_schema(&self, generator: &mut schemars::SchemaGenerator) -> serde_json::Value;
}

#[cfg(feature = "schemars")]
impl<T: schemars::JsonSchema + ?Sized> SchemaViaJsonSchema for SchemaProbe<T> {
    fn field_schema(&self, generator: &mut schemars::SchemaGenerator) -> serde_json::Value {
        generator.subschema_for::<T>().to_value()
    }
}

/// The fallback path: any type.
#[cfg(feature = "schemars")]
pub trait SchemaFallback {
    /// An unconstrained schema.
    fn field_schema(&self, generator: &mut schemars::SchemaGenerator) -> serde_json::Value;
}

#[cfg(feature = "schemars")]
impl<T: ?Sized> SchemaFallback for &SchemaProbe<T> {
    fn field_schema(&self, _: &mut schemars::SchemaGenerator) -> serde_json::Value {
        serde_json::json!({
            "description": format!(
                "`{}` does not implement schemars::JsonSchema",
                ::core::any::type_name::<T>()
            )
        })
    }
}

/// JSON Schema of event details: absent, the `schemars` feature is off.
#[cfg(not(feature = "schemars"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __impl_details_schema {
    ($t:ident; $($name:literal => $ty:ty),* $(,)?) => {};
}

/// JSON Schema of an ID type, present when the `schemars` feature is on.
#[cfg(feature = "schemars")]
#[doc(hidden)]
#[macro_export]
macro_rules! __impl_id_schema {
    ($t:ident) => {
        #[automatically_derived]
        impl $crate::__private::schemars::JsonSchema for $t {
            fn schema_name() -> ::std::borrow::Cow<'static, str> {
                ::std::borrow::Cow::Borrowed(::core::stringify!($t))
            }
            fn json_schema(
                _: &mut $crate::__private::schemars::SchemaGenerator,
            ) -> $crate::__private::schemars::Schema {
                $crate::catalog::id_schema::<$t>()
            }
        }
    };
}

/// JSON Schema of an ID type: absent, the `schemars` feature is off.
#[cfg(not(feature = "schemars"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __impl_id_schema {
    ($t:ident) => {};
}

/// `uuid::Uuid` conversions, present when the `uuid` feature is on.
#[cfg(feature = "uuid")]
#[doc(hidden)]
#[macro_export]
macro_rules! __impl_uuid {
    ($t:ident) => {
        #[automatically_derived]
        impl ::core::convert::From<$t> for $crate::__private::uuid::Uuid {
            #[inline]
            fn from(id: $t) -> Self {
                $crate::__private::uuid::Uuid::from_bytes(id.0)
            }
        }

        #[automatically_derived]
        impl ::core::convert::From<$crate::__private::uuid::Uuid> for $t {
            #[inline]
            fn from(uuid: $crate::__private::uuid::Uuid) -> Self {
                $t(uuid.into_bytes())
            }
        }
    };
}

/// `uuid::Uuid` conversions: absent, the `uuid` feature is off.
#[cfg(not(feature = "uuid"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __impl_uuid {
    ($t:ident) => {};
}

// ---- Events -------------------------------------------------------------------------------

pub use crate::catalog::{EventRegistration, EventSchema, FieldRole, FieldSchema};
pub use crate::envelope::{ActorRecord, Outcome, SubjectRecord};
pub use crate::event::{ActorField, AuditEntity, SubjectField};
pub use ::std::string::String;
pub use ::std::vec::Vec;

/// A detail field's type: anything `Serialize`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a detail of an audit event: it does not implement `serde::Serialize`",
    label = "detail fields must be `Serialize`",
    note = "derive `serde::Serialize` on the type, or mark the field `#[audit(skip)]` to keep it out of the log"
)]
pub trait DetailField: serde::Serialize {}
impl<T: serde::Serialize + ?Sized> DetailField for T {}

/// Serializes one detail field; the `DetailField` bound is checked on the field's span and is
/// the only bound the value meets, so a type that is not `Serialize` gives one error.
///
/// # Errors
///
/// Whatever the serializer or the field's `Serialize` impl returns.
#[inline]
pub fn serialize_detail<S, T>(details: &mut S, key: &'static str, value: &T) -> Result<(), S::Error>
where
    S: serde::ser::SerializeStruct,
    T: DetailField + ?Sized,
{
    details.serialize_field(key, value)
}

/// A field named by a message placeholder: anything `Display`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot appear in an audit message: it does not implement `Display`",
    label = "this message names a field whose type is not `Display`",
    note = "remove its placeholder from `message`, or name a field whose type implements `std::fmt::Display` (an `Option` or a `Vec` does not)"
)]
pub trait MessageField: ::core::fmt::Display {}
impl<T: ::core::fmt::Display + ?Sized> MessageField for T {}

/// A value for a message placeholder, checked on the message's span. It comes back as a
/// `dyn Display`, which `format_args!` takes whatever `T` is, so a type that is not `Display`
/// gives one error, not a second one from `format_args!`.
#[inline]
pub fn message_arg<T: MessageField>(value: &T) -> &dyn ::core::fmt::Display {
    value
}

/// The type of an `#[audit(outcome)]` field: [`Outcome`].
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be the outcome of an audit event",
    label = "an `#[audit(outcome)]` field must be an `audit_core::Outcome`",
    note = "use `Outcome::Success`, `Outcome::Failure` or `Outcome::Denied`, or remove `#[audit(outcome)]` to keep the field as a detail"
)]
pub trait OutcomeField {
    /// The outcome this field holds.
    fn outcome(&self) -> Outcome;
}

impl OutcomeField for Outcome {
    #[inline]
    fn outcome(&self) -> Outcome {
        *self
    }
}

/// An `#[audit(outcome)]` field's value, checked on the field's span.
#[inline]
#[must_use]
pub fn outcome_of<T: OutcomeField>(outcome: &T) -> Outcome {
    outcome.outcome()
}

/// An `#[audit(id)]` field's value. Its only bound is `E: AuditEntity`, so an ID type that is
/// not a `PrefixedId` is reported once, on the generated `type Id`.
#[inline]
pub fn entity_id<E: AuditEntity + ?Sized>(id: &E::Id) -> E::Id {
    *id
}

/// The type of an `#[audit(display)]` field: anything `Display`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be the display name of an audit entity: it does not implement `Display`",
    label = "an `#[audit(display)]` field must implement `std::fmt::Display`",
    note = "mark the field that names the entity for people (a name or a title, often a `String`) `#[audit(display)]`"
)]
pub trait DisplayField: ::core::fmt::Display {}
impl<T: ::core::fmt::Display + ?Sized> DisplayField for T {}

/// An `#[audit(display)]` field's value as text, checked on the field's span.
#[inline]
pub fn entity_display<T: DisplayField + ?Sized>(display: &T) -> String {
    display.to_string()
}
