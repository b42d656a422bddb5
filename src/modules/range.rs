//! `Range: bytes=…` as lighttpd 1.4.69 reads it (lighttpd: `http_range.c`),
//! for static files and buffered proxy responses.
//!
//! Each part is read on its own; a part that is malformed or starts past
//! the end is dropped and the others are served (416 only when none is
//! left). The first ten valid parts are taken, in request order; then a
//! part within 80 bytes of (or overlapping) one already taken is merged
//! into it in place. Calibrated part by part against 1.4.69
//! (`static_http` `range_parts_as_lighttpd`).

use http::HeaderValue;

/// Ranges at most this far apart are merged into one (lighttpd).
const RANGE_MERGE_GAP: u64 = 80;
/// At most this many parts of a `Range` header are served: the first
/// valid and satisfiable ones, before merging (lighttpd).
const MAX_RANGES: usize = 10;

/// `If-Range`: the range applies only when the validator still matches,
/// byte for byte, as lighttpd compares it: an entity tag with the ETag, a
/// date with the Last-Modified line of the answer (the same instant written another
/// way does not match). An empty `If-Range` is no condition.
pub fn if_range_holds(
    header: Option<&HeaderValue>,
    etag: Option<&HeaderValue>,
    last_modified: Option<&HeaderValue>,
) -> bool {
    let Some(v) = header.map(HeaderValue::as_bytes).filter(|v| !v.is_empty()) else {
        return true;
    };
    let validator = if v.starts_with(b"\"") || v.starts_with(b"W/") {
        etag
    } else {
        last_modified
    };
    validator.is_some_and(|m| m.as_bytes() == v)
}

/// The ranges of a `Range` header: the part after a `bytes=` unit, in any
/// case (lighttpd); `None` for another unit (the header is ignored).
pub fn byte_ranges(header: &[u8]) -> Option<&[u8]> {
    let unit = header.get(..6)?;
    unit.eq_ignore_ascii_case(b"bytes=").then(|| &header[6..])
}

/// Parses `Range: bytes=…` against a file of `size` bytes: `None` when no
/// part is valid and satisfiable (416), else the first `MAX_RANGES` (10) such
/// parts, merged as lighttpd merges them. As lighttpd 1.4.69: a part that
/// is malformed (`abc`, `5-2`, `-`, `5-9x`) or starts past the end is
/// dropped and the others are served; numbers may carry a `+` sign and
/// blanks around them; `-0` reads as the number 0 (so `-0-5` is `0-5` and
/// `-0` alone is malformed); an end at or past 2^63 - 1 is malformed, a
/// start or suffix there never satisfiable.
pub fn parse_ranges(header: &[u8], size: u64) -> Option<Vec<(u64, u64)>> {
    let spec = byte_ranges(header)?;
    if size == 0 {
        return None;
    }
    let mut ranges = Vec::new();
    for part in spec.split(|&b| b == b',') {
        if ranges.len() == MAX_RANGES {
            break;
        }
        ranges.extend(one_range(part, size));
    }
    if ranges.is_empty() {
        return None;
    }
    // Request order is kept; a range near (or overlapping) one already
    // taken is merged into it in place (lighttpd).
    let mut merged: Vec<(u64, u64)> = Vec::with_capacity(ranges.len());
    for (s, e) in ranges {
        let near = merged.iter_mut().find(|(ms, me)| {
            s <= me.saturating_add(RANGE_MERGE_GAP) && e.saturating_add(RANGE_MERGE_GAP) >= *ms
        });
        match near {
            Some(m) => *m = (m.0.min(s), m.1.max(e)),
            None => merged.push((s, e)),
        }
    }
    Some(merged)
}

/// One part of a `Range` header, against a non-empty file of `size` bytes:
/// the satisfiable range it asks for, clipped to the file.
fn one_range(part: &[u8], size: u64) -> Option<(u64, u64)> {
    let (first, rest) = range_number(part)?;
    if first < 0 {
        // a suffix: the last `-first` bytes
        if first == i64::MIN || !skip_blanks(rest).is_empty() {
            return None;
        }
        return Some((size.saturating_sub(first.unsigned_abs()), size - 1));
    }
    let rest = skip_blanks(skip_blanks(rest).strip_prefix(b"-")?);
    let start = first.unsigned_abs();
    let end = if rest.is_empty() {
        size - 1
    } else {
        let (end, tail) = range_number(rest)?;
        if end == i64::MAX || end < first || !skip_blanks(tail).is_empty() {
            return None;
        }
        end.unsigned_abs().min(size - 1)
    };
    (start < size).then_some((start, end))
}

