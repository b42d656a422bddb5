//! mod_setenv: headers added to or set on requests and responses, and
//! variables for backends' environments (lighttpd: `mod_setenv.c`).
//!
//! | directive | effect |
//! |---|---|
//! | `setenv.add-request-header` | appended to the request header of that name (`, ` between values), or added |
//! | `setenv.set-request-header` | replaces the request header; an empty value removes it |
//! | `setenv.add-response-header` | one more response header line |
//! | `setenv.set-response-header` | replaces the response header; an empty value removes it |
//! | `setenv.add-environment`, `setenv.set-environment` | variables for CGI-like backends; wick runs none, so they are checked and have no effect (lighttpd's access log does not show them for static files or mod_proxy either) |
//!
//! Request headers change before the request is handed to a module
//! (mod_proxy sees them); response headers change on every response of a
//! routed request, error pages included.

use std::sync::Arc;

use http::{HeaderMap, HeaderName, HeaderValue};

use crate::config::Diagnostic;
use crate::config::value::{Entry, Value};

/// A list of headers, checked and converted at load.
pub type Pairs = Arc<[(HeaderName, HeaderValue)]>;

/// The `setenv.*` settings in effect for a request.
#[derive(Debug, Clone, Default)]
pub struct SetenvSettings {
    /// `setenv.add-request-header`.
    pub add_request: Pairs,
    /// `setenv.set-request-header`.
    pub set_request: Pairs,
    /// `setenv.add-response-header`.
    pub add_response: Pairs,
    /// `setenv.set-response-header`.
    pub set_response: Pairs,
}

/// Which list a change replaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetenvKey {
    /// `setenv.add-request-header`
    AddRequest,
    /// `setenv.set-request-header`
    SetRequest,
    /// `setenv.add-response-header`
    AddResponse,
    /// `setenv.set-response-header`
    SetResponse,
}

/// One change of a block to [`SetenvSettings`].
#[derive(Debug, Clone)]
pub struct SetenvSet(pub SetenvKey, pub Pairs);

impl SetenvSettings {
    /// Applies one change.
    pub fn apply(&mut self, SetenvSet(key, v): &SetenvSet) {
        let slot = match key {
            SetenvKey::AddRequest => &mut self.add_request,
            SetenvKey::SetRequest => &mut self.set_request,
            SetenvKey::AddResponse => &mut self.add_response,
            SetenvKey::SetResponse => &mut self.set_response,
        };
        *slot = v.clone();
    }

    /// Changes the request headers.
    pub fn request(&self, headers: &mut HeaderMap) {
        for (name, value) in self.add_request.iter() {
            if !headers.contains_key(name) {
                headers.insert(name.clone(), value.clone());
                continue;
            }
            if value.is_empty() {
                continue;
            }
            // every line of the name, then the value, as one line
            let mut joined = Vec::new();
            for old in headers.get_all(name) {
                joined.extend_from_slice(old.as_bytes());
                joined.extend_from_slice(b", ");
            }
            joined.extend_from_slice(value.as_bytes());
            if let Ok(j) = HeaderValue::from_bytes(&joined) {
                headers.insert(name.clone(), j);
            }
        }
        set(&self.set_request, headers);
    }

    /// Changes the response headers.
    pub fn response(&self, headers: &mut HeaderMap) {
        for (name, value) in self.add_response.iter() {
            headers.append(name.clone(), value.clone());
        }
        set(&self.set_response, headers);
    }

    /// True when no response header is changed.
    pub fn keeps_response(&self) -> bool {
        self.add_response.is_empty() && self.set_response.is_empty()
    }

    /// True when no header is changed.
    pub fn changes_nothing(&self) -> bool {
        self.add_request.is_empty()
            && self.set_request.is_empty()
            && self.add_response.is_empty()
            && self.set_response.is_empty()
    }
}

fn set(pairs: &Pairs, headers: &mut HeaderMap) {
    for (name, value) in pairs.iter() {
        if value.is_empty() {
            remove_in_order(headers, name);
        } else {
            headers.insert(name.clone(), value.clone());
        }
    }
}

