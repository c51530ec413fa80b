#!/usr/bin/env python3
"""A forward HTTP proxy that passes responses at a fixed bandwidth, shared by
all connections like one network link. For benchmarks only: it lets
scripts/bench-build.sh compare bulwark's cold build with a plain download of
the same bytes on a link slower than the machine's local mirror.

Usage: throttle-proxy.py MBIT_PER_S PORT_FILE
Listens on 127.0.0.1 (an ephemeral port, written to PORT_FILE) and serves
GET requests with absolute http:// URLs, and CONNECT tunnels for https.
"""
import http.client
import socket
import socketserver
import sys
import threading
import time
import urllib.parse

CHUNK = 16 * 1024


class Link:
    """A token bucket: callers block until their bytes fit the bandwidth."""

    def __init__(self, bytes_per_s):
        self.rate = bytes_per_s
        self.lock = threading.Lock()
        self.next_free = time.monotonic()

    def take(self, n):
        with self.lock:
            now = time.monotonic()
            start = max(now, self.next_free)
            self.next_free = start + n / self.rate
            wait = self.next_free - now
        if wait > 0:
            time.sleep(wait)


class Handler(socketserver.StreamRequestHandler):
    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def handle(self):
        upstreams = {}
        while True:
            line = self.rfile.readline()
            if not line:
                return
            try:
                method, target, _ = line.decode("latin-1").split(" ", 2)
            except ValueError:
                return
            headers = []
            while True:
                h = self.rfile.readline()
                if h in (b"\r\n", b"\n", b""):
                    break
                headers.append(h.decode("latin-1").rstrip("\r\n"))
            if method == "CONNECT":
                self.tunnel(target)
                return
            if not self.forward(method, target, headers, upstreams):
                return

    def forward(self, method, target, headers, upstreams):
        u = urllib.parse.urlsplit(target)
        if u.scheme != "http":
            self.wfile.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            return False
        conn = upstreams.get(u.netloc)
        if conn is None:
            conn = upstreams[u.netloc] = http.client.HTTPConnection(u.netloc, timeout=60)
            conn.connect()
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        path = u.path + ("?" + u.query if u.query else "")
        keep = {"accept", "range", "if-modified-since", "if-none-match", "user-agent"}
        fwd = {k: v for k, v in (h.split(":", 1) for h in headers if ":" in h)
               if k.strip().lower() in keep}
        try:
            conn.request(method, path, headers={k.strip(): v.strip() for k, v in fwd.items()})
            resp = conn.getresponse()
        except (OSError, http.client.HTTPException):
            upstreams.pop(u.netloc, None)
            self.wfile.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            return False
        body_len = resp.getheader("Content-Length")
        out = [f"HTTP/1.1 {resp.status} {resp.reason}"]
        for k in ("Content-Type", "Content-Length", "Last-Modified", "ETag"):
            v = resp.getheader(k)
            if v:
                out.append(f"{k}: {v}")
        chunked = body_len is None and method != "HEAD"
        if chunked:
            out.append("Connection: close")
        self.wfile.write(("\r\n".join(out) + "\r\n\r\n").encode("latin-1"))
        while method != "HEAD":
            data = resp.read(CHUNK)
            if not data:
                break
            LINK.take(len(data))
            self.wfile.write(data)
        self.wfile.flush()
        return not chunked

    def tunnel(self, target):
        host, _, port = target.rpartition(":")
        try:
            up = socket.create_connection((host, int(port)), timeout=60)
        except OSError:
            self.wfile.write(b"HTTP/1.1 502 Bad Gateway\r\n\r\n")
            return
        self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        self.wfile.flush()

        def upstream():
            try:
                while data := self.connection.recv(CHUNK):
                    up.sendall(data)
            except OSError:
                pass
            finally:
                up.close()

        threading.Thread(target=upstream, daemon=True).start()
        try:
            while data := up.recv(CHUNK):
                LINK.take(len(data))
                self.connection.sendall(data)
        except OSError:
            pass


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


if __name__ == "__main__":
    LINK = Link(float(sys.argv[1]) * 1e6 / 8)
    with Server(("127.0.0.1", 0), Handler) as srv:
        with open(sys.argv[2], "w") as f:
            f.write(str(srv.server_address[1]))
        srv.serve_forever()
