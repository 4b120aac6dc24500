//! Timestamps, the injected clock and the injected id generator.
//!
//! The core never reads the system clock or a random source on its own:
//! both come in through [`Clock`] and [`IdGenerator`], so that tests can fix
//! them and every result is reproducible.

use std::fmt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};
use uuid::Uuid;

/// Where the canonical form `YYYY-MM-DDTHH:MM:SS.ffffffZ` has which
/// separator.
const SEPARATORS: [(usize, u8); 7] = [
    (4, b'-'),
    (7, b'-'),
    (10, b'T'),
    (13, b':'),
    (16, b':'),
    (19, b'.'),
    (26, b'Z'),
];

/// A UTC instant with microsecond precision, written as RFC 3339 with six
/// fractional digits (`2026-11-20T09:14:03.512345Z`).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(OffsetDateTime);

impl Timestamp {
    /// The Unix epoch.
    pub const UNIX_EPOCH: Timestamp = Timestamp(OffsetDateTime::UNIX_EPOCH);

    /// Converts any instant to UTC and truncates it to whole microseconds.
    pub fn from_datetime(value: OffsetDateTime) -> Self {
        let utc = value.to_offset(UtcOffset::UTC);
        let micros = utc.microsecond();
        // Truncating nanoseconds to microseconds cannot fail: the value stays in range.
        let truncated = utc.replace_microsecond(micros).unwrap_or(utc);
        Timestamp(truncated)
    }

    /// Microseconds since the Unix epoch.
    pub fn unix_micros(self) -> i64 {
        let nanos = self.0.unix_timestamp_nanos();
        i64::try_from(nanos / 1_000).unwrap_or(i64::MAX)
    }

    /// The instant `micros` microseconds after the Unix epoch, if representable.
    pub fn from_unix_micros(micros: i64) -> Option<Self> {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000)
            .ok()
            .map(Timestamp)
    }

    /// Parses an RFC 3339 timestamp (any offset, any precision).
    pub fn parse(text: &str) -> Option<Self> {
        if let Some(t) = Self::parse_canonical(text) {
            return Some(t);
        }
        OffsetDateTime::parse(text, &Rfc3339)
            .ok()
            .map(Self::from_datetime)
    }

    /// The fast path of [`Timestamp::parse`]: exactly the form this type
    /// writes (`YYYY-MM-DDTHH:MM:SS.ffffffZ`), the numbers read here and
    /// checked by the `time` crate's constructors. Anything else, a leap
    /// second included, is `None` and left to the full RFC 3339 parser.
    fn parse_canonical(text: &str) -> Option<Self> {
        let b = text.as_bytes();
        if b.len() != 27 || SEPARATORS.iter().any(|&(i, c)| b[i] != c) {
            return None;
        }
        let num = |from: usize, to: usize| -> Option<u32> {
            b[from..to].iter().try_fold(0u32, |n, &d| {
                d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
            })
        };
        let year = i32::try_from(num(0, 4)?).ok()?;
        let month = time::Month::try_from(u8::try_from(num(5, 7)?).ok()?).ok()?;
        let day = u8::try_from(num(8, 10)?).ok()?;
        let date = time::Date::from_calendar_date(year, month, day).ok()?;
        let clock = time::Time::from_hms_micro(
            u8::try_from(num(11, 13)?).ok()?,
            u8::try_from(num(14, 16)?).ok()?,
            u8::try_from(num(17, 19)?).ok()?,
            num(20, 26)?,
        )
        .ok()?;
        Some(Timestamp(
            time::PrimitiveDateTime::new(date, clock).assume_utc(),
        ))
    }

    /// Writes the RFC 3339 form into `buf` and returns it; `None` for a year
    /// outside 0000–9999, which [`fmt::Display`] writes the slow way.
    fn write_canonical(self, buf: &mut [u8; 27]) -> Option<&str> {
        let d = self.0;
        let year = u32::try_from(d.year()).ok().filter(|y| *y <= 9999)?;
        let mut put = |at: usize, width: usize, mut value: u32| {
            for i in (at..at + width).rev() {
                // `value % 10` is a single digit.
                buf[i] = b'0' + (value % 10) as u8;
                value /= 10;
            }
        };
        put(0, 4, year);
        put(5, 2, u32::from(u8::from(d.month())));
        put(8, 2, u32::from(d.day()));
        put(11, 2, u32::from(d.hour()));
        put(14, 2, u32::from(d.minute()));
        put(17, 2, u32::from(d.second()));
        put(20, 6, d.microsecond());
        for (i, c) in SEPARATORS {
            buf[i] = c;
        }
        std::str::from_utf8(buf).ok()
    }

    /// The underlying date-time, in UTC.
    pub fn as_datetime(self) -> OffsetDateTime {
        self.0
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.write_canonical(&mut [0; 27]) {
            Some(text) => f.write_str(text),
            None => write_formatted(self.0, f),
        }
    }
}

