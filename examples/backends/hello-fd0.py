#!/usr/bin/env python3
"""A tiny HTTP backend for bin-path examples.

wick (like lighttpd) creates the listening socket and hands it over as
fd 0; this program only accepts on it. It answers every request with a
line naming the request, its own pid and the socket it serves, so the
spreading of requests over children is easy to watch.
"""
import http.server
import os
import socket
import socketserver


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        body = ("%s %s served by pid %d on %s\n" % (
            self.command, self.path, os.getpid(), self.server.where)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_HEAD = do_GET

    def address_string(self):
        # unix-socket peers have no address
        return str(self.client_address[0]) if self.client_address else "-"

    def log_message(self, fmt, *args):
        pass


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def main():
    listener = socket.socket(fileno=0)
    srv = Server(listener.getsockname(), Handler, bind_and_activate=False)
    srv.socket = listener
    name = listener.getsockname()
    srv.where = name if isinstance(name, str) else "%s:%d" % name[:2]
    srv.serve_forever()


if __name__ == "__main__":
    main()
