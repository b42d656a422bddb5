//! HTTP dates as lighttpd 1.4.69 writes and reads them (lighttpd:
//! `http_date.c`): `Last-Modified` for any file time, before 1970
//! included, and `If-Modified-Since` read as loosely as lighttpd reads it.
//!
//! What lighttpd accepts, found by experiment (`static_http`
//! `if_modified_since_as_lighttpd` compares it request by request):
//!
//! | form | layout | after it |
//! |---|---|---|
//! | IMF-fixdate | `Sun, 06 Nov 1994 08:49:37 GMT` | nothing |
//! | RFC 850 | `Sunday, 06-Nov-94 08:49:37 GMT` | anything |
//! | asctime | `Sun Nov  6 08:49:37 1994` (day ` 6` or `06`) | anything |
//!
//! * The weekday's first three letters must name a day, in this case; the
//!   rest of an RFC 850 weekday is not looked at, but its comma must come
//!   at offset 6 or later. The weekday need not be the date's.
//! * Month names as written above (`Jan`…`Dec`, in this case); every
//!   number has exactly its width in digits (asctime's day may start with
//!   a blank).
//! * Numbers are not checked against their ranges: the date is normalised
//!   (`Wed, 32 Dec 2019 24:00:00 GMT` is 2 January 2020, 00:00).
//! * RFC 850's two-digit year is in this century unless that puts it more
//!   than 50 years after the current year, then in the last one.

use std::time::SystemTime;

const DAYS: [&[u8; 3]; 7] = [b"Sun", b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat"];
const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// `secs` (seconds since 1970, negative before) as an IMF-fixdate:
/// `Wed, 15 Jun 1960 12:00:00 GMT`.
pub fn format(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let in_day = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    // 1 January 1970 was a Thursday
    let weekday = (days + 4).rem_euclid(7) as usize;
    format!(
        "{}, {day:02} {} {year:04} {:02}:{:02}:{:02} GMT",
        String::from_utf8_lossy(DAYS[weekday]),
        String::from_utf8_lossy(MONTHS[(month - 1) as usize]),
        in_day / 3600,
        in_day / 60 % 60,
        in_day % 60
    )
}

/// An HTTP date as lighttpd reads it, in seconds since 1970; `None` when
/// it is not one (see the module notes).
pub fn parse(s: &[u8]) -> Option<i64> {
    parse_in(s, current_year())
}

/// [`parse`] with RFC 850 years read as in `current_year`.
pub fn parse_in(s: &[u8], current_year: i64) -> Option<i64> {
    let day_name = s.get(..3)?;
    if !DAYS.iter().any(|d| &d[..] == day_name) {
        return None;
    }
    match s.get(3)? {
        // Sun, 06 Nov 1994 08:49:37 GMT
        b',' => {
            if s.len() != 29 {
                return None;
            }
            let mut p = Cursor(&s[4..]);
            p.lit(b" ")?;
            let day = p.num(2)?;
            p.lit(b" ")?;
            let month = p.month()?;
            p.lit(b" ")?;
            let year = p.num(4)?;
            p.lit(b" ")?;
            let secs = p.time()?;
            p.lit(b" GMT")?;
            Some(timestamp(year, month, day, secs))
        }
        // Sun Nov  6 08:49:37 1994
        b' ' => {
            let mut p = Cursor(&s[4..]);
            let month = p.month()?;
            p.lit(b" ")?;
            let day = day_of_asctime(p.0.get(..2)?)?;
            p.0 = &p.0[2..];
            p.lit(b" ")?;
            let secs = p.time()?;
            p.lit(b" ")?;
            let year = p.num(4)?;
            Some(timestamp(year, month, day, secs))
        }
        // Sunday, 06-Nov-94 08:49:37 GMT
        _ => {
            let comma = s.iter().position(|&b| b == b',')?;
            if comma < 6 {
                return None;
            }
            let mut p = Cursor(&s[comma + 1..]);
            p.lit(b" ")?;
            let day = p.num(2)?;
            p.lit(b"-")?;
            let month = p.month()?;
            p.lit(b"-")?;
            let yy = p.num(2)?;
            p.lit(b" ")?;
            let secs = p.time()?;
            p.lit(b" GMT")?;
            let year = if 2000 + yy > current_year + 50 {
                1900 + yy
            } else {
                2000 + yy
            };
            Some(timestamp(year, month, day, secs))
        }
    }
}

/// asctime's day: ` 6` or `06`.
fn day_of_asctime(two: &[u8]) -> Option<i64> {
    match two {
        [b' ', d] if d.is_ascii_digit() => Some(i64::from(d - b'0')),
        [a, b] if a.is_ascii_digit() && b.is_ascii_digit() => {
            Some(i64::from(a - b'0') * 10 + i64::from(b - b'0'))
        }
        _ => None,
    }
}

/// What is left of a date being read.
struct Cursor<'a>(&'a [u8]);

