"""Memory of idle HTTP/1.1 keep-alive connections.

    python3 benches/idle_keepalive_rss.py WICK_BINARY [N] [static|proxy|tls]

N clients (default 2000) each open a connection, send one GET for a
100-byte file, read the answer and keep the connection open. Once all are
idle, prints the growth of each server's RSS per connection: wick and, when
installed, lighttpd, on the same configuration. `static` (the default)
serves the file; `proxy` takes it through mod_proxy from a small origin
(the backend connections wick keeps are counted too); `tls` serves it over
TLS (a self-signed certificate made with openssl; lighttpd with
mod_openssl). Loopback, ephemeral ports; the servers are started and
stopped by the script.
"""
import functools, http.server, os, resource, shutil, socket, ssl, subprocess, sys, tempfile, threading, time

BIN = sys.argv[1]
N = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
MODE = sys.argv[3] if len(sys.argv) > 3 else "static"
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4 * N + 1024)), hard))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def rss(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1])
    return 0


def wait_up(port, deadline=10.0):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on {port}")


def connect(port):
    s = socket.create_connection(("127.0.0.1", port))
    if MODE != "tls":
        return s
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx.wrap_socket(s, server_hostname="localhost")


def get(sock):
    sock.sendall(b"GET /100b.bin HTTP/1.1\r\nHost: a\r\n\r\n")
    got = b""
    while b"\r\n\r\n" not in got or len(got.split(b"\r\n\r\n", 1)[1]) < 100:
        chunk = sock.recv(4096)
        if not chunk:
            raise SystemExit("connection closed before the answer")
        got += chunk
    if not got.startswith(b"HTTP/1.1 200"):
        raise SystemExit(f"unexpected answer: {got[:40]!r}")


def measure(name, argv, port):
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_up(port)
        warm = connect(port)
        get(warm)
        warm.close()
        time.sleep(0.3)
        base = rss(p.pid)
        conns = []
        for _ in range(N):
            s = connect(port)
            get(s)
            conns.append(s)
        time.sleep(1.0)
        after = rss(p.pid)
        print(f"{name}: {N} idle keep-alive connections ({MODE}): "
              f"+{(after - base) / N:.1f} KiB RSS per connection")
        for s in conns:
            s.close()
    finally:
        p.terminate()
        p.wait()


def main():
    tmp = tempfile.mkdtemp()
    try:
        with open(os.path.join(tmp, "100b.bin"), "wb") as f:
            f.write(os.urandom(100))
        origin = None
        extra = ""
        if MODE == "proxy":

            class Quiet(http.server.SimpleHTTPRequestHandler):
                protocol_version = "HTTP/1.1"

                def log_message(self, *a):
                    pass

            origin = http.server.ThreadingHTTPServer(
                ("127.0.0.1", 0), functools.partial(Quiet, directory=tmp))
            threading.Thread(target=origin.serve_forever, daemon=True).start()
            extra = (f'server.modules += ( "mod_proxy" )\n'
                     f'proxy.server = ( "" => ( ( "host" => "127.0.0.1", '
                     f'"port" => {origin.server_address[1]} ) ) )\n')
        elif MODE == "tls":
            pem = os.path.join(tmp, "both.pem")
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                            "-keyout", pem + ".key", "-out", pem + ".crt", "-days", "2",
                            "-subj", "/CN=localhost"], check=True, capture_output=True)
            with open(pem, "wb") as f:
                for part in (pem + ".crt", pem + ".key"):
                    with open(part, "rb") as src:
                        f.write(src.read())
            extra = (f'server.modules += ( "mod_openssl" )\nssl.engine = "enable"\n'
                     f'ssl.pemfile = "{pem}"\n')
        elif MODE != "static":
            raise SystemExit("mode: static, proxy or tls")
        peers = [("wick", BIN)]
        if shutil.which("lighttpd"):
            peers.append(("lighttpd", shutil.which("lighttpd")))
        for name, binary in peers:
            port = free_port()
            conf = os.path.join(tmp, f"{name}.conf")
            with open(conf, "w") as f:
                f.write(f'server.document-root = "{tmp}"\nserver.bind = "127.0.0.1"\n'
                        f'server.port = {port}\nserver.max-fds = {4 * N + 1024}\n'
                        f'server.max-connections = {N + 100}\n'
                        f'server.max-keep-alive-idle = 300\n{extra}')
            measure(name, [binary, "-D", "-f", conf], port)
        if origin:
            origin.shutdown()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


main()
