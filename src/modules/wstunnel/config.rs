//! `wstunnel.*` directives (spec wstunnel.md §2): compiled once per block
//! into [`WsSet`] changes, applied per request to [`WsSettings`].

use std::sync::Arc;

use bstr::BString;

use crate::backend::Extensions;
use crate::backend::balance::Balance;
use crate::config::Diagnostic;
use crate::config::check::describe_value;
use crate::config::value::{Entry, Value};
use crate::modules::proxy::config::{
    GwContext, balance, debug_level, gateway_extensions, map_extensions,
};

/// The `wstunnel.*` settings in effect for a request.
#[derive(Debug, Clone, Default)]
pub struct WsSettings {
    /// `wstunnel.server`.
    pub server: Option<Arc<Extensions>>,
    /// `wstunnel.balance`.
    pub balance: Balance,
    /// `wstunnel.debug`.
    pub debug: u32,
    /// `wstunnel.map-extensions`.
    pub map_extensions: Arc<[(BString, BString)]>,
    /// `wstunnel.frame-type = "binary"`.
    pub binary: bool,
    /// `wstunnel.origins` (empty: no check).
    pub origins: Arc<[BString]>,
    /// `wstunnel.ping-interval` in seconds (0: off).
    pub ping_interval: u32,
}

/// One change of a block to [`WsSettings`].
#[derive(Debug, Clone)]
pub enum WsSet {
    /// `wstunnel.server`
    Server(Arc<Extensions>),
    /// `wstunnel.balance`
    Balance(Balance),
    /// `wstunnel.debug`
    Debug(u32),
    /// `wstunnel.map-extensions`
    MapExtensions(Arc<[(BString, BString)]>),
    /// `wstunnel.frame-type`
    Binary(bool),
    /// `wstunnel.origins`
    Origins(Arc<[BString]>),
    /// `wstunnel.ping-interval`
    PingInterval(u32),
}

impl WsSettings {
    /// Applies one change.
    pub fn apply(&mut self, set: &WsSet) {
        match set {
            WsSet::Server(e) => self.server = Some(e.clone()),
            WsSet::Balance(b) => self.balance = *b,
            WsSet::Debug(d) => self.debug = *d,
            WsSet::MapExtensions(m) => self.map_extensions = m.clone(),
            WsSet::Binary(b) => self.binary = *b,
            WsSet::Origins(o) => self.origins = o.clone(),
            WsSet::PingInterval(p) => self.ping_interval = *p,
        }
    }
}

/// Compiles one `wstunnel.*` entry (`key` lower-case). `Ok(None)` for
/// keys that are not mod_wstunnel's.
pub fn compile_entry(
    key: &[u8],
    entry: &Entry,
    ctx: &mut GwContext<'_>,
) -> Result<Option<WsSet>, Vec<Diagnostic>> {
    let v = &entry.value;
    let one = |d: Diagnostic| vec![d.at(entry.span)];
    let set = match key {
        b"wstunnel.server" => WsSet::Server(gateway_extensions("wstunnel", entry, ctx)?),
        b"wstunnel.balance" => WsSet::Balance(balance("wstunnel", entry, ctx)),
        b"wstunnel.debug" => WsSet::Debug(debug_level("wstunnel", entry)?),
        b"wstunnel.map-extensions" => WsSet::MapExtensions(map_extensions("wstunnel", entry)?),
        b"wstunnel.frame-type" => match v {
            Value::Str(s) => WsSet::Binary(s.eq_ignore_ascii_case(b"binary")),
            _ => {
                return Err(one(Diagnostic::error(
                    "wstunnel.frame-type expects \"text\" or \"binary\"",
                )));
            }
        },
        b"wstunnel.origins" => {
            let list: Option<Vec<BString>> = match v {
                Value::Str(s) => Some(vec![s.clone()]),
                Value::Array(a) => a
                    .entries()
                    .iter()
                    .map(|e| e.value.as_str().cloned())
                    .collect(),
                Value::Int(_) => None,
            };
            let Some(list) = list else {
                return Err(one(Diagnostic::error(
                    "wstunnel.origins expects a list of strings",
                )));
            };
            if list.iter().any(|o| o.is_empty()) {
                return Err(one(Diagnostic::error(
                    "wstunnel.origins has an empty string",
                )
                .help("remove the empty entry; without wstunnel.origins every origin is allowed")
                .lighttpd("unexpected empty string in wstunnel.origins")));
            }
            WsSet::Origins(list.into())
        }
        b"wstunnel.ping-interval" => {
            let n = match v {
                Value::Int(i) => Some(i64::from(*i)),
                Value::Str(s) => crate::config::keys::parse_number(s),
                Value::Array(_) => None,
            };
            match n {
                Some(n) if (0..=65535).contains(&n) => WsSet::PingInterval(n as u32),
                _ => {
                    return Err(one(Diagnostic::error(
                        "wstunnel.ping-interval expects seconds from 0 to 65535",
                    )
                    .label(format!("found {}", describe_value(v)))));
                }
            }
        }
        _ => return Ok(None),
    };
    Ok(Some(set))
}

/// Whether `origin` is allowed by one of `allowed` (lighttpd: equal, or
/// ending with the entry right after a `.`).
pub fn origin_allowed(origin: &[u8], allowed: &[BString]) -> bool {
    allowed.iter().any(|e| {
        let e = e.as_slice();
        origin == e
            || (origin.len() > e.len()
                && origin.ends_with(e)
                && origin[origin.len() - e.len() - 1] == b'.')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_matching_follows_lighttpd() {
        let allowed: Vec<BString> = vec!["example.com".into(), "https://good.org".into()];
        for (o, ok) in [
            ("http://sub.example.com", true),
            ("http://example.com", false),
            ("http://badexample.com", false),
            ("https://good.org", true),
            ("http://good.org", false),
            ("HTTP://SUB.EXAMPLE.COM", false),
            ("example.com", true),
        ] {
            assert_eq!(origin_allowed(o.as_bytes(), &allowed), ok, "{o}");
        }
    }
}
