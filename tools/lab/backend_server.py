#!/usr/bin/env python3
"""A control-node stand-in for the lab: answers GET /api/v2/ping/ like AWX
(JSON, X-API-Node header) on the traffic port, and reports how many
requests it served on a separate admin port (GET /count), so tests can
compare xlb's counters with the server's own."""
import argparse
import base64
import hashlib
import json
import struct
import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

lock = threading.Lock()
served = {"requests": 0, "connections": 0}


class Dual(ThreadingHTTPServer):
    address_family = socket.AF_INET6
    daemon_threads = True
    allow_reuse_address = True

    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()


def make_handler(node, counting):
    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self):
            super().setup()
            if counting:
                with lock:
                    served["connections"] += 1

        def log_message(self, *args):
            pass

        def do_GET(self):
            if self.path.startswith("/websocket/") and counting:
                return self.websocket()
            if self.path.startswith("/echo") and counting:
                return self.echo()
            if self.path.startswith("/until-close") and counting:
                return self.until_close()
            if self.path.startswith("/chunked") and counting:
                return self.chunked()
            if self.path.startswith("/slow") and counting:
                time.sleep(float(self.path.split("ms=", 1)[1]) / 1000 if "ms=" in self.path else 1.0)
            if counting:
                with lock:
                    served["requests"] += 1
                body = json.dumps({"ha": True, "version": "xlb-lab", "instances": [node],
                                   "active_node": node}).encode()
            else:
                with lock:
                    body = json.dumps(dict(served, node=node)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("X-API-Node", node)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            return self.echo()

        def echo(self):
            """The request as the backend saw it: headers, body length."""
            with lock:
                served["requests"] += 1
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n) if n else b""
            out = json.dumps({"node": node, "method": self.command, "path": self.path,
                              "headers": {k.lower(): v for k, v in self.headers.items()},
                              "body_bytes": len(body)}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("X-API-Node", node)
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def chunked(self):
            """A chunked response with a trailer field."""
            with lock:
                served["requests"] += 1
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("X-API-Node", node)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.write(b"5\r\nhello\r\n6\r\n world\r\n0\r\nX-Sum: 11\r\n\r\n")

        def until_close(self):
            """A response framed by the connection's close (no length, no chunks)."""
            with lock:
                served["requests"] += 1
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("X-API-Node", node)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b"framed by the close\n" * 100)
            self.close_connection = True

        def websocket(self):
            """A websocket echo (RFC 6455, unfragmented frames): what the AWX UI keeps open."""
            key = self.headers.get("Sec-WebSocket-Key", "")
            accept = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest())
            self.send_response(101)
            self.send_header("Upgrade", "websocket")
            self.send_header("Connection", "Upgrade")
            self.send_header("Sec-WebSocket-Accept", accept.decode())
            self.send_header("X-API-Node", node)
            self.end_headers()
            self.wfile.flush()
            while True:
                head = self.rfile.read(2)
                if len(head) < 2:
                    return
                opcode, n = head[0] & 0x0f, head[1] & 0x7f
                if n == 126:
                    n = struct.unpack(">H", self.rfile.read(2))[0]
                elif n == 127:
                    n = struct.unpack(">Q", self.rfile.read(8))[0]
                mask = self.rfile.read(4) if head[1] & 0x80 else b"\0\0\0\0"
                data = bytes(b ^ mask[i % 4] for i, b in enumerate(self.rfile.read(n)))
                if opcode == 8:
                    return
                reply = (node + ":").encode() + data
                self.wfile.write(bytes([0x80 | opcode]) + (bytes([len(reply)]) if len(reply) < 126 else
                                 bytes([126]) + struct.pack(">H", len(reply))) + reply)
                self.wfile.flush()

    return H


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--node", required=True)
    ap.add_argument("--port", type=int, default=80)
    ap.add_argument("--admin-port", type=int, default=8081)
    ap.add_argument("--tls-port", type=int, default=0, help="also serve HTTPS here (needs --cert, --key)")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    a = ap.parse_args()
    admin = Dual(("::", a.admin_port), make_handler(a.node, False))
    threading.Thread(target=admin.serve_forever, daemon=True).start()
    if a.tls_port:
        tls = Dual(("::", a.tls_port), make_handler(a.node, True))
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.cert, a.key)
        tls.socket = ctx.wrap_socket(tls.socket, server_side=True)
        threading.Thread(target=tls.serve_forever, daemon=True).start()
    Dual(("::", a.port), make_handler(a.node, True)).serve_forever()


if __name__ == "__main__":
    main()
