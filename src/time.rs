//! Time as the core sees it: a [`Timestamp`] passed in by the caller (the core has no clock) and a
//! [`Span`] parsed from options such as `--older-than 90d`.

use std::fmt;
use std::str::FromStr;

use serde::{Serialize, Serializer};

/// A point in time: microseconds since the Unix epoch, UTC (IAM's answers carry microseconds,
/// and the `aws` CLI prints them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    /// From microseconds since the Unix epoch.
    pub const fn from_micros(us: i64) -> Self {
        Self(us)
    }

    /// From milliseconds since the Unix epoch.
    pub const fn from_millis(ms: i64) -> Self {
        Self(ms.saturating_mul(1000))
    }

    /// From whole seconds since the Unix epoch.
    pub const fn from_secs(s: i64) -> Self {
        Self(s.saturating_mul(1_000_000))
    }

    /// Microseconds since the Unix epoch.
    pub const fn as_micros(self) -> i64 {
        self.0
    }

    /// Milliseconds since the Unix epoch, rounded down.
    pub const fn as_millis(self) -> i64 {
        self.0.div_euclid(1000)
    }

    /// This time plus a span (saturating).
    pub const fn add(self, span: Span) -> Self {
        let us = (span.0 as i64).saturating_mul(1000);
        Self(self.0.saturating_add(us))
    }

    /// The span from `earlier` to `self`, to the millisecond below; zero when `earlier` is later.
    pub fn since(self, earlier: Timestamp) -> Span {
        Span(u64::try_from(self.0.saturating_sub(earlier.0) / 1000).unwrap_or(0))
    }

    /// `2013-06-04T18:17:34+00:00`, as `aws` v2 prints timestamps (`cli_timestamp_format = iso8601`);
    /// sub-second parts appear as Python's `isoformat` shows them (`.123456`).
    pub fn to_iso8601(self) -> String {
        let secs = self.0.div_euclid(1_000_000);
        let us = self.0.rem_euclid(1_000_000);
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        let (hh, mm, ss) = (rem / 3600, rem % 3600 / 60, rem % 60);
        if us == 0 {
            format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}+00:00")
        } else {
            format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}.{us:06}+00:00")
        }
    }

    /// Parses the RFC 3339 / ISO 8601 forms that IAM and the `aws` CLI print:
    /// `2013-06-04T18:17:34Z`, `2013-06-04T18:17:34.5+00:00`, `2013-06-04T20:17:34+02:00`.
    pub fn parse_iso8601(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        let num = |r: std::ops::Range<usize>| -> Option<i64> {
            let t = s.get(r)?;
            t.bytes()
                .all(|c| c.is_ascii_digit())
                .then(|| t.parse().ok())?
        };
        if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
            return None;
        }
        let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
        if b[13] != b':' || b[16] != b':' {
            return None;
        }
        let (hh, mi, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
        if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || hh > 23 || mi > 59 || ss > 60 {
            return None;
        }
        let mut i = 19;
        let mut us = 0i64;
        if b.get(i) == Some(&b'.') {
            i += 1;
            let start = i;
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            if i == start {
                return None;
            }
            // To the microsecond; finer digits are dropped.
            let frac = &s[start..i.min(start + 6)];
            us = frac.parse::<i64>().ok()? * 10i64.pow(6 - frac.len() as u32);
        }
        let offset = match b.get(i) {
            Some(b'Z' | b'z') if i + 1 == b.len() => 0,
            Some(sign @ (b'+' | b'-')) if i + 6 == b.len() && b[i + 3] == b':' => {
                let off = num(i + 1..i + 3)? * 3600 + num(i + 4..i + 6)? * 60;
                if *sign == b'+' { off } else { -off }
            }
            None => 0,
            _ => return None,
        };
        let secs = days_from_civil(y, mo, d) * 86_400 + hh * 3600 + mi * 60 + ss - offset;
        Some(Self(secs * 1_000_000 + us))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_iso8601())
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_iso8601())
    }
}

// Howard Hinnant's days-from-civil algorithms (public domain), proleptic Gregorian calendar.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A length of time, in milliseconds: `--older-than 90d`, `--verify-timeout 120s`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Span(u64);

impl Span {
    /// Zero.
    pub const ZERO: Span = Span(0);

    /// From milliseconds.
    pub const fn from_millis(ms: u64) -> Self {
        Self(ms)
    }

    /// From seconds.
    pub const fn from_secs(s: u64) -> Self {
        Self(s.saturating_mul(1000))
    }

    /// Milliseconds.
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// Whole days, rounded down.
    pub const fn whole_days(self) -> u64 {
        self.0 / 86_400_000
    }
}

