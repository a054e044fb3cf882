#!/usr/bin/env python3
"""A control-node stand-in for the lab: answers GET /api/v2/ping/ like AWX
(JSON, X-API-Node header) on the traffic port, and reports how many
requests it served on a separate admin port (GET /count), so tests can
compare xlb's counters with the server's own."""
import argparse
import json
import socket
import ssl
import threading
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
