use super::*;

fn no_resolve(name: &str) -> Result<IpAddr, String> {
    match name {
        "localhost" => Ok(IpAddr::from([127, 0, 0, 1])),
        _ => Err("Name or service not known".into()),
    }
}

/// Parses `<key> = <value>` text as the config language does and returns
/// the entry.
fn entry(value: &str) -> Entry {
    let text = format!("proxy.server = {value}\n");
    let env = crate::config::Environment::sandboxed();
    let cfg = crate::config::load(b"t.conf", text.into_bytes(), &env).expect("config loads");
    cfg.top()
        .entries
        .get(b"proxy.server")
        .cloned()
        .expect("proxy.server")
}

fn parse_ok(value: &str) -> Parsed {
    match parse("proxy", &entry(value), &no_resolve) {
        Ok(p) => p,
        Err(e) => panic!("refused: {e:?}"),
    }
}

fn parse_err(value: &str) -> Vec<Diagnostic> {
    match parse("proxy", &entry(value), &no_resolve) {
        Ok(p) => panic!("accepted: {:?}", p.extensions),
        Err(e) => e,
    }
}

#[test]
fn host_and_port() {
    let p = parse_ok(r#"( "/app" => ( ( "host" => "127.0.0.1", "port" => 8080 ) ) )"#);
    assert_eq!(p.extensions.len(), 1);
    let h = &p.extensions[0].hosts[0];
    assert_eq!(p.extensions[0].key, "/app");
    assert_eq!(
        h.addr,
        HostAddr::Tcp {
            ip: IpAddr::from([127, 0, 0, 1]),
            port: 8080
        }
    );
    assert!(h.bin.is_none());
    assert_eq!(
        (h.disable_time, h.connect_timeout, h.read_timeout),
        (1, 8, 0)
    );
}

#[test]
fn host_without_port_is_80_and_names_resolve() {
    let p = parse_ok(r#"( "" => ( ( "host" => "localhost" ) ) )"#);
    assert_eq!(
        p.extensions[0].hosts[0].addr,
        HostAddr::Tcp {
            ip: IpAddr::from([127, 0, 0, 1]),
            port: 80
        }
    );
    let e = parse_err(r#"( "" => ( ( "host" => "no-such-host.invalid" ) ) )"#);
    assert!(e[0].message.contains("cannot resolve"), "{e:?}");
}

#[test]
fn labels_and_ipv6() {
    let p = parse_ok(
        r#"( "" => ( "backend.example:8080" => ( "host" => "::1", "port" => 81 ), ( "host" => "[::1]" ) ) )"#,
    );
    let hosts = &p.extensions[0].hosts;
    assert_eq!(hosts[0].label, "backend.example:8080");
    assert_eq!(
        hosts[0].addr,
        HostAddr::Tcp {
            ip: "::1".parse().expect("ip"),
            port: 81
        }
    );
    assert_eq!(hosts[1].label, "");
}

#[test]
fn port_wraps_and_strings_are_numbers() {
    let p = parse_ok(
        r#"( "" => ( ( "host" => "127.0.0.1", "port" => 70000 ), ( "host" => "127.0.0.1", "port" => "8081" ) ) )"#,
    );
    assert_eq!(p.extensions[0].hosts[0].addr.port(), 4464);
    assert_eq!(p.extensions[0].hosts[1].addr.port(), 8081);
    let e = parse_err(r#"( "" => ( ( "host" => "127.0.0.1", "port" => "abc" ) ) )"#);
    assert!(
        e[0].lighttpd
            .as_deref()
            .is_some_and(|l| l.contains("expected a short: port abc")),
        "{e:?}"
    );
}

#[test]
fn unix_sockets() {
    let p = parse_ok(r#"( "" => ( ( "socket" => "/run/a.sock" ), ( "host" => "/run/b.sock" ) ) )"#);
    assert_eq!(
        p.extensions[0].hosts[0].addr,
        HostAddr::Unix("/run/a.sock".into())
    );
    assert_eq!(
        p.extensions[0].hosts[1].addr,
        HostAddr::Unix("/run/b.sock".into())
    );
    let long = format!("/{}", "s".repeat(105));
    let e = parse_err(&format!(r#"( "" => ( ( "socket" => "{long}" ) ) )"#));
    assert!(e[0].message.contains("longer than 105"), "{e:?}");
    let e = parse_err(r#"( "" => ( ( "socket" => "/a", "host" => "127.0.0.1" ) ) )"#);
    assert!(e[0].message.contains("either host/port or socket"), "{e:?}");
}

#[test]
fn refusals() {
    let e = parse_err(r#"( "" => ( ( "port" => 8080 ) ) )"#);
    assert!(
        e[0].message
            .contains("needs `host`, `socket` or `bin-path`"),
        "{e:?}"
    );
    let e = parse_err(r#"( "" => ( "host" => "127.0.0.1" ) )"#);
    assert!(
        e[0].lighttpd
            .as_deref()
            .is_some_and(|l| l.starts_with("unexpected value for gw.server")),
        "{e:?}"
    );
    let e = parse_err(r#"( "" => ( ( "host" => "127.0.0.1", "mode" => "authorizer" ) ) )"#);
    assert!(e[0].message.contains("authorizers"), "{e:?}");
}

#[test]
fn warnings_for_underscores_unknown_options_and_modes() {
    let p = parse_ok(
        r#"( "" => ( ( "host" => "127.0.0.1", "max_procs" => 2, "foo" => 1, "mode" => "bogus" ) ) )"#,
    );
    let w: Vec<&str> = p.warnings.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(w.len(), 3, "{w:?}");
    assert!(w[0].contains("max_procs"));
    assert!(w[1].contains("foo"));
    assert!(w[2].contains("bogus"));
}

#[test]
fn bin_path_options() {
    let p = parse_ok(
        r#"( "" => ( ( "bin-path" => "/usr/bin/prog  echo	extra", "port" => 9000,
              "min-procs" => 6, "max-procs" => 3, "max-load-per-proc" => 2, "idle-timeout" => 5,
              "kill-signal" => 10, "listen-backlog" => 16,
              "bin-environment" => ( "A" => "1", "B" => "2" ),
              "bin-copy-environment" => ( "PATH", "HOME" ) ) ) )"#,
    );
    let h = &p.extensions[0].hosts[0];
    assert_eq!(
        h.addr,
        HostAddr::Tcp {
            ip: IpAddr::from([127, 0, 0, 1]),
            port: 9000
        }
    );
    let b = h.bin.as_ref().expect("bin");
    assert_eq!(
        b.argv,
        ["/usr/bin/prog", "echo", "extra"].map(OsString::from)
    );
    assert_eq!((b.min_procs, b.max_procs, b.max_load_per_proc), (3, 3, 2));
    assert_eq!(
        (b.idle_timeout, b.kill_signal, b.listen_backlog),
        (5, 10, 16)
    );
    assert_eq!(
        b.env,
        vec![("A".into(), "1".into()), ("B".into(), "2".into())]
    );
    assert_eq!(b.copy_env, ["PATH", "HOME"].map(OsString::from));
    let d = parse_ok(r#"( "" => ( ( "bin-path" => "/usr/bin/prog", "socket" => "/tmp/s" ) ) )"#);
    let b = d.extensions[0].hosts[0].bin.as_ref().expect("bin");
    assert_eq!(
        (
            b.min_procs,
            b.max_procs,
            b.max_load_per_proc,
            b.idle_timeout
        ),
        (4, 4, 1, 60)
    );
    assert_eq!(b.kill_signal, libc::SIGTERM);
}

#[test]
fn x_sendfile_docroot_must_be_absolute() {
    let e = parse_err(
        r#"( "" => ( ( "host" => "127.0.0.1", "x-sendfile" => "enable", "x-sendfile-docroot" => ( "rel" ) ) ) )"#,
    );
    assert!(e[0].message.contains("absolute"), "{e:?}");
}
