//! Header lookups that suit the few lines most requests carry. Finding a
//! name in a `HeaderMap` hashes it first, and most names a request is
//! asked about (Range, If-None-Match, Transfer-Encoding…) are absent. The
//! names of a map of a handful of lines are read through faster than a
//! hash is made, so small maps are asked that first; a name that is there
//! (or any name in a larger map) is looked up as usual. Either way the
//! answer is `HeaderMap`'s own.

use http::{HeaderMap, HeaderName, HeaderValue};

/// Maps with at most this many names are scanned for a name first.
const SCAN: usize = 8;

/// Whether `name` may be in `headers` (false only when it is certainly not).
fn may_have(headers: &HeaderMap, name: &HeaderName) -> bool {
    headers.keys_len() > SCAN || headers.keys().any(|k| k == name)
}

/// The first value of `name`, as [`HeaderMap::get`].
pub fn get<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Option<&'a HeaderValue> {
    if !may_have(headers, name) {
        return None;
    }
    headers.get(name)
}

/// The first two values of `name`, as [`HeaderMap::get_all`] yields them.
pub fn first_two<'a>(
    headers: &'a HeaderMap,
    name: &HeaderName,
) -> (Option<&'a HeaderValue>, Option<&'a HeaderValue>) {
    first_two_where(headers, name, |_| true)
}

/// The first two values of `name` that `keep` accepts, in
/// [`HeaderMap::get_all`]'s order.
pub fn first_two_where<'a>(
    headers: &'a HeaderMap,
    name: &HeaderName,
    keep: impl Fn(&HeaderValue) -> bool,
) -> (Option<&'a HeaderValue>, Option<&'a HeaderValue>) {
    if !may_have(headers, name) {
        return (None, None);
    }
    let mut all = headers.get_all(name).iter().filter(|v| keep(v));
    (all.next(), all.next())
}

/// Whether `name` is present, as [`HeaderMap::contains_key`].
pub fn contains(headers: &HeaderMap, name: &HeaderName) -> bool {
    if headers.keys_len() > SCAN {
        return headers.contains_key(name);
    }
    headers.keys().any(|k| k == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::{ACCEPT, CONTENT_LENGTH, HOST, RANGE};

    /// Every answer is `HeaderMap`'s own, for maps below and above the
    /// scanning size, with repeated names and custom ones.
    #[test]
    fn answers_as_header_map() {
        let custom = HeaderName::from_static("x-custom");
        let names = [HOST, CONTENT_LENGTH, RANGE, ACCEPT, custom.clone()];
        for lines in 0..20usize {
            let mut h = HeaderMap::new();
            for i in 0..lines {
                let name = names[i * 7 % names.len()].clone();
                h.append(name, HeaderValue::from(i));
            }
            for n in &names {
                assert_eq!(get(&h, n), h.get(n), "{lines} lines, {n}");
                let mut all = h.get_all(n).iter();
                assert_eq!(first_two(&h, n), (all.next(), all.next()), "{lines}, {n}");
                assert_eq!(contains(&h, n), h.contains_key(n));
                let odd = |v: &HeaderValue| v.as_bytes().last().is_some_and(|b| b % 2 == 1);
                let mut kept = h.get_all(n).iter().filter(|v| odd(v));
                assert_eq!(
                    first_two_where(&h, n, odd),
                    (kept.next(), kept.next()),
                    "{lines}, {n}"
                );
            }
        }
    }
}
