#!/usr/bin/env python3
"""A forward HTTP proxy for the end-to-end tests: what HTTP_PROXY/HTTPS_PROXY point at.

    forward_proxy.py LOG [--refuse STATUS] [--auth USER:PASS] [--watch-stdin]

Listens on 127.0.0.1 (a port the OS chooses), prints `PORT <n>` as its first line of stdout, and
appends one line per request it receives to the file LOG, before it answers:

    CONNECT 127.0.0.1:4567
    POST http://127.0.0.1:4568/

(the method and the request target as the client sent them). It serves:

  - absolute-form requests (`POST http://host:port/path`): sent on to host:port in origin form
    (`POST /path`), headers unchanged but for the hop-by-hop ones and Proxy-Authorization, and
    the answer relayed back on the client's keep-alive connection;
  - CONNECT host:port: a TCP tunnel, after `200 Connection established`.

`--refuse 403` (or 407, or any status) answers every request with that status and forwards
nothing; 407 comes with `Proxy-Authenticate: Basic realm="forward_proxy"`. `--auth USER:PASS`
answers 407 to a request without that Basic Proxy-Authorization. A request in origin form (the
client did not know it talks to a proxy) gets 400.

Python 3 stdlib only.
"""

import argparse
import base64
import http.client
import http.server
import os
import socket
import sys
import threading
import urllib.parse

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import relay  # noqa: E402

HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authorization",
    "proxy-authenticate",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
}

LOG_LOCK = threading.Lock()


def make_handler(log_path, refuse, auth):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):  # quiet: the log file is the record
            pass

        def record(self):
            with LOG_LOCK, open(log_path, "a", encoding="utf-8") as f:
                f.write(f"{self.command} {self.path}\n")

        def reply(self, status, extra=()):
            body = f"forward_proxy: {status}\n".encode()
            self.send_response(status)
            for k, v in extra:
                self.send_header(k, v)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def body(self):
            n = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(n) if n else b""

        def refused(self):
            """Answers the request itself if the proxy refuses it; True then."""
            if refuse is not None:
                self.body()
                extra = [("Proxy-Authenticate", 'Basic realm="forward_proxy"')] if refuse == 407 else []
                if self.command == "CONNECT":
                    self.close_connection = True
                self.reply(refuse, extra)
                return True
            if auth is not None and self.headers.get("Proxy-Authorization") != auth:
                self.body()
                if self.command == "CONNECT":
                    self.close_connection = True
                self.reply(407, [("Proxy-Authenticate", 'Basic realm="forward_proxy"')])
                return True
            return False

        def do_CONNECT(self):
            self.record()
            if self.refused():
                return
            host, _, port = self.path.rpartition(":")
            try:
                upstream = socket.create_connection((host.strip("[]"), int(port)), timeout=30)
                upstream.settimeout(None)
            except (OSError, ValueError):
                self.close_connection = True
                self.reply(502)
                return
            self.send_response(200, "Connection established")
            self.end_headers()
            self.wfile.flush()
            self.close_connection = True
            t = threading.Thread(target=relay.pump, args=(upstream, self.connection), daemon=True)
            t.start()
            relay.pump(self.connection, upstream)
            t.join()
            upstream.close()

        def forward(self):
            self.record()
            if self.refused():
                return
            url = urllib.parse.urlsplit(self.path)
            if url.scheme != "http" or not url.hostname:
                self.body()
                self.reply(400)
                return
            data = self.body()
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            target = urllib.parse.urlunsplit(("", "", url.path or "/", url.query, ""))
            try:
                up = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=60)
                up.putrequest(self.command, target, skip_host=True, skip_accept_encoding=True)
                for k, v in headers.items():
                    up.putheader(k, v)
                up.putheader("Connection", "close")
                up.endheaders(data)
                res = up.getresponse()
                answer = res.read()
            except OSError:
                self.reply(502)
                return
            self.send_response(res.status, res.reason)
            for k, v in res.getheaders():
                if k.lower() not in HOP_BY_HOP and k.lower() != "content-length":
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(answer)
            up.close()

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = forward

    return Handler


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("log")
    p.add_argument("--refuse", type=int, metavar="STATUS")
    p.add_argument("--auth", metavar="USER:PASS")
    p.add_argument("--watch-stdin", action="store_true")
    a = p.parse_args(argv)
    if a.watch_stdin:
        relay.exit_with_parent()
    auth = None
    if a.auth is not None:
        auth = "Basic " + base64.b64encode(a.auth.encode()).decode()
    open(a.log, "a").close()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), make_handler(a.log, a.refuse, auth))
    server.daemon_threads = True
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