impl Cursor<'_> {
    fn lit(&mut self, want: &[u8]) -> Option<()> {
        self.0 = self.0.strip_prefix(want)?;
        Some(())
    }

    /// Exactly `width` digits.
    fn num(&mut self, width: usize) -> Option<i64> {
        let digits = self.0.get(..width)?;
        if !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        self.0 = &self.0[width..];
        Some(digits.iter().fold(0, |v, &d| v * 10 + i64::from(d - b'0')))
    }

    /// `Jan` … `Dec`: 1 … 12.
    fn month(&mut self) -> Option<i64> {
        let name = self.0.get(..3)?;
        let i = MONTHS.iter().position(|m| &m[..] == name)?;
        self.0 = &self.0[3..];
        Some(i as i64 + 1)
    }

    /// `hh:mm:ss` in seconds.
    fn time(&mut self) -> Option<i64> {
        let h = self.num(2)?;
        self.lit(b":")?;
        let m = self.num(2)?;
        self.lit(b":")?;
        let s = self.num(2)?;
        Some(h * 3600 + m * 60 + s)
    }
}

/// Seconds since 1970 of a date whose day and time may be out of range
/// (normalised as `timegm` does).
fn timestamp(year: i64, month: i64, day: i64, secs: i64) -> i64 {
    (days_from_civil(year, month) + day - 1) * 86_400 + secs
}

/// Days from 1970-01-01 to the first of `month` of `year` (proleptic
/// Gregorian calendar; H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date `days` after 1970-01-01: year, month (1–12), day (1–31).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn current_year() -> i64 {
    let now = match SystemTime::now().duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX / 2),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX / 2),
    };
    civil_from_days(now.div_euclid(86_400)).0
}

#[cfg(test)]
mod tests {
    use super::*;

    const JAN_1_2020: i64 = 1_577_836_800;

    #[test]
    fn formats_any_time() {
        for (secs, text) in [
            (0, "Thu, 01 Jan 1970 00:00:00 GMT"),
            (JAN_1_2020, "Wed, 01 Jan 2020 00:00:00 GMT"),
            (-1, "Wed, 31 Dec 1969 23:59:59 GMT"),
            (-301_233_600, "Wed, 15 Jun 1960 12:00:00 GMT"),
            (-2_147_483_648, "Fri, 13 Dec 1901 20:45:52 GMT"),
            (951_782_400, "Tue, 29 Feb 2000 00:00:00 GMT"),
            (4_102_444_800, "Fri, 01 Jan 2100 00:00:00 GMT"),
        ] {
            assert_eq!(format(secs), text, "{secs}");
            assert_eq!(parse(text.as_bytes()), Some(secs), "{text}");
        }
        // the same as the httpdate crate writes, where that can
        for secs in [
            0u64,
            1,
            86_399,
            86_400,
            1_000_000_000,
            1_577_836_800,
            2_000_000_000,
        ] {
            let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(secs);
            assert_eq!(format(secs as i64), httpdate::fmt_http_date(t));
        }
    }

