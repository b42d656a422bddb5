//! Choosing a host and a proc (lighttpd: `gw_host_get`, `gw_proc_load_inc`;
//! spec backend-manager.md §9–§10). The choices are lighttpd's, bit for
//! bit, so that migrating does not reshuffle `hash` / `sticky` clients.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use bstr::ByteSlice;

use super::{Extension, Host, Proc};

/// `<module>.balance`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Balance {
    /// `least-connection` / `fair`: the usable host with the fewest
    /// requests assigned, earliest on ties.
    #[default]
    LeastConnection,
    /// `round-robin`: the next usable host after the one used last.
    RoundRobin,
    /// `hash`: by URL path and Host (the port of a host is not part of it).
    Hash,
    /// `sticky`: by client address (the port of a host is part of it).
    Sticky,
}

impl Balance {
    /// The algorithm for a configured name; `None` for an unknown one
    /// (lighttpd warns and uses least-connection).
    pub fn from_name(name: &[u8]) -> Option<Balance> {
        Some(match name {
            b"fair" | b"least-connection" => Balance::LeastConnection,
            b"round-robin" => Balance::RoundRobin,
            b"hash" => Balance::Hash,
            b"sticky" => Balance::Sticky,
            _ => return None,
        })
    }
}

/// lighttpd's djb hash: `h = h * 33 ^ byte`, from `seed` (5381 to start).
pub fn djb(bytes: &[u8], seed: u32) -> u32 {
    bytes
        .iter()
        .fold(seed, |h, &b| h.wrapping_mul(33) ^ u32::from(b))
}

/// What the balancer may look at.
#[derive(Debug, Clone, Copy)]
pub struct BalanceInput<'a> {
    /// Decoded URL path, no query.
    pub path: &'a [u8],
    /// Normalised request authority.
    pub authority: &'a [u8],
    /// The client address as text.
    pub client: &'a [u8],
}

/// Chooses a usable host of `ext`, or `None` when none is usable (503).
/// `skip` lists hosts that already failed for this request.
pub fn select_host(
    ext: &Extension,
    balance: Balance,
    input: &BalanceInput<'_>,
    skip: &[*const Host],
) -> Option<Arc<Host>> {
    let usable = |h: &Arc<Host>| h.is_usable() && !skip.contains(&Arc::as_ptr(h));
    let hosts = &ext.hosts;
    match balance {
        Balance::LeastConnection => hosts
            .iter()
            .filter(|h| usable(h))
            .min_by_key(|h| h.load.load(Ordering::Relaxed))
            .cloned(),
        Balance::RoundRobin => {
            let n = hosts.len();
            if n == 0 {
                return None;
            }
            let start = ext.rr_next.load(Ordering::Relaxed);
            for k in 0..n {
                let i = (start + k) % n;
                if usable(&hosts[i]) {
                    ext.rr_next.store(i + 1, Ordering::Relaxed);
                    return Some(hosts[i].clone());
                }
            }
            None
        }
        Balance::Hash => {
            let base = djb(input.authority, djb(input.path, 5381));
            best(hosts, |h| base ^ h.id_hash, usable)
        }
        Balance::Sticky => {
            let base = djb(input.client, 5381);
            best(
                hosts,
                |h| base ^ h.id_hash ^ u32::from(h.cfg.addr.port()),
                usable,
            )
        }
    }
}

/// The usable host with the highest score, earliest on ties.
fn best(
    hosts: &[Arc<Host>],
    score: impl Fn(&Host) -> u32,
    usable: impl Fn(&Arc<Host>) -> bool,
) -> Option<Arc<Host>> {
    let mut chosen: Option<(&Arc<Host>, u32)> = None;
    for h in hosts.iter().filter(|h| usable(h)) {
        let s = score(h);
        if chosen.is_none_or(|(_, best)| s > best) {
            chosen = Some((h, s));
        }
    }
    chosen.map(|(h, _)| h.clone())
}

/// Chooses a proc of a host: the first running proc (newest first), then
/// any later one with strictly lower load.
pub fn select_proc(host: &Host) -> Option<Arc<Proc>> {
    let procs = host.procs.lock().unwrap_or_else(|p| p.into_inner());
    let mut chosen: Option<&Arc<Proc>> = None;
    for p in procs.iter().filter(|p| p.is_active()) {
        match chosen {
            None => chosen = Some(p),
            Some(c) if p.load.load(Ordering::Relaxed) < c.load.load(Ordering::Relaxed) => {
                chosen = Some(p)
            }
            _ => {}
        }
    }
    chosen.cloned()
}

