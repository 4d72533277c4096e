#!/usr/bin/env python3
"""Loopback HTTP server for seedgen's image tests and download benchmark.

Serves ROOT on 127.0.0.1 (port 0 unless given) and prints the port on its first stdout line.
Honours Range (bytes=N- and bytes=N-M), lists directories as HTML, and injects faults chosen by a
path prefix: /_fault/<spec>/<real path>, where <spec> is one of

  resetK      the first K requests send half the body, then reset the connection (RST)
  truncateK   the first K requests send half the body, then close cleanly (short body)
  truncate    every request is cut short
  statusCxK   the first K requests answer HTTP C (e.g. status500x2, status404x99)
  stallK      the first K requests send half the body, then go silent for 300 s
  norange     Range is ignored (200 with the whole file)
  slowMS      sleep MS milliseconds after every 256 KiB
  redirect    answer 302 with Location: <real path> (same server)
  redirectloop answer 302 with Location: the same URL, forever
  toplainHTTP answer 302 with Location: http://127.0.0.1:<--plain-port>/<real path>

Files carry an ETag (from size and mtime), and a Range whose If-Range differs from it is ignored:
the whole file is sent, as a changed file must be. POST /_upload hashes the body it is sent and
answers {"length", "sha256", "content_length", "transfer_encoding", "content_type"}; chunked
bodies are refused with 501 as Proxmox does; POST /_echo answers with the body it is sent.

Counters are per full request path. GET /_log returns the request log as JSON lines.

With --tls CERT KEY it speaks HTTPS with that certificate chain and key (PEM files), and prints
a second line: the port of a plain-HTTP twin serving the same files and log.

With --until-stdin-closes the server exits when its standard input reaches end of file: the
tests hand it a pipe, so it ends with the test process even when that dies without cleaning up
(an orphaned server would otherwise keep running, and keep a CI run waiting for it).
"""
import hashlib
import json
import os
import re
import socket
import ssl
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

UNTIL_STDIN_CLOSES = "--until-stdin-closes" in sys.argv
ARGS = [argument for argument in sys.argv[1:] if argument != "--until-stdin-closes"]
TLS = None
if "--tls" in ARGS:
    at = ARGS.index("--tls")
    TLS = (ARGS[at + 1], ARGS[at + 2])
    del ARGS[at:at + 3]
PLAIN_PORT = None
if "--plain-port" in ARGS:
    at = ARGS.index("--plain-port")
    PLAIN_PORT = int(ARGS[at + 1])
    del ARGS[at:at + 2]
ROOT = os.path.abspath(ARGS[0] if len(ARGS) > 0 else ".")
PORT = int(ARGS[1]) if len(ARGS) > 1 else 0
COUNTERS = {}
LOG = []
LOCK = threading.Lock()
CHUNK = 256 * 1024