/// A number of a `Range` part as lighttpd reads it (C's `strtoll`): blanks,
/// an optional sign, at least one digit; saturated at the bounds of `i64`.
/// The number and what follows it.
fn range_number(s: &[u8]) -> Option<(i64, &[u8])> {
    let s = skip_blanks(s);
    let (negative, s) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, s),
    };
    let digits = s.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 {
        return None;
    }
    let value = s[..digits].iter().fold(0i64, |v, &d| {
        let d = i64::from(d - b'0');
        if negative {
            v.saturating_mul(10).saturating_sub(d)
        } else {
            v.saturating_mul(10).saturating_add(d)
        }
    });
    Some((value, &s[digits..]))
}

fn skip_blanks(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|&&b| b == b' ' || b == b'\t').count();
    &s[n..]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `If-Range` compares byte for byte, as lighttpd 1.4.69: the same
    /// instant in another date format, or a wrong weekday, does not match;
    /// an empty value is no condition; without the validator nothing
    /// matches.
    #[test]
    fn if_range_is_compared_byte_for_byte() {
        let lm = HeaderValue::from_static("Wed, 01 Jan 2020 00:00:00 GMT");
        let tag = HeaderValue::from_static("\"123\"");
        let holds = |h: &'static str, etag: bool, modified: bool| {
            if_range_holds(
                Some(&HeaderValue::from_static(h)),
                etag.then_some(&tag),
                modified.then_some(&lm),
            )
        };
        assert!(holds("Wed, 01 Jan 2020 00:00:00 GMT", true, true));
        assert!(holds("Wed, 01 Jan 2020 00:00:00 GMT", false, true));
        assert!(holds("\"123\"", true, true));
        assert!(holds("", true, true));
        assert!(holds("", false, false));
        for other in [
            "Wednesday, 01-Jan-20 00:00:00 GMT",
            "Wed Jan  1 00:00:00 2020",
            "Wed, 01 Jan 2020 00:00:00 gmt",
            "Thu, 01 Jan 2020 00:00:00 GMT",
            "Tue, 31 Dec 2019 23:59:59 GMT",
            "garbage",
            "W/\"123\"",
            "\"1234\"",
            "*",
        ] {
            assert!(!holds(other, true, true), "{other}");
        }
        assert!(!holds("Wed, 01 Jan 2020 00:00:00 GMT", true, false));
        assert!(!holds("\"123\"", false, true));
        assert!(if_range_holds(None, None, None));
    }

    /// Calibrated against lighttpd 1.4.69 on a 10240-byte file.
    #[test]
    fn ranges_parse_and_merge_like_lighttpd() {
        let r = |h: &str| parse_ranges(h.as_bytes(), 10240);
        assert_eq!(r("bytes=0-1,5-6"), Some(vec![(0, 6)]));
        assert_eq!(r("bytes=0-1,81-82"), Some(vec![(0, 82)]));
        assert_eq!(r("bytes=0-1,82-83"), Some(vec![(0, 1), (82, 83)]));
        assert_eq!(r("bytes=5-6,0-1"), Some(vec![(0, 6)]));
        assert_eq!(r("bytes=500-509,0-9"), Some(vec![(500, 509), (0, 9)]));
        assert_eq!(
            r("bytes=200-209,0-9,20-29"),
            Some(vec![(200, 209), (0, 29)])
        );
        assert_eq!(r("bytes=-5"), Some(vec![(10235, 10239)]));
        assert_eq!(r("bytes=9000-"), Some(vec![(9000, 10239)]));
        assert_eq!(r("bytes=0-0,-1"), Some(vec![(0, 0), (10239, 10239)]));
        assert_eq!(r("bytes=0-1,,5-6"), Some(vec![(0, 6)]));
        assert_eq!(r("bytes=10240-"), None);
        assert_eq!(r("bytes=abc"), None);
        assert_eq!(r("bytes=bytes=0-1"), None);
        assert_eq!(r("bytes=5-2"), None);
        assert_eq!(r("bytes=0-99999"), Some(vec![(0, 10239)]));
    }

    /// lighttpd 1.4.69's reading of each part (calibrated on a 1000-byte
    /// file): the unit in any case, malformed and unsatisfiable parts
    /// dropped while another is served, `+` signs and blanks, `-0` as the
    /// number 0, 2^63 - 1 as an error, at most ten parts before merging.
    #[test]
    fn range_parts_read_like_lighttpd() {
        let r = |h: &str| parse_ranges(h.as_bytes(), 1000);
        let one = |a, b| Some(vec![(a, b)]);
        for (header, want) in [
            ("Bytes=0-9", one(0, 9)),
            ("BYTES=0-9", one(0, 9)),
            ("bytes=0-9,abc", one(0, 9)),
            ("bytes=abc,0-9", one(0, 9)),
            ("bytes=0-9,5-2", one(0, 9)),
            ("bytes=5-2,0-9", one(0, 9)),
            ("bytes=5-4,5-5", one(5, 5)),
            ("bytes=0-9,x-5", one(0, 9)),
            ("bytes=0-9,-", one(0, 9)),
            ("bytes=1000-,0-9", one(0, 9)),
            ("bytes=0-9,1000-", one(0, 9)),
            ("bytes=-0,0-9", one(0, 9)),
            ("bytes=+5-9", one(5, 9)),
            ("bytes=5-+9", one(5, 9)),
            ("bytes=+0-+9", one(0, 9)),
            ("bytes=5- +9", one(5, 9)),
            ("bytes= 0-9", one(0, 9)),
            ("bytes=0 - 9", one(0, 9)),
            ("bytes=0\t-\t9", one(0, 9)),
            ("bytes=0-9 ", one(0, 9)),
            ("bytes= -5", one(995, 999)),
            ("bytes=5- ", one(5, 999)),
            ("bytes=-0-5", one(0, 5)),
            ("bytes=-00-3", one(0, 3)),
            ("bytes=-0-", one(0, 999)),
            ("bytes=0-00", one(0, 0)),
            ("bytes=-5000", one(0, 999)),
            ("bytes=-9223372036854775807", one(0, 999)),
            ("bytes=0-9223372036854775806", one(0, 999)),
            ("bytes=0-9223372036854775807,0-3", one(0, 3)),
            ("bytes=-9223372036854775808,0-3", one(0, 3)),
            ("bytes=99999999999999999999-,0-3", one(0, 3)),
            ("bytes=-99999999999999999999,0-3", one(0, 3)),
            ("bytes=0-9,,", one(0, 9)),
            ("bytes=,0-9", one(0, 9)),
        ] {
            assert_eq!(r(header), want, "{header}");
        }
        for header in [
            "bytes=abc",
            "bytes=abc,def",
            "bytes=5-2",
            "bytes=-+5",
            "bytes=+-5",
            "bytes=- 5",
            "bytes=+ 5-9",
            "bytes=5-+ 9",
            "bytes=0x5-9",
            "bytes=5-9x",
            "bytes=0-9 x",
            "bytes=0-9;x",
            "bytes=1e2-200",
            "bytes=--5",
            "bytes=5--9",
            "bytes=5-9-",
            "bytes=-5-3",
            "bytes=-5x",
            "bytes=-0",
            "bytes=-",
            "bytes=5",
            "bytes=",
            "bytes=,",
            "bytes==0-9",
            "bytes=0-9223372036854775807",
            "bytes=9223372036854775807-",
            "bytes=-9223372036854775808",
            "bytes=1000-,2000-",
        ] {
            assert_eq!(r(header), None, "{header}");
        }
        // not the bytes unit: no ranges at all (the header is ignored)
        for header in ["items=0-9", "bytes =0-9", "bytes 0-9", "byte=0-9"] {
            assert_eq!(byte_ranges(header.as_bytes()), None, "{header}");
        }
        // the first ten valid parts, before merging
        let spaced = |n: u64, gap: u64| (0..n).map(move |i| format!("{}-{}", i * gap, i * gap));
        let ten: Vec<(u64, u64)> = (0..10).map(|i| (i * 90, i * 90)).collect();
        let header = format!("bytes={}", spaced(12, 90).collect::<Vec<_>>().join(","));
        assert_eq!(r(&header), Some(ten.clone()));
        let mut parts: Vec<String> = spaced(9, 90).collect();
        parts.extend(["abc", "2000-", "5-2", "-0", "950-950", "960-960"].map(String::from));
        let mut want = ten[..9].to_vec();
        want.push((950, 950));
        assert_eq!(r(&format!("bytes={}", parts.join(","))), Some(want));
        let header = format!("bytes={}", spaced(12, 5).collect::<Vec<_>>().join(","));
        assert_eq!(r(&header), one(0, 45));
        let mut parts: Vec<String> = spaced(9, 90).collect();
        parts.extend(["5-5", "10-10", "810-810"].map(String::from));
        let mut want = ten[..9].to_vec();
        want[0] = (0, 5);
        assert_eq!(r(&format!("bytes={}", parts.join(","))), Some(want));
        // an empty file has no satisfiable range
        assert_eq!(parse_ranges(b"bytes=0-0", 0), None);
    }
}