/// The RFC 3339 form through `write!`: any year, slowly.
fn write_formatted(d: OffsetDateTime, f: &mut dyn fmt::Write) -> fmt::Result {
    write!(
        f,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        d.year(),
        u8::from(d.month()),
        d.day(),
        d.hour(),
        d.minute(),
        d.second(),
        d.microsecond()
    )
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.write_canonical(&mut [0; 27]) {
            Some(text) => serializer.serialize_str(text),
            None => serializer.collect_str(self),
        }
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Timestamp::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format!("invalid RFC 3339 timestamp: {text:?}"))
        })
    }
}

/// Where "now" comes from.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current instant.
    fn now(&self) -> Timestamp;
}

/// The wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_datetime(OffsetDateTime::now_utc())
    }
}

/// A clock for tests: it returns a fixed instant until told to move.
#[derive(Debug)]
pub struct FixedClock(Mutex<Timestamp>);

impl FixedClock {
    /// A clock stopped at `at`.
    pub fn new(at: Timestamp) -> Self {
        FixedClock(Mutex::new(at))
    }

    /// Moves the clock to `at`.
    pub fn set(&self, at: Timestamp) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = at;
    }

    /// Moves the clock forward by `micros` microseconds.
    pub fn advance_micros(&self, micros: i64) {
        let mut guard = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let next = Timestamp::from_unix_micros(guard.unix_micros().saturating_add(micros));
        if let Some(next) = next {
            *guard = next;
        }
    }
}

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Where new identity, address and credential ids come from.
pub trait IdGenerator: Send + Sync + fmt::Debug {
    /// A fresh id, never returned before by this generator.
    fn new_id(&self) -> Uuid;
}

/// Random UUIDs (version 4).
#[derive(Debug, Default, Clone, Copy)]
pub struct RandomIds;

impl IdGenerator for RandomIds {
    fn new_id(&self) -> Uuid {
        Uuid::new_v4()
    }
}

/// Time-ordered UUIDs (version 7): better index locality in databases.
#[derive(Debug, Default, Clone, Copy)]
pub struct TimeOrderedIds;

impl IdGenerator for TimeOrderedIds {
    fn new_id(&self) -> Uuid {
        Uuid::now_v7()
    }
}

/// Deterministic ids for tests: `00000000-0000-4000-8000-<counter>`, counting
/// up from 1.
#[derive(Debug, Default)]
pub struct SequentialIds(AtomicU64);

impl SequentialIds {
    /// A generator whose first id ends in `...0001`.
    pub fn new() -> Self {
        SequentialIds(AtomicU64::new(0))
    }
}

