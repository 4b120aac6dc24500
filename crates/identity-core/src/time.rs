//! Timestamps, the injected clock and the injected id generator.
//!
//! The core never reads the system clock or a random source on its own:
//! both come in through [`Clock`] and [`IdGenerator`], so that tests can fix
//! them and every result is reproducible.
//!
//! [`Timestamp`] keeps its instant in a `chrono` value, which no public
//! signature shows: it is built from and read as Unix microseconds, RFC 3339
//! text or a [`SystemTime`] (and, with the `time` feature, converted to and
//! from `time::OffsetDateTime`).

use std::fmt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Timelike, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
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

/// `-9999-01-01T00:00:00.000000Z`, the first instant a [`Timestamp`] holds.
const MIN_MICROS: i64 = -377_705_116_800_000_000;
/// `9999-12-31T23:59:59.999999Z`, the last instant a [`Timestamp`] holds.
const MAX_MICROS: i64 = 253_402_300_799_999_999;

/// A UTC instant with microsecond precision, written as RFC 3339 with six
/// fractional digits (`2026-11-20T09:14:03.512345Z`), between the years
/// -9999 and 9999.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(DateTime<Utc>);

impl Timestamp {
    /// The Unix epoch.
    pub const UNIX_EPOCH: Timestamp = Timestamp(DateTime::<Utc>::UNIX_EPOCH);

    /// Microseconds since the Unix epoch.
    pub fn unix_micros(self) -> i64 {
        self.0.timestamp_micros()
    }

    /// The instant `micros` microseconds after the Unix epoch, if it falls
    /// between the years -9999 and 9999.
    pub fn from_unix_micros(micros: i64) -> Option<Self> {
        if !(MIN_MICROS..=MAX_MICROS).contains(&micros) {
            return None;
        }
        DateTime::from_timestamp_micros(micros).map(Timestamp)
    }

    /// A system time, truncated to whole microseconds (towards the past),
    /// if it falls between the years -9999 and 9999.
    pub fn from_system_time(at: SystemTime) -> Option<Self> {
        let micros = match at.duration_since(UNIX_EPOCH) {
            Ok(after) => i64::try_from(after.as_micros()).ok()?,
            Err(before) => {
                let before = before.duration();
                let whole = i64::try_from(before.as_micros()).ok()?;
                let partial = i64::from(before.subsec_nanos() % 1_000 != 0);
                (-whole).checked_sub(partial)?
            }
        };
        Self::from_unix_micros(micros)
    }

    /// Parses an RFC 3339 timestamp (any offset, any precision; digits past
    /// the microsecond are dropped, towards the past).
    pub fn parse(text: &str) -> Option<Self> {
        if let Some(t) = Self::parse_canonical(text) {
            return Some(t);
        }
        Self::parse_rfc3339(text)
    }

    /// The fast path of [`Timestamp::parse`]: exactly the form this type
    /// writes (`YYYY-MM-DDTHH:MM:SS.ffffffZ`), the numbers read here and
    /// checked by chrono's constructors. Anything else, a leap second
    /// included, is `None` and left to [`Timestamp::parse_rfc3339`].
    fn parse_canonical(text: &str) -> Option<Self> {
        let b = text.as_bytes();
        if b.len() != 27 || SEPARATORS.iter().any(|&(i, c)| b[i] != c) {
            return None;
        }
        let num = |from: usize, to: usize| digits(&b[from..to]);
        let date =
            NaiveDate::from_ymd_opt(i32::try_from(num(0, 4)?).ok()?, num(5, 7)?, num(8, 10)?)?;
        let clock =
            NaiveTime::from_hms_micro_opt(num(11, 13)?, num(14, 16)?, num(17, 19)?, num(20, 26)?)?;
        Some(Timestamp(NaiveDateTime::new(date, clock).and_utc()))
    }

