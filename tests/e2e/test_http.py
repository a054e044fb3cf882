#!/usr/bin/env python3
"""End-to-end for HTTP VIPs (xlbd's L7 proxy): real clients (curl, openssl
s_client, raw sockets, a websocket client) through xlbd to real backend
servers in the namespace lab; an l4 VIP on the same address alongside.
Every lab is uniquely named and removed on exit, failures included."""
import base64
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tools", "lab"))
import xlblab  # noqa: E402

BUILD = os.environ.get("XLB_BUILD", os.path.join(ROOT, "build"))
VIP = xlblab.VIP4

# Runs in the client's namespace: requests over raw sockets, printing JSON.
RAW_CLIENT = r"""
import json, socket, sys
host, port, payload = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode().decode("unicode_escape").encode("latin-1")
s = socket.create_connection((host, port), timeout=5)
s.sendall(payload)
data = b""
try:
    while True:
        b = s.recv(65536)
        if not b:
            break
        data += b
except socket.timeout:
    pass
print(json.dumps({"response": data.decode("latin-1")}))
"""

# A keep-alive client: N requests on one connection, the X-API-Node of each.
KEEPALIVE_CLIENT = r"""
import http.client, json, sys
c = http.client.HTTPConnection(sys.argv[1], int(sys.argv[2]), timeout=5)
nodes = []
for i in range(int(sys.argv[3])):
    c.request("GET", sys.argv[4], headers={"X-Forwarded-For": "6.6.6.6", "Connection": "keep-alive, X-Hop",
                                           "X-Hop": "secret", "Keep-Alive": "timeout=5", "TE": "trailers",
                                           "Proxy-Authorization": "Basic eDp4", "Upgrade": "h2c"})
    r = c.getresponse(); body = r.read()
    nodes.append([r.status, r.getheader("X-API-Node"), r.getheader("Set-Cookie"), body.decode()])
print(json.dumps(nodes))
"""

WS_CLIENT = r"""
import base64, json, os, socket, struct, sys, time
host, port, idle = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
s = socket.create_connection((host, port), timeout=idle + 10)
key = base64.b64encode(os.urandom(16)).decode()
s.sendall(("GET /websocket/ HTTP/1.1\r\nHost: %s\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
           "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: %s\r\n\r\n" % (host, key)).encode())
head = b""
while b"\r\n\r\n" not in head:
    head += s.recv(1)
def frame(text):
    data = text.encode(); mask = os.urandom(4)
    return bytes([0x81, 0x80 | len(data)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data))
def read():
    h = s.recv(2); n = h[1] & 0x7f
    data = b""
    while len(data) < n:
        data += s.recv(n - len(data))
    return data.decode()
s.sendall(frame("one")); first = read()
sys.stdout.write(json.dumps({"status": head.split(b" ")[1].decode(), "first": first}) + "\n"); sys.stdout.flush()
sys.stdin.readline()   # the test says when to go on (after an idle time, a reload)
s.sendall(frame("two")); second = read()
print(json.dumps({"second": second}))
"""

# Closes each connection as soon as its response is complete, like wrk; TLS
# connections are read to the end first and must end with close_notify
# (an EOF without it raises). Prints the TLS connections' endings.
CLOSING_CLIENT = r"""
import json, socket, ssl, sys
host, port, n, tls = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "tls"
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
ends = []
for i in range(n):
    s = socket.create_connection((host, port), timeout=5)
    if tls:
        s = ctx.wrap_socket(s, server_hostname="a.lab.test", suppress_ragged_eofs=False)
    s.sendall(b"GET /api/v2/ping/ HTTP/1.1\r\nHost: a.lab.test\r\nConnection: close\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < int(
            data.lower().split(b"content-length:", 1)[1].split(b"\r\n", 1)[0]):
        data += s.recv(65536)
    assert data.startswith(b"HTTP/1.1 200"), data
    if tls:
        try:
            ends.append("close_notify" if s.recv(65536) == b"" else "more data")
        except ssl.SSLError as e:
            ends.append(str(e))
    s.close()
print(json.dumps(ends))
"""

# A response the backend frames by closing, read to its end over TLS: it
# must end with close_notify (else the read raises).
UNTIL_CLOSE_CLIENT = r"""
import json, socket, ssl, sys
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = ctx.wrap_socket(socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5),
                    server_hostname="a.lab.test", suppress_ragged_eofs=False)
s.sendall(b"GET /until-close HTTP/1.1\r\nHost: a.lab.test\r\n\r\n")
data, end = b"", "close_notify"
try:
    while True:
        b = s.recv(65536)
        if not b:
            break
        data += b
except ssl.SSLError as e:
    end = str(e)
head, _, body = data.partition(b"\r\n\r\n")
print(json.dumps({"end": end, "head": head.decode(), "body": len(body)}))
"""

# Three idle connections, then a fourth that asks and waits a second; after
# the test says go, one idle connection closes and the fourth reads its
# answer.
CAPPED_CLIENT = r"""
import json, socket, sys, time
host, port = sys.argv[1], int(sys.argv[2])
idle = [socket.create_connection((host, port), timeout=5) for _ in range(3)]
time.sleep(0.3)
s = socket.create_connection((host, port), timeout=5)
s.sendall(b"GET /api/v2/ping/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
s.settimeout(1.0)
try:
    early = s.recv(100)
except socket.timeout:
    early = b""
print(json.dumps({"early": early.decode()}), flush=True)
sys.stdin.readline()
idle[0].close()
s.settimeout(10)
data = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    data += b
print(json.dumps({"late": data.decode()[:20]}))
"""


