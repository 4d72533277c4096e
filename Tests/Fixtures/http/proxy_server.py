#!/usr/bin/env python3
"""Loopback HTTP proxy for seedgen's transport tests.

Listens on 127.0.0.1 (port 0) and prints the port on its first stdout line. CONNECT host:port
opens a tunnel (what clients do for https:// URLs); an absolute-form request (GET http://…) is
forwarded (what clients do for http:// URLs). Only loopback targets are served: anything else
gets 403. GET /_log (origin form, to the proxy itself) returns the log as JSON lines:
{"method", "target", "authorization"}. With --auth USER:PASSWORD every proxied request without
that Proxy-Authorization gets 407. With --until-stdin-closes it exits when stdin reaches its end.
"""
import base64
import http.client
import json
import os
import select
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

UNTIL_STDIN_CLOSES = "--until-stdin-closes" in sys.argv
AUTH = None
if "--auth" in sys.argv:
    AUTH = "Basic " + base64.b64encode(sys.argv[sys.argv.index("--auth") + 1].encode()).decode()
LOOPBACK = {"127.0.0.1", "::1", "localhost"}
LOG = []
LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def record(self, target):
        with LOCK:
            LOG.append({"method": self.command, "target": target, "authorization": self.headers.get("Proxy-Authorization")})

    def refuse(self, code, text):
        body = (text + "\n").encode()
        self.send_response(code)
        if code == 407:
            self.send_header("Proxy-Authenticate", 'Basic realm="test"')
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def authorized(self):
        if AUTH is None or self.headers.get("Proxy-Authorization") == AUTH:
            return True
        self.refuse(407, "proxy authentication required")
        return False

    def do_CONNECT(self):
        self.record(self.path)
        host, _, port = self.path.rpartition(":")
        host = host.strip("[]")
        if host not in LOOPBACK:
            return self.refuse(403, "loopback targets only")
        if not self.authorized():
            return
        try:
            upstream = socket.create_connection((host, int(port)))
        except OSError:
            return self.refuse(502, "cannot reach " + self.path)
        self.send_response(200, "Connection established")
        self.end_headers()
        self.wfile.flush()
        sockets = [self.connection, upstream]
        try:
            while True:
                readable, _, _ = select.select(sockets, [], [], 60)
                if not readable:
                    break
                for source in readable:
                    data = source.recv(1 << 16)
                    if not data:
                        return
                    (upstream if source is self.connection else self.connection).sendall(data)
        except OSError:
            pass
        finally:
            upstream.close()
            self.close_connection = True

    def do_GET(self):
        if self.path == "/_log":
            with LOCK:
                body = "".join(json.dumps(entry) + "\n" for entry in LOG).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.record(self.path)
        target = urlsplit(self.path)
        if target.scheme != "http" or target.hostname not in LOOPBACK:
            return self.refuse(403, "loopback http:// targets only")
        if not self.authorized():
            return
        connection = http.client.HTTPConnection(target.hostname, target.port or 80)
        headers = {name: value for name, value in self.headers.items() if name.lower() not in ("proxy-authorization", "proxy-connection")}
        path = target.path + ("?" + target.query if target.query else "")
        connection.request("GET", path or "/", headers=headers)
        response = connection.getresponse()
        self.send_response(response.status)
        for name, value in response.getheaders():
            if name.lower() not in ("connection", "transfer-encoding"):
                self.send_header(name, value)
        self.end_headers()
        while True:
            block = response.read(1 << 16)
            if not block:
                break
            self.wfile.write(block)
        connection.close()


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    if UNTIL_STDIN_CLOSES:
        def watch():
            try:
                while sys.stdin.buffer.read(65536):
                    pass
            finally:
                os._exit(0)
        threading.Thread(target=watch, daemon=True).start()
    server = Server(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