impl fmt::Display for Span {
    /// The shortest exact form in the largest unit: `90d`, `12h`, `1500ms`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [(u64, &str); 5] = [
            (604_800_000, "w"),
            (86_400_000, "d"),
            (3_600_000, "h"),
            (60_000, "m"),
            (1000, "s"),
        ];
        if self.0 == 0 {
            return f.write_str("0s");
        }
        for (ms, unit) in UNITS {
            if self.0.is_multiple_of(ms) {
                return write!(f, "{}{unit}", self.0 / ms);
            }
        }
        write!(f, "{}ms", self.0)
    }
}

impl Serialize for Span {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Why a duration option did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration '{input}': use a number and a unit, such as 90d, 12h, 30m, 45s or 1h30m")]
pub struct SpanError {
    /// What the user typed.
    pub input: String,
}

impl FromStr for Span {
    type Err = SpanError;

    /// Parses `90d`, `12h`, `30m`, `45s`, `500ms`, `2w` and sums such as `1h30m`.
    /// A bare number is refused: `--older-than 90` could mean days or seconds.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || SpanError {
            input: s.to_owned(),
        };
        let t = s.trim();
        if t.is_empty() {
            return Err(err());
        }
        let mut total: u64 = 0;
        let mut rest = t;
        while !rest.is_empty() {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return Err(err());
            }
            let n: u64 = rest[..digits].parse().map_err(|_| err())?;
            rest = &rest[digits..];
            let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
            let unit = &rest[..unit_len];
            rest = &rest[unit_len..];
            let ms = match unit {
                "ms" => 1,
                "s" | "sec" | "secs" => 1000,
                "m" | "min" | "mins" => 60_000,
                "h" | "hr" | "hrs" => 3_600_000,
                "d" | "day" | "days" => 86_400_000,
                "w" | "week" | "weeks" => 604_800_000,
                _ => return Err(err()),
            };
            total = n
                .checked_mul(ms)
                .and_then(|v| total.checked_add(v))
                .ok_or_else(err)?;
        }
        Ok(Span(total))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso8601_like_aws_v2() {
        assert_eq!(
            Timestamp::from_secs(1_370_369_854).to_iso8601(),
            "2013-06-04T18:17:34+00:00"
        );
        assert_eq!(
            Timestamp::from_millis(1_370_369_854_250).to_iso8601(),
            "2013-06-04T18:17:34.250000+00:00"
        );
        assert_eq!(
            Timestamp::from_micros(1_370_369_854_000_007).to_iso8601(),
            "2013-06-04T18:17:34.000007+00:00"
        );
        assert_eq!(
            Timestamp::from_secs(0).to_iso8601(),
            "1970-01-01T00:00:00+00:00"
        );
    }

    #[test]
    fn parses_what_iam_prints() {
        let t = Timestamp::from_secs(1_370_369_854);
        assert_eq!(Timestamp::parse_iso8601("2013-06-04T18:17:34Z"), Some(t));
        assert_eq!(
            Timestamp::parse_iso8601("2013-06-04T18:17:34+00:00"),
            Some(t)
        );
        assert_eq!(
            Timestamp::parse_iso8601("2013-06-04T20:17:34+02:00"),
            Some(t)
        );
        assert_eq!(
            Timestamp::parse_iso8601("2013-06-04T18:17:34.25Z"),
            Some(Timestamp::from_millis(1_370_369_854_250))
        );
        assert_eq!(
            Timestamp::parse_iso8601("2013-06-04T18:17:34.1234567Z"),
            Some(Timestamp::from_micros(1_370_369_854_123_456))
        );
        assert_eq!(Timestamp::parse_iso8601("2013-13-04T18:17:34Z"), None);
        assert_eq!(Timestamp::parse_iso8601("yesterday"), None);
    }

    #[test]
    fn spans() {
        assert_eq!("90d".parse(), Ok(Span::from_secs(90 * 86_400)));
        assert_eq!("12h".parse(), Ok(Span::from_secs(12 * 3600)));
        assert_eq!("30m".parse(), Ok(Span::from_secs(1800)));
        assert_eq!("120s".parse(), Ok(Span::from_secs(120)));
        assert_eq!("1h30m".parse(), Ok(Span::from_secs(5400)));
        assert_eq!("250ms".parse(), Ok(Span::from_millis(250)));
        for bad in ["", "90", "d", "9x", "-1d", "1.5h", "99999999999999999999d"] {
            assert!(bad.parse::<Span>().is_err(), "{bad}");
        }
        assert_eq!(Span::from_secs(90 * 86_400).to_string(), "90d");
        assert_eq!(Span::from_secs(5400).to_string(), "90m");
    }

    proptest::proptest! {
        #[test]
        fn iso8601_round_trips(us in -62_135_596_800_000_000i64..253_402_300_799_000_000) {
            let t = Timestamp::from_micros(us);
            proptest::prop_assert_eq!(Timestamp::parse_iso8601(&t.to_iso8601()), Some(t));
        }

        #[test]
        fn span_display_round_trips(ms in 0u64..10_000_000_000_000) {
            let s = Span::from_millis(ms);
            proptest::prop_assert_eq!(s.to_string().parse::<Span>(), Ok(s));
        }
    }
}