/// The client address as lighttpd hashes it for `sticky`.
pub fn client_key(text: &[u8]) -> &[u8] {
    text.trim()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::config::HostConfig;
    use crate::backend::{HostAddr, Proc, ProcAddr};

    fn host(ip: &str, port: u16) -> Arc<Host> {
        Arc::new(Host::new(HostConfig {
            label: Default::default(),
            addr: HostAddr::Tcp {
                ip: ip.parse().expect("ip"),
                port,
            },
            bin: None,
            disable_time: 1,
            connect_timeout: 8,
            read_timeout: 0,
            write_timeout: 0,
            x_sendfile: false,
            x_sendfile_docroot: Vec::new(),
            tcp_fin_propagate: false,
            span: Default::default(),
        }))
    }

    fn ext(hosts: Vec<Arc<Host>>) -> Extension {
        Extension::new("".into(), hosts)
    }

    fn pick(e: &Extension, b: Balance, path: &str, authority: &str, client: &str) -> usize {
        let input = BalanceInput {
            path: path.as_bytes(),
            authority: authority.as_bytes(),
            client: client.as_bytes(),
        };
        let h = select_host(e, b, &input, &[]).expect("a host");
        e.hosts
            .iter()
            .position(|x| Arc::ptr_eq(x, &h))
            .expect("one of them")
    }

    /// djb as lighttpd computes it.
    #[test]
    fn djb_hash() {
        assert_eq!(djb(b"", 5381), 5381);
        assert_eq!(djb(b"a", 5381), 5381u32.wrapping_mul(33) ^ 97);
    }

    /// Round-robin goes 1, 2, 3, 1, … over usable hosts.
    #[test]
    fn round_robin_order() {
        let e = ext(vec![
            host("127.0.0.1", 1),
            host("127.0.0.1", 2),
            host("127.0.0.1", 3),
        ]);
        let seq: Vec<usize> = (0..7)
            .map(|_| pick(&e, Balance::RoundRobin, "/", "h", "c"))
            .collect();
        assert_eq!(seq, [0, 1, 2, 0, 1, 2, 0]);
    }

    /// Least-connection: sequential requests all go to the first host.
    #[test]
    fn least_connection_prefers_first_idle() {
        let e = ext(vec![host("127.0.0.1", 1), host("127.0.0.1", 2)]);
        assert_eq!(pick(&e, Balance::LeastConnection, "/", "h", "c"), 0);
        e.hosts[0].load.fetch_add(1, Ordering::Relaxed);
        assert_eq!(pick(&e, Balance::LeastConnection, "/", "h", "c"), 1);
    }

    /// hash ignores the port: hosts on one IP collapse to the first.
    #[test]
    fn hash_same_ip_collapses() {
        let e = ext(vec![
            host("127.0.0.1", 1),
            host("127.0.0.1", 2),
            host("127.0.0.1", 3),
        ]);
        for p in ["/a", "/b", "/c/d", "/x.php"] {
            assert_eq!(pick(&e, Balance::Hash, p, "example.org", "c"), 0);
        }
    }

    /// sticky, calibrated against lighttpd 1.4.69 (spec §15 item 10): ports
    /// 18601–18603 on 127.0.0.1; clients .2→1, .3→1, .4→2, .5→3, .6→1.
    #[test]
    fn sticky_matches_lighttpd() {
        let e = ext(vec![
            host("127.0.0.1", 18601),
            host("127.0.0.1", 18602),
            host("127.0.0.1", 18603),
        ]);
        for (client, want) in [
            ("127.0.0.2", 0),
            ("127.0.0.3", 0),
            ("127.0.0.4", 1),
            ("127.0.0.5", 2),
            ("127.0.0.6", 0),
        ] {
            assert_eq!(
                pick(&e, Balance::Sticky, "/", "h", client),
                want,
                "{client}"
            );
        }
    }

    /// Procs: newest first when idle, lower load wins.
    #[test]
    fn proc_choice() {
        let h = host("127.0.0.1", 1);
        {
            let mut procs = h.procs.lock().expect("lock");
            procs.clear();
            for id in [2u16, 1, 0] {
                procs.push(Arc::new(Proc::new(
                    id,
                    ProcAddr::Tcp(([127, 0, 0, 1], 100 + id).into()),
                )));
            }
        }
        assert_eq!(select_proc(&h).expect("proc").id, 2);
        h.procs()[0].load.fetch_add(1, Ordering::Relaxed);
        assert_eq!(select_proc(&h).expect("proc").id, 1);
    }
}