def take(key, limit):
    """True while the fault keyed `key` has fired fewer than `limit` times."""
    with LOCK:
        count = COUNTERS.get(key, 0)
        if count >= limit:
            return False
        COUNTERS[key] = count + 1
        return True


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_HEAD(self):
        self.handle_request(head=True)

    def do_GET(self):
        self.handle_request(head=False)

    def handle_request(self, head):
        raw_path = unquote(self.path.split("?", 1)[0])
        with LOCK:
            LOG.append({"path": raw_path, "range": self.headers.get("Range"), "if_range": self.headers.get("If-Range"),
                        "method": self.command, "user_agent": self.headers.get("User-Agent")})
        if raw_path == "/_log":
            with LOCK:
                body = "".join(json.dumps(entry) + "\n" for entry in LOG).encode()
            return self.send_bytes(200, body, "application/x-ndjson", head)
        spec = ""
        path = raw_path
        match = re.match(r"^/_fault/([^/]+)(/.*)$", raw_path)
        if match:
            spec, path = match.group(1), match.group(2)
        local = os.path.normpath(os.path.join(ROOT, path.lstrip("/")))
        if not (local == ROOT or local.startswith(ROOT + os.sep)):
            return self.send_bytes(403, b"forbidden\n", "text/plain", head)
        if spec == "redirect":
            return self.send_redirect(path)
        if spec == "redirectloop":
            return self.send_redirect(raw_path)
        if spec == "toplainHTTP":
            return self.send_redirect("http://127.0.0.1:%d%s" % (PLAIN_PORT or 9, path))
        status = re.match(r"^status(\d{3})x(\d+)$", spec)
        if status and take(raw_path, int(status.group(2))):
            return self.send_bytes(int(status.group(1)), b"injected\n", "text/plain", head)
        if os.path.isdir(local):
            names = sorted(os.listdir(local))
            links = "".join(
                '<a href="%s%s">%s</a>\n' % (name, "/" if os.path.isdir(os.path.join(local, name)) else "", name)
                for name in names)
            return self.send_bytes(200, ("<html><body>\n%s</body></html>\n" % links).encode(), "text/html", head)
        if not os.path.isfile(local):
            return self.send_bytes(404, b"not found\n", "text/plain", head)
        size = os.path.getsize(local)
        etag = '"%x-%x"' % (size, os.stat(local).st_mtime_ns)
        start, end = 0, size - 1
        code = 200
        requested = self.headers.get("Range")
        if_range = self.headers.get("If-Range")
        if requested and if_range is not None and if_range != etag:
            requested = None
        if requested and spec != "norange":
            m = re.match(r"^bytes=(\d+)-(\d*)$", requested.strip())
            if m:
                start = int(m.group(1))
                if m.group(2):
                    end = min(int(m.group(2)), size - 1)
                if start >= size:
                    self.send_response(416)
                    self.send_header("Content-Range", "bytes */%d" % size)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                code = 206
        length = end - start + 1
        self.send_response(code)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(length))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("ETag", etag)
        if code == 206:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, end, size))
        self.end_headers()
        if head:
            return
        cut = None
        fault = None
        for name in ("reset", "truncate", "stall"):
            m = re.match(r"^%s(\d*)$" % name, spec)
            if m and take(raw_path, int(m.group(1)) if m.group(1) else 1 << 30):
                fault = name
                cut = length // 2
        slow = re.match(r"^slow(\d+)$", spec)
        delay = int(slow.group(1)) / 1000.0 if slow else 0
        with open(local, "rb") as handle:
            limit = cut if cut is not None else length
            if delay == 0 and fault is None:
                self.wfile.flush()
                self.connection.sendfile(handle, start, limit)
            else:
                handle.seek(start)
                sent = 0
                while sent < limit:
                    block = handle.read(min(CHUNK, limit - sent))
                    if not block:
                        break
                    self.wfile.write(block)
                    sent += len(block)
                    if delay:
                        self.wfile.flush()
                        time.sleep(delay)
        self.wfile.flush()
        if fault == "reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
        elif fault == "truncate":
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
        elif fault == "stall":
            time.sleep(300)
            self.close_connection = True

    def do_POST(self):
        path = self.path.split("?", 1)[0]
        with LOCK:
            LOG.append({"path": path, "range": None, "method": "POST", "content_length": self.headers.get("Content-Length"),
                        "transfer_encoding": self.headers.get("Transfer-Encoding")})
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            return self.send_bytes(501, b"chunked transfer encoding is not supported\n", "text/plain", False)
        length = int(self.headers.get("Content-Length", "0"))
        digest = hashlib.sha256()
        received = 0
        kept = b""
        while received < length:
            block = self.rfile.read(min(1 << 20, length - received))
            if not block:
                break
            digest.update(block)
            received += len(block)
            if path == "/_echo" and len(kept) < (1 << 20):
                kept += block
        if path == "/_echo":
            return self.send_bytes(200, kept, "application/json", False)
        if path != "/_upload":
            return self.send_bytes(404, b"not found\n", "text/plain", False)
        answer = {"length": received, "sha256": digest.hexdigest(), "content_length": self.headers.get("Content-Length"),
                  "transfer_encoding": self.headers.get("Transfer-Encoding"), "content_type": self.headers.get("Content-Type")}
        return self.send_bytes(200, json.dumps(answer).encode(), "application/json", False)

    def send_redirect(self, location):
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def send_bytes(self, code, body, content_type, head):
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def exit_when_stdin_closes():
    def watch():
        try:
            while sys.stdin.buffer.read(65536):
                pass
        finally:
            os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


def main():
    if UNTIL_STDIN_CLOSES:
        exit_when_stdin_closes()
    server = Server(("127.0.0.1", PORT), Handler)
    if TLS:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(TLS[0], TLS[1])
        server.socket = context.wrap_socket(server.socket, server_side=True)
        # A plain-HTTP twin on a second port, sharing the log, so tests read it without TLS.
        plain = Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=plain.serve_forever, daemon=True).start()
        print(server.server_address[1], flush=True)
        print(plain.server_address[1], flush=True)
    else:
        print(server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