/// Removes a header and keeps the others in their order
/// (`HeaderMap::remove` moves the last name into the gap).
fn remove_in_order(headers: &mut HeaderMap, name: &HeaderName) {
    if !headers.contains_key(name) {
        return;
    }
    let old = std::mem::take(headers);
    let mut last: Option<HeaderName> = None;
    for (n, v) in old {
        if let Some(n) = n {
            last = Some(n);
        }
        if let Some(n) = last.as_ref().filter(|n| *n != name) {
            headers.append(n.clone(), v);
        }
    }
}

/// Compiles a `setenv.*` value: a list of `"name" => "value"` pairs.
pub fn compile(key: &[u8], entry: &Entry) -> Result<Option<SetenvSet>, Vec<Diagnostic>> {
    let k = match key {
        b"setenv.add-request-header" => Some(SetenvKey::AddRequest),
        b"setenv.set-request-header" => Some(SetenvKey::SetRequest),
        b"setenv.add-response-header" => Some(SetenvKey::AddResponse),
        b"setenv.set-response-header" => Some(SetenvKey::SetResponse),
        // checked like the others; nothing reads them
        b"setenv.add-environment" | b"setenv.set-environment" => None,
        _ => return Ok(None),
    };
    let name = String::from_utf8_lossy(key);
    let Value::Array(a) = &entry.value else {
        return Err(vec![
            Diagnostic::error(format!(
                "{name} must be a list of \"name\" => \"value\" pairs"
            ))
            .at(entry.span),
        ]);
    };
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for e in a.entries() {
        let (Some(n), Some(v)) = (e.key.as_ref(), e.value.as_str()) else {
            errors.push(
                Diagnostic::error(format!("{name}: each entry must be \"name\" => \"value\""))
                    .at(e.span),
            );
            continue;
        };
        if k.is_none() {
            continue;
        }
        let Ok(hn) = HeaderName::from_bytes(n) else {
            errors.push(
                Diagnostic::error(format!(
                    "{name}: `{}` is not a valid header name",
                    String::from_utf8_lossy(n)
                ))
                .at(e.span),
            );
            continue;
        };
        let Ok(hv) = HeaderValue::from_bytes(v) else {
            errors.push(
                Diagnostic::error(format!(
                    "{name}: the value of `{}` cannot be sent in a header (control characters)",
                    String::from_utf8_lossy(n)
                ))
                .at(e.span),
            );
            continue;
        };
        out.push((hn, hv));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(k.map(|k| SetenvSet(k, out.into())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(v: &[(&str, &str)]) -> Pairs {
        v.iter()
            .map(|(a, b)| {
                (
                    HeaderName::from_bytes(a.as_bytes()).expect("name"),
                    HeaderValue::from_str(b).expect("value"),
                )
            })
            .collect::<Vec<_>>()
            .into()
    }

    #[test]
    fn request_and_response_headers() {
        let mut s = SetenvSettings::default();
        s.apply(&SetenvSet(
            SetenvKey::AddRequest,
            pairs(&[("X-A", "1"), ("X-New", "n")]),
        ));
        s.apply(&SetenvSet(
            SetenvKey::SetRequest,
            pairs(&[("X-S", "s"), ("X-Gone", "")]),
        ));
        let mut h = HeaderMap::new();
        h.insert("x-a", HeaderValue::from_static("0"));
        h.append("x-a", HeaderValue::from_static("00"));
        h.insert("x-gone", HeaderValue::from_static("g"));
        h.insert("x-s", HeaderValue::from_static("old"));
        s.request(&mut h);
        assert_eq!(h["x-a"], "0, 00, 1");
        assert_eq!(h.get_all("x-a").iter().count(), 1);
        assert_eq!(h["x-new"], "n");
        assert_eq!(h["x-s"], "s");
        assert!(!h.contains_key("x-gone"));
        let order: Vec<&str> = h.keys().map(|k| k.as_str()).collect();
        assert_eq!(order, ["x-a", "x-s", "x-new"], "order kept after a removal");

        s.apply(&SetenvSet(
            SetenvKey::AddResponse,
            pairs(&[("X-R", "1"), ("X-R", "2")]),
        ));
        let mut r = HeaderMap::new();
        r.insert("x-r", HeaderValue::from_static("0"));
        s.response(&mut r);
        assert_eq!(r.get_all("x-r").iter().count(), 3);
    }
}