    /// Any RFC 3339 date-time: `YYYY-MM-DD`, one separator byte (`T`, `t`,
    /// a space...), `HH:MM:SS`, an optional fraction of one digit or more,
    /// and `Z`, `z` or an offset `±HH:MM` (hours up to 23). A leap second
    /// (`:60`) is read as the last microsecond before it, and only where
    /// one can be: at 23:59:60 UTC on the last day of a month. These are
    /// the rules of the `time` crate, which parsed these before.
    fn parse_rfc3339(text: &str) -> Option<Self> {
        let b = text.as_bytes();
        if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[13] != b':' || b[16] != b':' {
            return None;
        }
        let num = |from: usize, to: usize| digits(&b[from..to]);
        let (year, month, day) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
        let (hour, minute, mut second) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
        let mut rest = &b[19..];
        let mut nanos = 0;
        if let [b'.', fraction @ ..] = rest {
            let n = fraction.iter().take_while(|d| d.is_ascii_digit()).count();
            if n == 0 {
                return None;
            }
            let mut unit = 100_000_000;
            for &d in &fraction[..n] {
                nanos += u32::from(d - b'0') * unit;
                unit /= 10;
            }
            rest = &fraction[n..];
        }
        let offset_secs = match rest {
            [b'Z' | b'z'] => 0,
            [sign @ (b'+' | b'-'), hh @ .., b':', m1, m2] if hh.len() == 2 => {
                let (hours, minutes) = (digits(hh)?, digits(&[*m1, *m2])?);
                if hours > 23 || minutes > 59 {
                    return None;
                }
                let secs = i64::from(hours * 3600 + minutes * 60);
                if *sign == b'-' { -secs } else { secs }
            }
            _ => return None,
        };
        let leap = second == 60;
        if leap {
            (second, nanos) = (59, 999_999_999);
        }
        let date = NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)?;
        // Whole microseconds: the offset is whole minutes, so truncating
        // here is truncating the UTC instant.
        let clock = NaiveTime::from_hms_nano_opt(hour, minute, second, nanos / 1_000 * 1_000)?;
        let local = NaiveDateTime::new(date, clock);
        let utc = match offset_secs {
            0 => local,
            secs => local.checked_sub_signed(TimeDelta::try_seconds(secs)?)?,
        };
        if !(-9999..=9999).contains(&utc.year()) {
            return None;
        }
        if leap {
            let last_day_of_month = utc.date().succ_opt().is_none_or(|next| next.day() == 1);
            let last_second = (utc.hour(), utc.minute(), utc.second()) == (23, 59, 59);
            if !(last_day_of_month && last_second) {
                return None;
            }
        }
        Some(Timestamp(utc.and_utc()))
    }

    /// Writes the RFC 3339 form into `buf` and returns it; `None` for a year
    /// outside 0000–9999, which [`fmt::Display`] writes the slow way.
    fn write_canonical(self, buf: &mut [u8; 27]) -> Option<&str> {
        let d = self.0.naive_utc();
        let year = u32::try_from(d.year()).ok().filter(|y| *y <= 9999)?;
        let mut put = |at: usize, width: usize, mut value: u32| {
            for i in (at..at + width).rev() {
                // `value % 10` is a single digit.
                buf[i] = b'0' + (value % 10) as u8;
                value /= 10;
            }
        };
        put(0, 4, year);
        put(5, 2, d.month());
        put(8, 2, d.day());
        put(11, 2, d.hour());
        put(14, 2, d.minute());
        put(17, 2, d.second());
        put(20, 6, d.nanosecond() / 1_000);
        for (i, c) in SEPARATORS {
            buf[i] = c;
        }
        std::str::from_utf8(buf).ok()
    }
}

/// The number an all-ASCII-digit slice spells, `None` for anything else.
fn digits(b: &[u8]) -> Option<u32> {
    b.iter().try_fold(0u32, |n, &d| {
        d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
    })
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.write_canonical(&mut [0; 27]) {
            Some(text) => f.write_str(text),
            None => write_formatted(*self, f),
        }
    }
}