# A keep-alive connection left idle after one answer, and a second one with
# a slow request in progress; the test stops xlbd meanwhile. Prints how
# each ended.
STOP_CLIENT = r"""
import json, socket, sys, time
host, port = sys.argv[1], int(sys.argv[2])
def answer(s):
    data = b""
    while b"\r\n\r\n" not in data:
        data += s.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    n = int(head.lower().split(b"content-length:", 1)[1].split(b"\r\n", 1)[0])
    while len(body) < n:
        body += s.recv(65536)
    return head.decode()
a = socket.create_connection((host, port), timeout=10)
a.sendall(b"GET /api/v2/ping/ HTTP/1.1\r\nHost: x\r\n\r\n")
answer(a)
b = socket.create_connection((host, port), timeout=10)
b.sendall(b"GET /slow?ms=1500 HTTP/1.1\r\nHost: x\r\n\r\n")
time.sleep(0.3)
print("ready", flush=True)
t0 = time.monotonic()
a_end = a.recv(100)
a_secs = time.monotonic() - t0
head = answer(b)
print(json.dumps({"a_end": a_end.decode(), "a_secs": a_secs, "b_head": head, "b_then": b.recv(100).decode()}))
"""


class HttpCase(unittest.TestCase):
    def setUp(self):
        if os.geteuid() != 0:
            self.skipTest("needs root (namespaces, XDP)")
        self.lab = xlblab.Lab(BUILD)
        self.addCleanup(self.lab.down)
        self.lab.up()
        self.lab.own_vip()
        self.lab.start_backends()

    def start(self, http, l4=True, top=""):
        """xlbd with an l4 VIP on :80 (unless l4 is False) and the given HTTP
        VIP YAML; top: more top-level keys."""
        lab = self.lab
        cfg = lab.xlbd_config(extra=http) if l4 else lab.xlbd_config(extra=http, backends=[])
        if top:
            with open(cfg, "a") as f:
                f.write(top)
        lab.start_xlbd(cfg)
        stop = time.monotonic() + 15
        while time.monotonic() < stop:
            h = json.loads(lab.xlbctl("health", "--json").stdout)
            if all(b["state"] == "up" for v in h for b in v["backends"]):
                return cfg
            time.sleep(0.05)
        raise RuntimeError("backends not up:\n" + lab.xlbd_log())

    def client(self, script, *args, input=None, timeout=60):
        r = subprocess.run(self.lab.nsenter("client") + [sys.executable, "-c", script] + [str(a) for a in args],
                           capture_output=True, text=True, timeout=timeout, input=input)
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)

    def raw(self, port, payload):
        return self.client(RAW_CLIENT, VIP, port, payload)["response"]

    def metric(self, text, name):
        for line in text.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[-1])
        return None

    def test_http_vip_balances_keeps_alive_and_forwards_who_asked(self):
        lab = self.lab
        self.start(lab.http_vip(8080))
        # Round-robin per request on one keep-alive connection.
        got = self.client(KEEPALIVE_CLIENT, VIP, 8080, 9, "/echo")
        self.assertEqual([g[0] for g in got], [200] * 9)
        self.assertEqual(sorted(g[1] for g in got), ["b1"] * 3 + ["b2"] * 3 + ["b3"] * 3)
        echo = json.loads(got[0][3])
        h = echo["headers"]
        # An untrusted client's X-Forwarded-For is replaced, not appended to.
        self.assertEqual(h["x-forwarded-for"], lab.addr4("client"))
        self.assertEqual((h["x-forwarded-proto"], h["x-forwarded-port"]), ("http", "8080"))
        self.assertEqual(h["x-forwarded-host"], "%s:8080" % VIP)
        # Hop-by-hop headers stay on the client's hop (what Connection named too).
        for hop in ("x-hop", "keep-alive", "te", "proxy-authorization", "upgrade", "connection"):
            self.assertNotIn(hop, h)
        # Many new connections: spread, none failed; the l4 VIP on the same address still works.
        res = lab.requests(VIP, 90, port=8080)
        self.assertEqual(res["failures"], 0, res["errors"])
        # Each worker thread keeps its own round-robin: even within a few.
        self.assertEqual(set(res["nodes"]), {"b1", "b2", "b3"})
        self.assertTrue(all(25 <= n <= 35 for n in res["nodes"].values()), res["nodes"])
        res4 = lab.requests(VIP, 30, port=80)
        self.assertEqual(res4["failures"], 0, res4["errors"])
        stats = lab.stats()
        self.assertGreater(stats["reasons"]["pass_l7"]["packets"], 0)
        self.assertGreater(stats["reasons"]["tx_flow_new"]["packets"], 0)
        metrics = lab.sh("lb", "curl", "-sS", "http://127.0.0.1:9120/metrics").stdout
        self.assertEqual(self.metric(metrics, 'xlb_http_responses_total{vip="%s:8080",class="2xx"}' % VIP), 99)
        # A body streamed through.
        out = lab.sh("client", "curl", "-sS", "--max-time", "5", "--data-binary", "@-",
                     "http://%s:8080/echo" % VIP, input="y" * 200000).stdout
        self.assertEqual(json.loads(out)["body_bytes"], 200000)
        # One access-log line per request.
        self.assertIn('"GET /echo HTTP/1.1" 200', lab.xlbd_log())

    def test_ambiguous_requests_are_refused_and_never_reach_a_backend(self):
        self.start(self.lab.http_vip(8080), l4=False)
        cases = [
            ("GET / HTTP/1.1\\r\\nHost: a\\r\\nContent-Length: 3\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\nabc", "400"),
            ("GET / HTTP/1.1\\r\\nHost: a\\r\\nX-A: 1\\r\\n  folded\\r\\n\\r\\n", "400"),
            ("GET / HTTP/1.1\\r\\nHost: a\\r\\nHost: b\\r\\n\\r\\n", "400"),
            ("GET / HTTP/1.1\\r\\nHost: a\\r\\nTransfer-Encoding: gzip\\r\\n\\r\\n", "501"),
            ("GET / HTTP/1.1\\r\\nHost: a\\r\\nContent-Length: 1\\r\\nContent-Length: 2\\r\\n\\r\\n", "400"),
            ("GET /\\x01 HTTP/1.1\\r\\nHost: a\\r\\n\\r\\n", "400"),
            ("GET / HTTP/1.1\\r\\nHost: a\\r\\nX: \\x00\\r\\n\\r\\n", "400"),
            ("GET / HTTP/2.0\\r\\nHost: a\\r\\n\\r\\n", "400"),
            ("GET /" + "a" * 9000 + " HTTP/1.1\\r\\nHost: a\\r\\n\\r\\n", "414"),
            # A good request, then a smuggled one in a bad body: only the first is answered.
            ("POST /echo HTTP/1.1\\r\\nHost: a\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\nzz\\r\\n\\r\\n"
             "GET /admin HTTP/1.1\\r\\nHost: a\\r\\n\\r\\n", "400"),
        ]
        for payload, status in cases:
            resp = self.raw(8080, payload)
            self.assertTrue(resp.startswith("HTTP/1.1 " + status), "%r -> %r" % (payload[:60], resp[:80]))
            self.assertIn("Connection: close", resp)
        # No refused request went to a backend (the access log names none),
        # but the smuggling case's first, whose head was good and whose body
        # was refused mid-way; what was smuggled behind it was never read.
        lines = [l for l in self.lab.xlbd_log().splitlines() if " access " in l]
        self.assertEqual(len(lines), len(cases), "\n".join(lines))
        self.assertTrue(all("backend=-" in l for l in lines[:-1]), "\n".join(lines))
        self.assertIn('"POST /echo HTTP/1.1" 400', lines[-1])
        self.assertIn("term=PB", lines[-1])
        self.assertNotIn("/admin", self.lab.xlbd_log())

    def test_forwarded_chain_from_a_trusted_proxy_and_limits(self):
        lab = self.lab
        client = lab.addr4("client")
        trusting = lab.http_vip(8080, keys="    forwarded: {mode: append, trusted_proxies: [%s/32]}" % client)
        other = lab.http_vip(8082, keys="    forwarded: {mode: append, trusted_proxies: [198.18.99.0/24]}\n"
                                        "    limits: {header_count: 10, header_bytes: 1024, body: 100}")
        self.start(trusting + other, l4=False)

        def echo(port, xff):
            out = lab.sh("client", "curl", "-sS", "--max-time", "5", "-H", "X-Forwarded-For: " + xff,
                         "http://%s:%d/echo" % (VIP, port)).stdout
            return json.loads(out)["headers"]["x-forwarded-for"]
        # A trusted proxy's chain is kept and the client appended; an
        # element that is not an address voids the chain.
        self.assertEqual(echo(8080, "198.18.200.7, 198.18.200.8"), "198.18.200.7, 198.18.200.8, " + client)
        self.assertEqual(echo(8080, "198.18.200.7, evil"), client)
        # Anyone else's chain is replaced.
        self.assertEqual(echo(8082, "198.18.200.7"), client)
        # Limits: too many headers, too many header bytes, too large a body.
        many = "GET / HTTP/1.1\\r\\nHost: a\\r\\n" + "".join("X-%d: 1\\r\\n" % i for i in range(12)) + "\\r\\n"
        big = "GET / HTTP/1.1\\r\\nHost: a\\r\\nX-Big: " + "b" * 1100 + "\\r\\n\\r\\n"
        body = "POST /echo HTTP/1.1\\r\\nHost: a\\r\\nContent-Length: 200\\r\\n\\r\\n" + "y" * 200
        for payload, status in ((many, "431"), (big, "431"), (body, "413")):
            resp = self.raw(8082, payload)
            self.assertTrue(resp.startswith("HTTP/1.1 " + status), "%r -> %r" % (payload[:40], resp[:80]))
        lines = [l for l in lab.xlbd_log().splitlines() if " access " in l and ":8082/" in l and re.search(r'" 4\d\d ', l)]
        self.assertEqual(len(lines), 3, "\n".join(lines))
        self.assertTrue(all("backend=-" in l for l in lines), "\n".join(lines))  # none reached a backend

    def test_sticky_cookie_through_drain_and_disable(self):
        lab = self.lab
        self.start(lab.http_vip(8080, keys="    cookie: {name: SERVERID}"), l4=False)
        first = self.client(KEEPALIVE_CLIENT, VIP, 8080, 1, "/api/v2/ping/")[0]
        node, cookie = first[1], first[2].split(";")[0]
        self.assertTrue(cookie.startswith("SERVERID="), first)
        self.assertNotIn(lab.addr4(node), cookie, "the cookie tells the backend's address")

        def with_cookie(n=6):
            out = lab.sh("client", "sh", "-c", "for i in $(seq %d); do curl -sS --max-time 3 -o /dev/null -D - "
                         "-H 'Cookie: a=1; %s' http://%s:8080/api/v2/ping/ | grep -i x-api-node; done" % (n, cookie, VIP)).stdout
            return [line.split(":")[1].strip() for line in out.splitlines()]
        self.assertEqual(with_cookie(), [node] * 6)
        ep = "%s:8080" % VIP
        # Drained: its sticky sessions go on; new clients go elsewhere.
        lab.xlbctl("backend", "drain", ep, node)
        self.assertEqual(with_cookie(), [node] * 6)
        fresh = lab.requests(VIP, 30, port=8080)
        self.assertNotIn(node, fresh["nodes"])
        # Disabled: re-balanced, and a new cookie names the new backend.
        lab.xlbctl("backend", "disable", ep, node)
        moved = self.client(KEEPALIVE_CLIENT, VIP, 8080, 1, "/api/v2/ping/")
        out = lab.sh("client", "curl", "-sS", "-D", "-", "-o", "/dev/null", "-H", "Cookie: " + cookie,
                     "http://%s:8080/api/v2/ping/" % VIP).stdout
        self.assertNotIn("X-API-Node: %s" % node, out)
        self.assertIn("Set-Cookie: SERVERID=", out)
        self.assertNotIn(cookie, out)
        del moved

    def test_tls_sni_alpn_and_redirect(self):
        lab = self.lab
        d = tempfile.mkdtemp(prefix="xlbtls", dir=lab.run_dir)
        certs = []
        for name in ("a.lab.test", "b.lab.test"):
            cert, key = os.path.join(d, name + ".pem"), os.path.join(d, name + ".key")
            xlblab.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-days", "1", "-subj", "/CN=" + name, "-addext", "subjectAltName=DNS:" + name,
                        "-keyout", key, "-out", cert])
            certs.append("{cert_file: %s, key_file: %s}" % (cert, key))
        http = lab.http_vip(8443, keys="    tls: {certificates: [%s]}" % ", ".join(certs))
        http += lab.http_vip(8081, keys="    redirect: {scheme: https, code: 308}")
        self.start(http, l4=False)

        def s_client(*args):
            return lab.sh("client", "sh", "-c", "echo | openssl s_client -connect %s:8443 %s 2>&1" % (VIP, " ".join(args)),
                          check=False).stdout
        out = s_client("-servername", "b.lab.test", "-alpn", "h2,http/1.1")
        self.assertIn("subject=CN = b.lab.test", out)
        self.assertIn("ALPN protocol: http/1.1", out)
        self.assertIn("subject=CN = a.lab.test", s_client("-servername", "a.lab.test"))
        self.assertIn("subject=CN = a.lab.test", s_client("-noservername"))
        old = s_client("-tls1_1")
        self.assertTrue("Cipher is (NONE)" in old or "no protocols available" in old, old[-400:])
        r = lab.sh("client", "curl", "-sS", "-k", "--max-time", "5", "--resolve", "b.lab.test:8443:%s" % VIP,
                   "https://b.lab.test:8443/echo").stdout
        h = json.loads(r)["headers"]
        self.assertEqual((h["x-forwarded-proto"], h["x-forwarded-port"]), ("https", "8443"))
        # Plain HTTP VIP: everything redirected to https.
        r = lab.sh("client", "curl", "-sS", "-D", "-", "-o", "/dev/null", "--max-time", "5",
                   "-H", "Host: awx.lab.test", "http://%s:8081/api/v2/ping/?x=1" % VIP).stdout
        self.assertIn("HTTP/1.1 308", r)
        self.assertIn("Location: https://awx.lab.test/api/v2/ping/?x=1", r)

    def test_connections_end_cleanly_and_tls_sessions_resume(self):
        lab = self.lab
        d = tempfile.mkdtemp(prefix="xlbtls", dir=lab.run_dir)
        cert, key = os.path.join(d, "a.pem"), os.path.join(d, "a.key")
        xlblab.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-days", "1", "-subj", "/CN=a.lab.test", "-keyout", key, "-out", cert])
        http = lab.http_vip(8080) + lab.http_vip(8443, keys="    tls: {cert_file: %s, key_file: %s}" % (cert, key))
        http += lab.http_vip(8444, keys="    tls: {cert_file: %s, key_file: %s, resumption: false}" % (cert, key))
        self.start(http, l4=False)
        # The proxy ends a connection-close exchange: its FIN goes right
        # behind the response, so it holds the TIME_WAIT, not the client
        # (whose ports would run out at a high connection rate).
        self.client(CLOSING_CLIENT, VIP, 8080, 200, "plain")
        tw = lambda host, f: len(lab.sh(host, "ss", "-tanH", "state", "time-wait", f).stdout.splitlines())
        client_tw, lb_tw = tw("client", "dst %s:8080" % VIP), tw("lb", "src %s:8080" % VIP)
        self.assertLessEqual(client_tw, 2, "the client closed first on %d of 200 connections" % client_tw)
        self.assertGreaterEqual(lb_tw, 180)
        # A TLS connection ends with close_notify before the FIN, also when
        # the backend's response is framed by its close (no length).
        self.assertEqual(self.client(CLOSING_CLIENT, VIP, 8443, 5, "tls"), ["close_notify"] * 5)
        got = self.client(UNTIL_CLOSE_CLIENT, VIP, 8443)
        self.assertEqual(got["end"], "close_notify")
        self.assertTrue(got["head"].startswith("HTTP/1.1 200"), got["head"])
        self.assertEqual(got["body"], 2000)

        def s_client(port, *args):
            return lab.sh("client", "sh", "-c", "printf 'GET /api/v2/ping/ HTTP/1.1\\r\\nHost: a\\r\\n"
                          "Connection: close\\r\\n\\r\\n' | openssl s_client -tls1_3 -ign_eof -connect %s:%d %s 2>&1"
                          % (VIP, port, " ".join(args)), check=False).stdout
        # TLS 1.3 clients use a ticket once: a resumed connection is given a
        # fresh one, so the client's next connection resumes too.
        sess = os.path.join(d, "session.pem")
        first = s_client(8443, "-sess_out", sess)
        self.assertIn("New, TLSv1.3", first)
        second = s_client(8443, "-sess_in", sess, "-sess_out", sess + ".2")
        self.assertIn("Reused, TLSv1.3", second)
        self.assertIn("Post-Handshake New Session Ticket arrived", second)
        self.assertIn("Reused, TLSv1.3", s_client(8443, "-sess_in", sess + ".2"))
        # resumption: false: no ticket, a full handshake every time.
        none = s_client(8444, "-sess_out", sess + ".3")
        self.assertNotIn("Post-Handshake New Session Ticket arrived", none)
        self.assertIn("New, TLSv1.3", s_client(8444, "-sess_in", sess))

    def test_tls_to_backends_verified_by_name(self):
        lab = self.lab
        d = tempfile.mkdtemp(prefix="xlbtls", dir=lab.run_dir)
        cert, key = os.path.join(d, "nodes.pem"), os.path.join(d, "nodes.key")
        xlblab.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-days", "1", "-subj", "/CN=nodes.lab.test", "-addext",
                    "subjectAltName=DNS:nodes.lab.test,IP:%s,IP:%s" % (lab.addr4("b1"), lab.addr4("b2")),
                    "-keyout", key, "-out", cert])
        for b in lab.backend_names():
            lab.stop_backend(b)
        lab.start_backends(tls=(cert, key))
        for b in lab.backend_names():
            lab.wait_port(b, 443)
        check = "{type: https, path: /api/v2/ping/, verify: false, interval: 300ms, timeout: 250ms, rise: 2, fall: 2}"
        good = lab.http_vip(8080, backend_port=443, check=check,
                            keys="    backend_tls: {ca_file: %s, sni: nodes.lab.test}" % cert)
        wrong = lab.http_vip(8081, backend_port=443, check=check,
                             keys="    backend_tls: {ca_file: %s, sni: other.lab.test}" % cert)
        # No sni: the certificate must name the address connected to (b3's is not in it).
        by_ip = lab.http_vip(8082, backend_port=443, check=check, keys="    backend_tls: {ca_file: %s}" % cert)
        self.start(good + wrong + by_ip, l4=False)
        # Port 443 of the backends speaks only TLS: every answer came through it.
        got = self.client(KEEPALIVE_CLIENT, VIP, 8080, 6, "/echo")
        self.assertEqual([g[0] for g in got], [200] * 6)
        self.assertEqual(sorted(g[1] for g in got), ["b1", "b1", "b2", "b2", "b3", "b3"])
        res = lab.requests(VIP, 30, port=8080)
        self.assertEqual(res["failures"], 0, res["errors"])
        # A certificate that does not name what backend_tls.sni says is refused.
        for _ in range(2):  # every backend fails twice: fall 2 takes it down, and says why
            out = lab.sh("client", "curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10",
                         "http://%s:8081/api/v2/ping/" % VIP).stdout
            self.assertEqual(out, "503")
        self.assertIn("is down: passive: TLS: hostname mismatch", lab.xlbd_log())
        # By address: b1 and b2 serve, b3 is refused and taken down by what the workers saw.
        seen = []
        for _ in range(8):
            out = lab.sh("client", "curl", "-sS", "-w", " %{http_code}", "--max-time", "10",
                         "http://%s:8082/echo" % VIP).stdout
            seen.append(out.split()[-1])
        self.assertNotIn("503", seen)
        self.assertIn("%s:8082/tcp backend b3 is down: passive: TLS: IP address mismatch" % VIP, lab.xlbd_log())
        self.assertNotRegex(lab.xlbd_log(), ":8082/tcp backend b[12] is down")

    def test_backend_killed_under_load_loses_no_idempotent_request(self):
        lab = self.lab
        self.start(lab.http_vip(8080, check="{type: http, path: /api/v2/ping/, interval: 1s, timeout: 250ms, "
                                             "rise: 2, fall: 3}"), l4=False)
        p = subprocess.Popen(lab.client_cmd(VIP, 400, port=8080, interval=0.01, log=True),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: p.poll() is None and p.kill())
        time.sleep(1.0)
        lab.stop_backend("b2")
        out, err = p.communicate(timeout=120)
        res = json.loads(out)
        self.assertEqual(res["failures"], 0, res["errors"])
        self.assertEqual(sum(res["nodes"].values()), 400)
        # The connect failures the workers saw took b2 down before its checks could (3 s).
        self.assertIn("is down: passive:", lab.xlbd_log())
        metrics = lab.sh("lb", "curl", "-sS", "http://127.0.0.1:9120/metrics").stdout
        self.assertGreater(self.metric(metrics, 'xlb_http_retries_total{vip="%s:8080"}' % VIP), 0)

    def test_websocket_tunnel_survives_idle_and_a_reload(self):
        lab = self.lab
        cfg = self.start(lab.http_vip(8080, keys="    timeouts: {client_idle: 2s, tunnel: 1h}"), l4=False)
        p = subprocess.Popen(lab.nsenter("client") + [sys.executable, "-c", WS_CLIENT, VIP, "8080", "30"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: p.poll() is None and p.kill())
        first = json.loads(p.stdout.readline())
        self.assertEqual(first["status"], "101")
        node = first["first"].split(":")[0]
        self.assertEqual(first["first"], node + ":one")
        # Idle well past client_idle (2 s), across a reload that changes the VIP.
        time.sleep(5)
        with open(cfg) as f:
            text = f.read()
        with open(cfg, "w") as f:
            f.write(text.replace("client_idle: 2s", "client_idle: 3s"))
        lab.xlbctl("reload")
        time.sleep(25)
        p.stdin.write("\n")
        p.stdin.flush()
        out, err = p.communicate(timeout=30)
        self.assertEqual(json.loads(out)["second"], node + ":two", err)

    def test_leastconn_counts_a_tunnel_until_it_ends(self):
        lab = self.lab
        self.start(lab.http_vip(8080, keys="    balance: leastconn"), l4=False, top="proxy: {workers: 1, drain: 1s}\n")
        p = subprocess.Popen(lab.nsenter("client") + [sys.executable, "-c", WS_CLIENT, VIP, "8080", "0"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: p.poll() is None and p.kill())
        node = json.loads(p.stdout.readline())["first"].split(":")[0]
        # While the tunnel is open its backend has one connection more than the others.
        res = lab.requests(VIP, 12, port=8080)
        self.assertEqual(res["failures"], 0, res["errors"])
        self.assertNotIn(node, res["nodes"])
        self.assertEqual(len(res["nodes"]), 2, res)
        p.stdin.write("\n")
        p.stdin.flush()
        p.communicate(timeout=10)
        # Ended, it counts no more: requests one at a time reach every backend.
        time.sleep(0.3)
        res = lab.requests(VIP, 12, port=8080)
        self.assertEqual(sorted(res["nodes"]), lab.backend_names(), res)
        # Stopped with a tunnel still open after proxy.drain: it is cut, and xlbd exits cleanly.
        p = subprocess.Popen(lab.nsenter("client") + [sys.executable, "-c", WS_CLIENT, VIP, "8080", "0"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: p.poll() is None and p.kill())
        self.assertEqual(json.loads(p.stdout.readline())["status"], "101")
        lab.xlbd.send_signal(signal.SIGTERM)
        self.assertEqual(lab.xlbd.wait(timeout=30), 0, lab.xlbd_log()[-2000:])

    def test_slow_head_gets_408_while_others_are_served(self):
        lab = self.lab
        self.start(lab.http_vip(8080, keys="    timeouts: {client_header: 1s}"), l4=False)
        slow = subprocess.Popen(lab.nsenter("client") + [sys.executable, "-c", RAW_CLIENT, VIP, "8080",
                                                         "GET / HTTP/1.1\\r\\nHost: a\\r\\n"],
                                stdout=subprocess.PIPE, text=True)
        self.addCleanup(lambda: slow.poll() is None and slow.kill())
        res = lab.requests(VIP, 30, port=8080)
        self.assertEqual(res["failures"], 0)
        out, _ = slow.communicate(timeout=10)
        self.assertTrue(json.loads(out)["response"].startswith("HTTP/1.1 408"), out)
        # Too many headers: 431.
        big = "GET / HTTP/1.1\\r\\nHost: a\\r\\n" + "".join("X-%d: v\\r\\n" % i for i in range(150)) + "\\r\\n"
        self.assertTrue(self.raw(8080, big).startswith("HTTP/1.1 431"))

    def test_connection_cap_keeps_the_next_client_waiting_not_refused(self):
        lab = self.lab
        cfg = self.start(lab.http_vip(8080), l4=False, top="proxy: {workers: 1, max_connections: 3}\n")
        p = subprocess.Popen(lab.nsenter("client") + [sys.executable, "-c", CAPPED_CLIENT, VIP, "8080"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.addCleanup(lambda: p.poll() is None and p.kill())
        early = json.loads(p.stdout.readline())
        # Three idle connections hold the cap: the fourth is in the kernel's
        # backlog, connected but not served.
        self.assertEqual(early["early"], "")
        metrics = lab.sh("lb", "curl", "-sS", "http://127.0.0.1:9120/metrics").stdout
        self.assertIn("xlb_http_open_connections 3\n", metrics)
        self.assertIn("xlb_http_max_connections 3\n", metrics)
        self.assertRegex(metrics, r"xlb_http_accept_pauses_total [1-9]")
        # Checks are not starved meanwhile.
        h = json.loads(lab.xlbctl("health", "--json").stdout)
        self.assertTrue(all(b["state"] == "up" for v in h for b in v["backends"]), h)
        # One idle connection ends: the waiting one is served.
        out, _ = p.communicate("go\n", timeout=30)
        self.assertTrue(json.loads(out)["late"].startswith("HTTP/1.1 200"), out)
        # A reload changes the cap.
        with open(cfg) as f:
            text = f.read()
        with open(cfg, "w") as f:
            f.write(text.replace("max_connections: 3", "max_connections: 7"))
        lab.xlbctl("reload")
        metrics = lab.sh("lb", "curl", "-sS", "http://127.0.0.1:9120/metrics").stdout
        self.assertIn("xlb_http_max_connections 7\n", metrics)

    def test_failure_answers_old_clients_and_reloads(self):
        """504, 503, pipelining, Expect: 100-continue, HTTP/1.0 clients
        (no Host, a chunked response decoded for them), a reload that adds
        a route and keeps the operator's state of two backends sharing an
        address, and a sticky cookie whose backend went down."""
        lab = self.lab
        vip = "%s:8080" % VIP
        b1 = lab.addr4("b1")
        shared = ("  - address: \"%s:8090\"\n    mode: http\n    check: {type: http, path: /api/v2/ping/, interval: 300ms, "
                  "timeout: 250ms, rise: 2, fall: 2}\n    backends:\n      - {address: %s, port: 80, name: n1}\n"
                  "      - {address: %s, port: 8081, name: n2}\n" % (VIP, b1, b1))
        http = lab.http_vip(8080, keys="    timeouts: {response: 1s}") + shared
        http += lab.http_vip(8082, keys="    cookie: {name: SERVERID}")
        cfg = self.start(http, l4=False, top="proxy: {drain: 10s}\n")

        def code(path, port=8080, *extra):
            return lab.sh("client", "curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10", *extra,
                          "http://%s:%d%s" % (VIP, port, path)).stdout
        # The backend answers later than timeouts.response: 504.
        self.assertEqual(code("/slow?ms=1500"), "504")
        self.assertIn("term=sH", lab.xlbd_log())
        # Pipelined requests, answered in order on one connection.
        pipelined = "".join("GET /echo?%d HTTP/1.1\\r\\nHost: a\\r\\n\\r\\n" % i for i in range(3))
        resp = self.raw(8080, pipelined + "GET /echo?3 HTTP/1.1\\r\\nHost: a\\r\\nConnection: close\\r\\n\\r\\n")
        self.assertEqual(re.findall(r'"path": "([^"]+)"', resp), ["/echo?0", "/echo?1", "/echo?2", "/echo?3"])
        # Expect: 100-continue: the proxy says Continue, the body follows.
        r = lab.sh("client", "curl", "-sS", "-v", "--max-time", "5", "-H", "Expect: 100-continue", "--data-binary", "@-",
                   "http://%s/echo" % vip, input="z" * 5000)
        self.assertIn("HTTP/1.1 100 Continue", r.stderr)
        self.assertEqual(json.loads(r.stdout)["body_bytes"], 5000)
        # HTTP/1.0 without Host: the backend (spoken to in 1.1) gets one.
        resp = self.raw(8080, "GET /echo HTTP/1.0\\r\\n\\r\\n")
        self.assertEqual(json.loads(resp.split("\r\n\r\n", 1)[1])["headers"]["host"], vip)
        # ... never gets a 1xx, not even the proxy's own 100 Continue ...
        resp = self.raw(8080, "POST /echo HTTP/1.0\\r\\nExpect: 100-continue\\r\\nContent-Length: 3\\r\\n\\r\\nabc")
        self.assertTrue(resp.startswith("HTTP/1.1 200"), resp[:80])
        self.assertEqual(json.loads(resp.split("\r\n\r\n", 1)[1])["body_bytes"], 3)
        # ... and cannot read chunked: the body comes decoded, ended by the close.
        resp = self.raw(8080, "GET /chunked HTTP/1.0\\r\\n\\r\\n")
        head, _, body = resp.partition("\r\n\r\n")
        self.assertTrue(head.startswith("HTTP/1.1 200"), head)
        self.assertNotIn("transfer-encoding", head.lower())
        self.assertIn("Connection: close", head)
        self.assertEqual(body, "hello world")
        # ... while an HTTP/1.1 client gets the chunks and the trailer as they came.
        resp = self.raw(8080, "GET /chunked HTTP/1.1\\r\\nHost: a\\r\\nConnection: close\\r\\n\\r\\n")
        self.assertTrue(resp.endswith("0\r\nX-Sum: 11\r\n\r\n"), resp)
        # No usable backend: 503.
        for b in lab.backend_names():
            lab.xlbctl("backend", "disable", vip, b)
        self.assertEqual(code("/api/v2/ping/"), "503")
        for b in lab.backend_names():
            lab.xlbctl("backend", "enable", vip, b)
        # A reload: a new route on :8080, a weight on :8090, whose two
        # backends share an address. Each keeps its own operator state and
        # its own checks.
        # A backend moved to another port keeps its state: found by name
        # (n1), or, renamed too, as the only one that moved on its address (b2).
        lab.xlbctl("backend", "disable", "%s:8090" % VIP, "n1")
        lab.xlbctl("backend", "disable", vip, "b2")
        with open(cfg) as f:
            text = f.read()
        text = text.replace("    timeouts: {response: 1s}",
                            "    timeouts: {response: 1s}\n    routes: [{name: echo, path_prefix: /echo, backends: [b3]}]")
        text = text.replace("port: 8081, name: n2}", "port: 8081, name: n2, weight: 3}")
        text = text.replace("port: 80, name: n1}", "port: 8083, name: n1}")
        b2line = '{address: "%s", port: 80, name: b2}' % lab.addr4("b2")
        self.assertIn(b2line, text)
        text = text.replace(b2line, '{address: "%s", port: 8081, name: b2admin}' % lab.addr4("b2"), 1)
        with open(cfg, "w") as f:
            f.write(text)
        lab.xlbctl("reload")
        got = self.client(KEEPALIVE_CLIENT, VIP, 8080, 4, "/echo")
        self.assertEqual([g[1] for g in got], ["b3"] * 4)
        # The route's own metrics, by its name; what no route took is "default".
        metrics = lab.sh("lb", "curl", "-sS", "http://127.0.0.1:9120/metrics").stdout
        route = 'xlb_http_route_responses_total{vip="%s",route="%%s",class="2xx"}' % vip
        self.assertEqual(self.metric(metrics, route % "echo"), 4)
        self.assertGreater(self.metric(metrics, route % "default"), 0)
        self.assertEqual(self.metric(metrics, 'xlb_http_route_request_duration_seconds_count{vip="%s",route="echo"}' % vip), 4)
        self.assertIn("route=echo backend=b3", lab.xlbd_log())
        time.sleep(1.5)
        h = json.loads(lab.xlbctl("health", "--json").stdout)
        bs = {b["name"]: b for v in h if v["endpoint"] == "%s:8090" % VIP for b in v["backends"]}
        self.assertEqual((bs["n1"]["admin"], bs["n2"]["admin"]), ("disabled", "enabled"), bs)
        self.assertEqual(bs["n2"]["weight"], 3)
        moved = {b["name"]: b["admin"] for v in h if v["endpoint"] == vip for b in v["backends"]}
        self.assertEqual(moved, {"b1": "enabled", "b2admin": "disabled", "b3": "enabled"})
        for b in bs.values():
            self.assertLess(b["last_check_seconds_ago"], 1.0, bs)
        # A sticky cookie whose backend went down: re-balanced, re-cookied.
        first = self.client(KEEPALIVE_CLIENT, VIP, 8082, 1, "/api/v2/ping/")[0]
        node, cookie = first[1], first[2].split(";")[0]
        lab.stop_backend(node)
        stop = time.monotonic() + 10
        while time.monotonic() < stop:
            h = json.loads(lab.xlbctl("health", "--json").stdout)
            if any(b["name"] == node and b["state"] == "down" for v in h if v["endpoint"] == "%s:8082" % VIP
                   for b in v["backends"]):
                break
            time.sleep(0.1)
        out = lab.sh("client", "curl", "-sS", "-D", "-", "-o", "/dev/null", "--max-time", "5", "-H", "Cookie: " + cookie,
                     "http://%s:8082/api/v2/ping/" % VIP).stdout
        self.assertIn("HTTP/1.1 200", out)
        self.assertNotIn("X-API-Node: %s" % node, out)
        self.assertIn("Set-Cookie: SERVERID=", out)
        self.assertNotIn(cookie, out)
        # Stopping: an idle keep-alive connection ends at once, a request in
        # progress gets its answer (and Connection: close), and xlbd does
        # not wait out proxy.drain (10 s) for the idle one.
        p = subprocess.Popen(lab.nsenter("client") + [sys.executable, "-c", STOP_CLIENT, VIP, "8082"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: p.poll() is None and p.kill())
        self.assertEqual(p.stdout.readline().strip(), "ready")
        t0 = time.monotonic()
        lab.xlbd.send_signal(signal.SIGTERM)
        lab.xlbd.wait(timeout=30)
        took = time.monotonic() - t0
        out, err = p.communicate(timeout=30)
        got = json.loads(out)
        self.assertEqual(got["a_end"], "")
        self.assertLess(got["a_secs"], 1.0, got)
        self.assertTrue(got["b_head"].startswith("HTTP/1.1 200"), got)
        self.assertIn("Connection: close", got["b_head"])
        self.assertEqual(got["b_then"], "")
        self.assertLess(took, 5.0, "xlbd took %.1f s to stop" % took)


if __name__ == "__main__":
    unittest.main(verbosity=2)