impl IdGenerator for SequentialIds {
    fn new_id(&self) -> Uuid {
        let n = self.0.fetch_add(1, Ordering::Relaxed) + 1;
        Uuid::from_u128(0x0000_0000_0000_4000_8000_0000_0000_0000 | u128::from(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fast_paths_agree_with_the_time_crate() {
        // Instants spread over 0000-9999, and the edges of days, months,
        // leap years and microseconds.
        let mut micros: Vec<i64> = vec![
            0,
            1,
            999_999,
            -1,
            951_782_400_000_000,     // 2000-02-29
            4_107_542_399_999_999,   // 2100-02-28T23:59:59.999999
            253_402_300_799_999_999, // 9999-12-31T23:59:59.999999
            -62_167_219_200_000_000, // 0000-01-01
        ];
        let mut x: u64 = 0x7157_a3c9_0000_0001;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let span = 253_402_300_800_000_000i64 + 62_167_219_200_000_000;
            micros.push((x % span as u64) as i64 - 62_167_219_200_000_000);
        }
        for m in micros {
            let t = Timestamp::from_unix_micros(m).expect("in range");
            let mut slow = String::new();
            write_formatted(t.as_datetime(), &mut slow).expect("formats");
            assert_eq!(t.to_string(), slow);
            assert_eq!(
                serde_json::to_string(&t).expect("json"),
                format!("\"{slow}\"")
            );
            let full = OffsetDateTime::parse(&slow, &Rfc3339).expect("rfc 3339");
            assert_eq!(
                Timestamp::parse_canonical(&slow),
                Some(Timestamp(full)),
                "{slow}"
            );
        }
        // Not the canonical form: left to the full parser.
        for other in [
            "2026-11-21T17:02:44Z",
            "2026-11-21T17:02:44.000981+00:00",
            "2026-11-21t17:02:44.000981Z",
            "2026-13-21T17:02:44.000981Z",
            "2026-02-30T17:02:44.000981Z",
            "2026-11-21T24:02:44.000981Z",
            "2026-11-21T17:02:60.000981Z",
            "2026-11-21T17:02:44.00098aZ",
            "+026-11-21T17:02:44.000981Z",
        ] {
            assert_eq!(Timestamp::parse_canonical(other), None, "{other}");
        }
        // Before year 0 the fixed buffer cannot hold the year: `write!` does.
        let before_year_0 = Timestamp::from_unix_micros(-62_167_219_200_000_001).expect("in range");
        assert_eq!(before_year_0.to_string(), "-001-12-31T23:59:59.999999Z");
        assert_eq!(
            serde_json::to_string(&before_year_0).expect("json"),
            "\"-001-12-31T23:59:59.999999Z\""
        );
        assert_eq!(
            Timestamp::parse("2026-11-21T17:02:44Z").map(|t| t.to_string()),
            Some("2026-11-21T17:02:44.000000Z".to_owned())
        );
    }

    #[test]
    fn timestamps_round_trip_with_six_digits() {
        let t = Timestamp::parse("2026-11-21T17:02:44.000981Z").expect("parses");
        assert_eq!(t.to_string(), "2026-11-21T17:02:44.000981Z");
        let t = Timestamp::parse("2026-11-21T18:02:44.5+01:00").expect("parses");
        assert_eq!(t.to_string(), "2026-11-21T17:02:44.500000Z");
        let t = Timestamp::parse("2026-11-21T17:02:44.123456789Z").expect("parses");
        assert_eq!(t.to_string(), "2026-11-21T17:02:44.123456Z");
        assert_eq!(Timestamp::from_unix_micros(t.unix_micros()), Some(t));
        assert_eq!(Timestamp::parse("yesterday"), None);
    }

    #[test]
    fn sequential_ids_count_up() {
        let ids = SequentialIds::new();
        assert_eq!(
            ids.new_id().to_string(),
            "00000000-0000-4000-8000-000000000001"
        );
        assert_eq!(
            ids.new_id().to_string(),
            "00000000-0000-4000-8000-000000000002"
        );
    }

    #[test]
    fn fixed_clock_moves_only_when_told() {
        let start = Timestamp::parse("2026-01-01T00:00:00Z").expect("parses");
        let clock = FixedClock::new(start);
        assert_eq!(clock.now(), start);
        clock.advance_micros(1_500_000);
        assert_eq!(clock.now().to_string(), "2026-01-01T00:00:01.500000Z");
    }
}