/// The RFC 3339 form through `write!`: any year, slowly.
fn write_formatted(t: Timestamp, f: &mut dyn fmt::Write) -> fmt::Result {
    let d = t.0.naive_utc();
    write!(
        f,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        d.year(),
        d.month(),
        d.day(),
        d.hour(),
        d.minute(),
        d.second(),
        d.nanosecond() / 1_000
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

/// The same instant (a [`Timestamp`] always fits).
#[cfg(feature = "time")]
impl From<Timestamp> for time::OffsetDateTime {
    fn from(t: Timestamp) -> Self {
        let nanos = i128::from(t.unix_micros()) * 1_000;
        // Every Timestamp lies within -9999..=9999, which `time` holds.
        time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
    }
}

/// The instant in UTC, truncated to whole microseconds (towards the past);
/// an invalid-input error outside the years -9999 to 9999 (in UTC).
#[cfg(feature = "time")]
impl TryFrom<time::OffsetDateTime> for Timestamp {
    type Error = crate::Error;

    fn try_from(value: time::OffsetDateTime) -> Result<Self, Self::Error> {
        let micros = value.unix_timestamp_nanos().div_euclid(1_000);
        i64::try_from(micros)
            .ok()
            .and_then(Timestamp::from_unix_micros)
            .ok_or_else(|| crate::Error::invalid("timestamp out of range (years -9999 to 9999)"))
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
        // A system clock past the year 9999 (or before -9999) is broken;
        // the epoch is as good an answer as any.
        Timestamp::from_system_time(SystemTime::now()).unwrap_or(Timestamp::UNIX_EPOCH)
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
    fn the_fast_paths_agree_with_the_full_paths() {
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
            write_formatted(t, &mut slow).expect("formats");
            assert_eq!(t.to_string(), slow);
            assert_eq!(
                serde_json::to_string(&t).expect("json"),
                format!("\"{slow}\"")
            );
            // chrono's own RFC 3339 parser and writer agree.
            let chrono = DateTime::parse_from_rfc3339(&slow).expect("rfc 3339");
            assert_eq!(chrono.timestamp_micros(), m, "{slow}");
            assert_eq!(
                chrono.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                slow
            );
            assert_eq!(Timestamp::parse_canonical(&slow), Some(t), "{slow}");
            assert_eq!(Timestamp::parse_rfc3339(&slow), Some(t), "{slow}");
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
    fn the_range_is_the_years_minus_9999_to_9999() {
        let first = NaiveDate::from_ymd_opt(-9999, 1, 1).expect("date");
        let first = first.and_time(NaiveTime::MIN).and_utc().timestamp_micros();
        assert_eq!(first, MIN_MICROS);
        let min = Timestamp::from_unix_micros(MIN_MICROS).expect("in range");
        assert_eq!(min.to_string(), "-9999-01-01T00:00:00.000000Z");
        let max = Timestamp::from_unix_micros(MAX_MICROS).expect("in range");
        assert_eq!(max.to_string(), "9999-12-31T23:59:59.999999Z");
        assert_eq!(Timestamp::from_unix_micros(MIN_MICROS - 1), None);
        assert_eq!(Timestamp::from_unix_micros(MAX_MICROS + 1), None);
        assert_eq!(Timestamp::from_unix_micros(i64::MIN), None);
        assert_eq!(Timestamp::from_unix_micros(i64::MAX), None);
        // An offset that carries the instant past 9999 in UTC (this used
        // to panic in the `time` crate's offset conversion).
        assert_eq!(Timestamp::parse("9999-12-31T23:59:59-01:00"), None);
        assert_eq!(
            Timestamp::parse("0000-01-01T00:30:00+01:00").map(|t| t.to_string()),
            Some("-001-12-31T23:30:00.000000Z".to_owned())
        );
    }

    #[test]
    fn the_full_parser_takes_what_rfc_3339_allows_and_nothing_else() {
        let parses = |text: &str| Timestamp::parse(text).map(|t| t.to_string());
        for (text, utc) in [
            ("2026-11-21T17:02:44Z", "2026-11-21T17:02:44.000000Z"),
            ("2026-11-21t17:02:44z", "2026-11-21T17:02:44.000000Z"),
            ("2026-11-21 17:02:44Z", "2026-11-21T17:02:44.000000Z"),
            ("2026-11-21T17:02:44.1Z", "2026-11-21T17:02:44.100000Z"),
            (
                "2026-11-21T17:02:44.1234567891234Z",
                "2026-11-21T17:02:44.123456Z",
            ),
            ("2026-11-21T17:02:44-00:00", "2026-11-21T17:02:44.000000Z"),
            ("2026-11-21T17:02:44+23:59", "2026-11-20T17:03:44.000000Z"),
            ("2026-11-21T17:02:44-23:59", "2026-11-22T17:01:44.000000Z"),
            ("2026-11-21T23:02:44.5-01:00", "2026-11-22T00:02:44.500000Z"),
            // Leap seconds: 23:59:60 UTC on a month's last day.
            ("2016-12-31T23:59:60Z", "2016-12-31T23:59:59.999999Z"),
            ("2016-12-31T23:59:60.5Z", "2016-12-31T23:59:59.999999Z"),
            ("2017-01-01T00:59:60+01:00", "2016-12-31T23:59:59.999999Z"),
            ("2015-06-30T23:59:60Z", "2015-06-30T23:59:59.999999Z"),
            ("9999-12-31T23:59:60Z", "9999-12-31T23:59:59.999999Z"),
        ] {
            assert_eq!(parses(text).as_deref(), Some(utc), "{text}");
        }
        for text in [
            "",
            "yesterday",
            "2026-11-21",
            "2026-11-21T17:02Z",
            "2026-11-21T17:02:44",
            "2026-11-21T17:02:44.Z",
            "2026-11-21T17:02:44.5",
            "2026-11-21T17:02:44+01",
            "2026-11-21T17:02:44+0100",
            "2026-11-21T17:02:44+24:00",
            "2026-11-21T17:02:44+01:60",
            "2026-11-21T17:02:44\u{2212}01:00",
            "2026-11-21T17:02:44ZZ",
            "2026-11-21T17:02:44Z ",
            " 2026-11-21T17:02:44Z",
            "2026-11-21\u{e9}17:02:44Z",
            "2026-11-21T17:02:61Z",
            "2016-12-31T22:59:60Z",
            "2016-12-30T23:59:60Z",
            "2017-01-01T00:59:60Z",
            "2016-12-31T23:59:60+01:00",
            "2026-02-29T00:00:00Z",
            "10000-01-01T00:00:00Z",
            "-001-12-31T23:59:59.999999Z",
        ] {
            assert_eq!(parses(text), None, "{text:?}");
        }
    }

    #[test]
    fn system_times_truncate_towards_the_past() {
        use std::time::Duration;
        let at = |micros: i64| Timestamp::from_unix_micros(micros);
        assert_eq!(
            Timestamp::from_system_time(UNIX_EPOCH + Duration::from_nanos(1_500)),
            at(1)
        );
        assert_eq!(
            Timestamp::from_system_time(UNIX_EPOCH - Duration::from_nanos(1_500)),
            at(-2)
        );
        assert_eq!(
            Timestamp::from_system_time(UNIX_EPOCH - Duration::from_micros(3)),
            at(-3)
        );
        assert!(SystemClock.now() > at(1_763_000_000_000_000).expect("in range"));
    }

    #[cfg(feature = "time")]
    #[test]
    fn time_conversions_keep_the_instant() {
        let t = Timestamp::parse("2026-11-21T17:02:44.000981Z").expect("parses");
        let odt = time::OffsetDateTime::from(t);
        assert_eq!(t.unix_micros(), 1_795_280_564_000_981);
        assert_eq!(odt.unix_timestamp_nanos(), 1_795_280_564_000_981_000);
        assert_eq!(Timestamp::try_from(odt).ok(), Some(t));
        let offset = time::UtcOffset::from_hms(-3, 0, 0).expect("offset");
        let later = (odt + time::Duration::nanoseconds(999)).to_offset(offset);
        assert_eq!(Timestamp::try_from(later).ok(), Some(t));
        let before = odt - time::Duration::nanoseconds(1);
        assert_eq!(
            Timestamp::try_from(before)
                .map(|t| t.to_string())
                .ok()
                .as_deref(),
            Some("2026-11-21T17:02:44.000980Z")
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
