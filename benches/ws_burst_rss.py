"""Memory of quiet WebSocket tunnels after a burst.

    python3 benches/ws_burst_rss.py WICK_BINARY [N]

N tunnels (default 500) each receive a 200 KiB burst from the backend (a
noVNC framebuffer update, say), then stay quiet; prints the growth of wick's
RSS per tunnel once they are all idle. Loopback, ephemeral ports; wick is
started and stopped by the script.
"""
import asyncio, os, shutil, socket, subprocess, sys, tempfile
BIN = sys.argv[1]
N = int(sys.argv[2]) if len(sys.argv) > 2 else 500
BURST = 200 * 1024

async def backend(reader, writer):
    writer.write(b"v" * BURST); await writer.drain()
    try:
        await reader.read()  # hold until EOF
    except (asyncio.CancelledError, ConnectionError):
        pass

def rss(pid):
    for l in open(f"/proc/{pid}/status"):
        if l.startswith("VmRSS"): return int(l.split()[1])

async def client(port):
    r, w = await asyncio.open_connection("127.0.0.1", port)
    w.write(b"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    await r.readuntil(b"\r\n\r\n")
    got = 0
    while got < BURST:
        h = await r.readexactly(2); n = h[1] & 127
        if n == 126: n = int.from_bytes(await r.readexactly(2), "big")
        elif n == 127: n = int.from_bytes(await r.readexactly(8), "big")
        await r.readexactly(n); got += n
    return r, w

async def main():
    srv = await asyncio.start_server(backend, "127.0.0.1", 0)
    bport = srv.sockets[0].getsockname()[1]
    s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
    tmp = tempfile.mkdtemp()
    conf = os.path.join(tmp, "burst.conf")
    open(conf, "w").write(f'server.document-root = "{tmp}"\nserver.bind = "127.0.0.1"\nserver.port = {port}\n'
        f'server.modules += ( "mod_wstunnel" )\nserver.max-fds = 20000\nserver.max-connections = 10000\n'
        f'wstunnel.server = ( "/ws" => ( ( "host" => "127.0.0.1", "port" => {bport} ) ) )\nwstunnel.frame-type = "binary"\n')
    p = subprocess.Popen([BIN, "-D", "-f", conf], stderr=subprocess.DEVNULL)
    await asyncio.sleep(0.5)
    base = rss(p.pid)
    conns = []
    for i in range(0, N, 50):
        conns += await asyncio.gather(*[client(port) for _ in range(min(50, N - i))])
    await asyncio.sleep(1.0)
    after = rss(p.pid)
    print(f"{os.path.basename(BIN)}: {N} tunnels after a {BURST//1024} KiB burst each: +{(after-base)/N:.1f} KiB RSS per tunnel")
    p.terminate(); p.wait()
    for _, w in conns:
        w.close()
    srv.close()
    shutil.rmtree(tmp)
asyncio.run(main())
