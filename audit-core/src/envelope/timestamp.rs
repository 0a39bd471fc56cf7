//! [`Timestamp`]: when an event occurred, to the microsecond, in UTC.

use std::fmt;
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer, de};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// A UTC instant with microsecond precision, written as RFC 3339 with exactly six fractional
/// digits: `2026-12-04T19:40:00.123456Z`.
///
/// The text form sorts like the instant for every year from 0000 to 9999, the range a
/// timestamp can take.
///
/// ```
/// use audit_core::Timestamp;
///
/// let t: Timestamp = "2026-12-04T19:40:00.123456Z".parse()?;
/// assert_eq!(t.to_string(), "2026-12-04T19:40:00.123456Z");
/// assert_eq!(t.unix_micros(), 1_796_413_200_123_456);
/// // Other offsets and precisions are accepted on input and normalized.
/// let u: Timestamp = "2026-12-04T20:40:00.1234569+01:00".parse()?;
/// assert_eq!(u, t);
/// # Ok::<(), audit_core::envelope::TimestampError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

/// Why a string or number is not a [`Timestamp`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimestampError {
    /// Not RFC 3339.
    Format(String),
    /// Before 0000-01-01 or after 9999-12-31.
    OutOfRange,
}

impl fmt::Display for TimestampError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimestampError::Format(why) => write!(
                f,
                "expected an RFC 3339 timestamp like `2026-12-04T19:40:00.123456Z`: {why}"
            ),
            TimestampError::OutOfRange => {
                f.write_str("timestamp out of range: expected a year from 0000 to 9999")
            }
        }
    }
}

impl std::error::Error for TimestampError {}

/// -62167219200 s: 0000-01-01T00:00:00Z.
const MIN_MICROS: i64 = -62_167_219_200_000_000;
/// 253402300799.999999 s: 9999-12-31T23:59:59.999999Z.
const MAX_MICROS: i64 = 253_402_300_799_999_999;

impl Timestamp {
    /// Now, from the system clock.
    #[must_use]
    pub fn now() -> Self {
        let micros = match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_micros()).unwrap_or(MAX_MICROS),
            Err(before) => i64::try_from(before.duration().as_micros()).map_or(MIN_MICROS, |m| -m),
        };
        Timestamp(micros.clamp(MIN_MICROS, MAX_MICROS))
    }

    /// Milliseconds since 1970-01-01T00:00:00Z, 0 for an earlier instant.
    pub(crate) fn unix_ms(self) -> u64 {
        u64::try_from(self.0 / 1000).unwrap_or(0)
    }

    /// The instant `micros` microseconds after 1970-01-01T00:00:00Z.
    ///
    /// # Errors
    ///
    /// [`TimestampError::OutOfRange`] outside years 0000 to 9999.
    pub fn from_unix_micros(micros: i64) -> Result<Self, TimestampError> {
        if (MIN_MICROS..=MAX_MICROS).contains(&micros) {
            Ok(Timestamp(micros))
        } else {
            Err(TimestampError::OutOfRange)
        }
    }

    /// Microseconds since 1970-01-01T00:00:00Z.
    #[must_use]
    pub fn unix_micros(self) -> i64 {
        self.0
    }

    /// The text form in a stack buffer.
    pub(crate) fn format(self) -> [u8; 27] {
        let dt = OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0) * 1000)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        let mut out = *b"0000-00-00T00:00:00.000000Z";
        // Every value fits its field: the range is checked on construction.
        let year = u32::try_from(dt.year()).unwrap_or(0);
        digits(&mut out[0..4], year);
        digits(&mut out[5..7], u32::from(u8::from(dt.month())));
        digits(&mut out[8..10], u32::from(dt.day()));
        digits(&mut out[11..13], u32::from(dt.hour()));
        digits(&mut out[14..16], u32::from(dt.minute()));
        digits(&mut out[17..19], u32::from(dt.second()));
        digits(&mut out[20..26], dt.microsecond());
        out
    }
}

fn digits(out: &mut [u8], mut value: u32) {
    for slot in out.iter_mut().rev() {
        // `value % 10 < 10`.
        #[allow(clippy::cast_possible_truncation)]
        {
            *slot = b'0' + (value % 10) as u8;
        }
        value /= 10;
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let buf = self.format();
        // The buffer holds ASCII digits and separators only.
        f.write_str(std::str::from_utf8(&buf).unwrap_or_default())
    }
}

impl FromStr for Timestamp {
    type Err = TimestampError;

    fn from_str(s: &str) -> Result<Self, TimestampError> {
        let dt = OffsetDateTime::parse(s, &Rfc3339)
            .map_err(|e| TimestampError::Format(e.to_string()))?;
        let micros = dt.unix_timestamp_nanos().div_euclid(1000);
        i64::try_from(micros)
            .map_err(|_| TimestampError::OutOfRange)
            .and_then(Timestamp::from_unix_micros)
    }
}

impl From<Timestamp> for SystemTime {
    fn from(t: Timestamp) -> SystemTime {
        let magnitude = std::time::Duration::from_micros(t.0.unsigned_abs());
        if t.0 >= 0 {
            UNIX_EPOCH + magnitude
        } else {
            UNIX_EPOCH - magnitude
        }
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let buf = self.format();
        s.serialize_str(std::str::from_utf8(&buf).unwrap_or_default())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = Timestamp;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an RFC 3339 timestamp string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Timestamp, E> {
                v.parse().map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_ends_format_and_parse() {
        for (micros, text) in [
            (MIN_MICROS, "0000-01-01T00:00:00.000000Z"),
            (MAX_MICROS, "9999-12-31T23:59:59.999999Z"),
            (0, "1970-01-01T00:00:00.000000Z"),
            (-1, "1969-12-31T23:59:59.999999Z"),
        ] {
            let t = Timestamp::from_unix_micros(micros).unwrap();
            assert_eq!(t.to_string(), text);
            assert_eq!(text.parse::<Timestamp>().unwrap(), t);
        }
        assert_eq!(
            Timestamp::from_unix_micros(MAX_MICROS + 1),
            Err(TimestampError::OutOfRange)
        );
        assert!("2026-13-01T00:00:00Z".parse::<Timestamp>().is_err());
        assert!("yesterday".parse::<Timestamp>().is_err());
    }

    #[test]
    fn now_is_recent() {
        let t = Timestamp::now();
        assert!(t.to_string().starts_with("20"), "{t}");
    }
}