    /// Calibrated against lighttpd 1.4.69 (in 2026): which strings are
    /// dates, and which instant.
    #[test]
    fn reads_dates_as_lighttpd() {
        let p = |s: &str| parse_in(s.as_bytes(), 2026);
        let at = |secs: i64| Some(JAN_1_2020 + secs);
        for (text, want) in [
            ("Wed, 01 Jan 2020 00:00:00 GMT", at(0)),
            ("Thu, 01 Jan 2020 00:00:00 GMT", at(0)),
            ("Sat, 01 Jan 2020 00:00:00 GMT", at(0)),
            ("Wed, 01 Jan 2020 24:00:00 GMT", at(86_400)),
            ("Wed, 32 Dec 2019 00:00:00 GMT", at(0)),
            ("Tue, 31 Dec 2019 24:00:00 GMT", at(0)),
            ("Tue, 31 Dec 2019 23:59:60 GMT", at(0)),
            ("Tue, 31 Dec 2019 23:59:99 GMT", at(39)),
            ("Wed, 00 Jan 2020 00:00:00 GMT", at(-86_400)),
            ("Sun, 30 Feb 2020 00:00:00 GMT", at(60 * 86_400)),
            (
                "Wed, 01 Jan 2020 99:99:99 GMT",
                at(99 * 3600 + 99 * 60 + 99),
            ),
            ("Wednesday, 01-Jan-20 00:00:00 GMT", at(0)),
            ("Monday, 01-Jan-20 00:00:00 GMT", at(0)),
            ("Wednesdax, 01-Jan-20 00:00:00 GMT", at(0)),
            ("Wed1234, 01-Jan-20 00:00:00 GMT", at(0)),
            ("Wednesday, 01-Jan-20 00:00:00 GMTx", at(0)),
            ("Wednesday, 01-Jan-20 00:00:00 GMT x", at(0)),
            ("Wed Jan  1 00:00:00 2020", at(0)),
            ("Wed Jan 01 00:00:00 2020", at(0)),
            ("Mon Jan  1 00:00:00 2020", at(0)),
            ("Wed Jan  1 00:00:00 2020 GMT", at(0)),
            ("Wed Jan  1 00:00:00 2020xyz", at(0)),
            ("Wed Jan  1 00:00:00 20201", at(0)),
            ("Wed Dec 32 00:00:00 2019", at(0)),
            ("Wed Dec 31 24:00:00 2019", at(0)),
        ] {
            assert_eq!(p(text), want, "{text}");
        }
        // two-digit years: up to 50 years ahead of the current one
        let year = |text: &str| p(text).map(|t| civil_from_days(t.div_euclid(86_400)).0);
        for (yy, want) in [
            (0, 2000),
            (20, 2020),
            (70, 2070),
            (76, 2076),
            (77, 1977),
            (99, 1999),
        ] {
            let text = format!("Thursday, 01-Jan-{yy:02} 00:00:00 GMT");
            assert_eq!(year(&text), Some(want), "{text}");
        }
        assert_eq!(year("Thursday, 99-Dec-76 00:00:00 GMT"), Some(2077));
        for text in [
            "",
            "yesterday",
            "wed, 01 Jan 2020 00:00:00 GMT",
            "WED, 01 Jan 2020 00:00:00 GMT",
            "Abc, 01 Jan 2020 00:00:00 GMT",
            "Wed, 01 jan 2020 00:00:00 GMT",
            "Wed, 01 JAN 2020 00:00:00 GMT",
            "Wed, 1 Jan 2020 00:00:00 GMT",
            "Wed,  1 Jan 2020 00:00:00 GMT",
            "Wed, 001 Jan 2020 00:00:00 GMT",
            "Wed,01 Jan 2020 00:00:00 GMT",
            "Wed, 01 Jan 2020 00:00:00 gmt",
            "Wed, 01 Jan 2020 00:00:00 UTC",
            "Wed, 01 Jan 2020 00:00:00",
            "Wed, 01 Jan 2020 00:00:00 GMT,",
            "Wed, 01 Jan 2020 00:00:00 GMTGMT",
            "Wed, 01 Jan 2020 00:00:00 GMT; length=1000",
            "Wed, 01 Jan 2020 0:0:0 GMT",
            "Wed, 01 Jan 2020 00:00:-0 GMT",
            "Wed, 01 Jan +2020 00:00:00 GMT",
            "Wed, 01 Jan 02020 00:00:00 GMT",
            "Wednesday, 01 Jan 2020 00:00:00 GMT",
            "Wed, 01-Jan-20 00:00:00 GMT",
            "Wedn, 01-Jan-20 00:00:00 GMT",
            "Wedn,x, 01-Jan-20 00:00:00 GMT",
            "Xyzday, 01-Jan-20 00:00:00 GMT",
            "wednesday, 01-Jan-20 00:00:00 GMT",
            "Wednesday, 01-jan-20 00:00:00 GMT",
            "Wednesday, 1-Jan-20 00:00:00 GMT",
            "Wednesday, 01-Jan-2020 00:00:00 GMT",
            "Wednesday, 01-Jan-20 00:00:00 UTC",
            "Wednesday, 01-Jan-20x00:00:00 GMT",
            "Wed Jan 1 00:00:00 2020",
            "Wed Jan 1  00:00:00 2020",
            "Wed Jan _1 00:00:00 2020",
            "Wed Jan 1x 00:00:00 2020",
            "Wed Jan 011 00:00:00 2020",
            "Wed Jan  1 00:00:00  2020",
            "Wed Jan  1 00:00:00 202",
            "Wed Janx 1 00:00:00 2020",
            "wed Jan  1 00:00:00 2020",
            "Xyz Jan  1 00:00:00 2020",
        ] {
            assert_eq!(p(text), None, "{text}");
        }
    }
}
