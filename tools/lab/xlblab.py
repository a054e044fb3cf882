#!/usr/bin/env python3
"""The built-in network-namespace lab: a client, the load balancer and three
backends on one bridge, all in namespaces created here and removed on every
exit path. Addresses come from 198.18.0.0/15 and 2001:db8::/32 only.

    client ─┐
    lb ─────┤ br0 (in the "sw" namespace)
    b1..b3 ─┘

The client routes the VIPs via the load balancer; backends hold the VIPs on
lo and answer the client directly (DSR). Used by `xlblab.py demo` and by the
e2e tests."""
import argparse
import atexit
import json
import os
import secrets
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

NET4 = "198.18.0"       # client .1, lb .2, backends .11 .12 .13
NET6 = "2001:db8:0:1"   # client ::1, lb ::2, backends ::11 ...
VIP4 = "198.19.0.100"
VIP6 = "2001:db8:100::100"
ENCAP4 = "198.19.255.0/24"
ENCAP6 = "2001:db8:ff::/64"

# A client that holds one connection open over two requests (the second
# after a line on stdin): to see an open flow keep its backend.
HOLD_CLIENT = r"""
import http.client, sys
c = http.client.HTTPConnection(sys.argv[1], 80, timeout=5)
for i in range(2):
    c.request("GET", "/api/v2/ping/")
    r = c.getresponse(); r.read()
    print(r.status, r.getheader("X-API-Node"), flush=True)
    if i == 0:
        sys.stdin.readline()
"""


def run(cmd, check=True, capture=True, timeout=60, input=None):
    r = subprocess.run(cmd, capture_output=capture, text=True, timeout=timeout, input=input)
    if check and r.returncode != 0:
        raise RuntimeError("command failed (%d): %s\n%s%s" % (
            r.returncode, " ".join(cmd), r.stdout or "", r.stderr or ""))
    return r


BPFFS_TOOL_DIRS = ("tc", "xdp", "ip")  # iproute2's object loader (and libxdp's lock directory, xdp)


def remove_empty_bpffs_dirs(iproute2):
    """What `ip link set ... obj` makes on bpffs (tc, xdp, ip: directories
    with an empty `globals`, or links to one of them) and libxdp's lock
    directory (xdp), removed only while nothing is in them (another user's
    pins stay, and both tools make them again when they need them).
    Without iproute2, only libxdp's empty lock directory."""
    base = "/sys/fs/bpf"

    def empty(d):
        return os.path.isdir(d) and not any(os.scandir(d))
    for name in BPFFS_TOOL_DIRS if iproute2 else ("xdp",):
        d = os.path.join(base, name)
        if os.path.islink(d) or not os.path.isdir(d):
            continue
        if {e.name for e in os.scandir(d)} <= {"globals"} and (empty(d + "/globals") or empty(d)):
            for sub in (d + "/globals", d):
                try:
                    os.rmdir(sub)
                except OSError:
                    pass
    if iproute2:
        for name in BPFFS_TOOL_DIRS:  # links left pointing nowhere
            d = os.path.join(base, name)
            if os.path.islink(d) and not os.path.exists(d):
                os.unlink(d)


class Lab:
    def __init__(self, build_dir, backends=3, tag=None):
        self.build = os.path.abspath(build_dir)
        self.id = tag or "xlb" + secrets.token_hex(3)
        self.n = backends
        self.ns = {"sw": self.id + "-sw", "client": self.id + "-cl", "lb": self.id + "-lb"}
        for i in range(1, backends + 1):
            self.ns["b%d" % i] = "%s-b%d" % (self.id, i)
        self.pin = "/sys/fs/bpf/%s" % self.id
        self.run_dir = "/run/%s" % self.id  # xlbd's control socket, config, log
        self.procs = []
        self.up_done = False

    # ---- helpers -------------------------------------------------------
    def backend_names(self):
        return ["b%d" % i for i in range(1, self.n + 1)]

    def addr4(self, host):
        return {"client": NET4 + ".1", "lb": NET4 + ".2"}.get(host) or "%s.%d" % (NET4, 10 + int(host[1:]))

    def addr6(self, host):
        return {"client": NET6 + "::1", "lb": NET6 + "::2"}.get(host) or "%s::%d" % (NET6, 10 + int(host[1:]))

    def nsenter(self, host):
        return ["nsenter", "--net=/run/netns/" + self.ns[host]]

    def sh(self, host, *cmd, **kw):
        return run(self.nsenter(host) + list(cmd), **kw)

    def xlbctl(self, *args, host="lb", pin=None, check=True):
        return self.sh(host, os.path.join(self.build, "tools", "xlbctl"),
                       "--pin-path", pin or self.pin + "/lb", *args, check=check)

    # ---- topology ------------------------------------------------------
    def up(self):
        atexit.register(self.down)
        self.up_done = True
        for name in self.ns.values():
            run(["ip", "netns", "add", name])
            # No duplicate address detection: addresses usable at once.
            run(["nsenter", "--net=/run/netns/" + name, "sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0",
                 "net.ipv6.conf.default.accept_dad=0"])
        sw = self.ns["sw"]
        run(["ip", "-n", sw, "link", "add", "br0", "type", "bridge"])
        run(["ip", "-n", sw, "link", "set", "br0", "up"])
        run(["ip", "netns", "exec", sw, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"])
        for host in ["client", "lb"] + self.backend_names():
            port = {"client": "c0", "lb": "l0"}.get(host, host)
            run(["ip", "-n", sw, "link", "add", port, "type", "veth", "peer", "name", "eth0",
                 "netns", self.ns[host]])
            run(["ip", "-n", sw, "link", "set", port, "master", "br0", "up"])
            ns = self.ns[host]
            run(["ip", "-n", ns, "link", "set", "lo", "up"])
            run(["ip", "-n", ns, "link", "set", "eth0", "up"])
            run(["ip", "-n", ns, "addr", "add", self.addr4(host) + "/24", "dev", "eth0"])
            run(["ip", "-n", ns, "-6", "addr", "add", self.addr6(host) + "/64", "dev", "eth0", "nodad"])
        # XDP_TX on the load balancer's veth needs an XDP program on its peer.
        # iproute2 makes its bpffs directories for that (xdp/globals, or tc
        # with links): down() removes them again when they were not there
        # before and are still empty.
        self.iproute2_bpffs_was_there = any(os.path.lexists("/sys/fs/bpf/" + d) for d in BPFFS_TOOL_DIRS)
        run(["ip", "-n", sw, "link", "set", "dev", "l0", "xdpdrv", "obj",
             os.path.join(self.build, "bpf", "xlb_pass.bpf.o"), "sec", "xdp"])
        # The client's packets are rewritten by XDP: their checksums must be final.
        self.sh("client", "ethtool", "-K", "eth0", "tx", "off")
        self.sh("client", "ip", "route", "add", VIP4 + "/32", "via", self.addr4("lb"))
        self.sh("client", "ip", "-6", "route", "add", VIP6 + "/128", "via", self.addr6("lb"))
        self.sh("lb", "sysctl", "-qw", "net.ipv4.ip_forward=1")
        self.sh("lb", "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1")
        for b in self.backend_names():
            self.sh(b, "ip", "addr", "add", VIP4 + "/32", "dev", "lo")
            self.sh(b, "ip", "-6", "addr", "add", VIP6 + "/128", "dev", "lo", "nodad")
            self.sh(b, "sysctl", "-qw", "net.ipv4.conf.all.arp_ignore=1")
            self.sh(b, "sysctl", "-qw", "net.ipv4.conf.all.arp_announce=2")
        return self

    def down(self):
        if not self.up_done:
            return
        self.up_done = False
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        self.procs = []
        for name in self.ns.values():
            subprocess.run(["ip", "netns", "del", name], capture_output=True)
        # Pins live on the host's bpffs; the namespaces took their programs.
        subprocess.run(["rm", "-rf", self.pin, self.run_dir], capture_output=True)
        remove_empty_bpffs_dirs(iproute2=not getattr(self, "iproute2_bpffs_was_there", True))

    # ---- servers and xlb -------------------------------------------------
    def start_backends(self, names=None, tls=None):
        """tls: (cert, key) to also serve HTTPS on port 443."""
        for b in names or self.backend_names():
            extra = ["--tls-port", "443", "--cert", tls[0], "--key", tls[1]] if tls else []
            p = subprocess.Popen(self.nsenter(b) + [sys.executable, os.path.join(HERE, "backend_server.py"),
                                                    "--node", b] + extra, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
            p.lab_name = b
            self.procs.append(p)
            self.save_pids()
        for b in names or self.backend_names():
            self.wait_port(b, 80)

    def save_pids(self):
        """run_dir/pids: the lab's processes (pid and start time), so that
        `xlblab.py down TAG` stops exactly them and nothing else."""
        os.makedirs(self.run_dir, exist_ok=True)
        live = [{"pid": p.pid, "start": start_time(p.pid), "name": getattr(p, "lab_name", "")}
                for p in self.procs if p.poll() is None]
        with open(os.path.join(self.run_dir, "pids"), "w") as f:
            json.dump(live, f)

    def stop_backend(self, name):
        for p in self.procs:
            if getattr(p, "lab_name", None) == name and p.poll() is None:
                p.kill()
                p.wait(timeout=5)

    def wait_port(self, host, port, timeout=10):
        stop = time.monotonic() + timeout
        while time.monotonic() < stop:
            r = self.sh(host, "ss", "-Hltn", "sport = :%d" % port, check=False)
            if r.stdout.strip():
                return
            time.sleep(0.05)
        raise RuntimeError("%s: nothing listens on port %d" % (host, port))

    def served(self, b):
        """The backend server's own count of requests and connections."""
        r = self.sh("client", "curl", "-sS", "--max-time", "3",
                    "http://%s:8081/count" % self.addr4(b))
        return json.loads(r.stdout)

    def setup_xlb(self, forward="l2dsr", family=4, port=80):
        vip = VIP4 if family == 4 else VIP6
        self.xlbctl("attach", "eth0", "--mode", "native", "--ring-size", "65537",
                    "--encap-src4", ENCAP4, "--encap-src6", ENCAP6)
        ep = "%s:%d" % (vip, port) if family == 4 else "[%s]:%d" % (vip, port)
        self.xlbctl("vip", "add", ep, "--proto", "tcp", "--forward", forward)
        for b in self.backend_names():
            self.xlbctl("backend", "add", ep, "--proto", "tcp", self.addr4(b) if family == 4 else self.addr6(b))
        if forward == "ipip":
            self.setup_decap()
        return ep

    def setup_decap(self):
        """xlb_decap on every backend (ipip mode)."""
        for b in self.backend_names():
            self.xlbctl("decap", "attach", "eth0", "--vip", VIP4, "--vip", VIP6, host=b,
                        pin="%s/%s" % (self.pin, b))

    def client_cmd(self, host, count, port=80, deadline=60, interval=0.0, log=False):
        return self.nsenter("client") + [sys.executable, os.path.join(HERE, "client.py"), "--host", host,
                                         "--port", str(port), "--count", str(count), "--deadline",
                                         str(deadline), "--interval", str(interval)] + (["--log"] if log else [])

    def requests(self, host, count, port=80, deadline=60, interval=0.0):
        r = run(self.client_cmd(host, count, port, deadline, interval), timeout=deadline + 30)
        return json.loads(r.stdout)

    def stats(self):
        return json.loads(self.xlbctl("stats", "--json").stdout)

    # ---- daemon mode -----------------------------------------------------
    def xlbd_config(self, family=4, forward="l2dsr", check=None, backends=None, name="xlb.yaml", extra=""):
        """Writes an xlbd config for the lab's VIP and returns its path.
        check: the VIP's check as a YAML flow mapping (default: HTTP GET
        /api/v2/ping/ every 300 ms, rise 2, fall 2)."""
        os.makedirs(self.run_dir, exist_ok=True)
        vip = "%s:80" % VIP4 if family == 4 else "[%s]:80" % VIP6
        check = check or ("{type: http, path: /api/v2/ping/, expect_status: 200, expect_body: 'ha', "
                          "interval: 300ms, timeout: 250ms, rise: 2, fall: 2}")
        bes = backends if backends is not None else self.backend_names()
        lines = [
            "# xlbd on the lab (written by xlblab.py)",
            "pin_path: %s/lb" % self.pin,
            "control_socket: %s/xlbd.sock" % self.run_dir,
            "state_dir: %s/state" % self.run_dir,
            "metrics: {listen: 127.0.0.1:9120}",
            "limits: {ring_size: 65537}",
            "encap: {ipv4_source: %s, ipv6_source: %s}" % (ENCAP4, ENCAP6),
            "interfaces:",
            "  - {name: eth0, mode: native}",
            "vips:",
            "  - address: %s" % ('"%s"' % vip),
            "    proto: tcp",
            "    forward: %s" % forward,
            "    check: %s" % check,
            "    backends:",
        ]
        for b in bes:
            lines.append("      - {address: %s, name: %s}" % (self.addr4(b) if family == 4 else self.addr6(b), b))
        if not bes:
            lines[-1] = "    backends: []"
        path = os.path.join(self.run_dir, name)
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n" + extra)
        return path

    def http_vip(self, port, keys="", backends=None, check=None, family=4, backend_port=80):
        """The YAML of an HTTP VIP (mode: http) on the lab's VIP address, to
        pass as xlbd_config(extra=...). keys: more VIP keys, each line
        indented by four spaces. The load balancer must own the address:
        see own_vip()."""
        vip = "%s:%d" % (VIP4, port) if family == 4 else "[%s]:%d" % (VIP6, port)
        check = check or "{type: http, path: /api/v2/ping/, interval: 300ms, timeout: 250ms, rise: 2, fall: 2}"
        lines = ["  - address: \"%s\"" % vip, "    mode: http", "    check: %s" % check]
        if keys:
            lines.append(keys.rstrip("\n"))
        lines.append("    backends:")
        for b in backends or self.backend_names():
            addr = self.addr4(b) if family == 4 else self.addr6(b)
            lines.append("      - {address: \"%s\", port: %d, name: %s}" % (addr, backend_port, b))
        return "\n".join(lines) + "\n"

    def own_vip(self):
        """The load balancer's stack takes the VIP addresses (on lo), so that
        xlbd's proxy can accept HTTP VIP connections; l4 VIPs on the same
        addresses are still forwarded by XDP before the stack sees them."""
        self.sh("lb", "ip", "addr", "add", VIP4 + "/32", "dev", "lo")
        self.sh("lb", "ip", "-6", "addr", "add", VIP6 + "/128", "dev", "lo", "nodad")

    def start_xlbd(self, config, *args, wait=True, wrap=(), env=None):
        """Starts xlbd in the load balancer's namespace; its log goes to
        run_dir/xlbd.log. Waits until its control socket answers. wrap: a
        command that execs xlbd (prlimit ...), so the pid stays xlbd's."""
        os.makedirs(self.run_dir, exist_ok=True)
        with open(os.path.join(self.run_dir, "xlbd.log"), "a") as log:
            p = subprocess.Popen(self.nsenter("lb") + list(wrap) +
                                 [os.path.join(self.build, "userspace", "daemon", "xlbd"), "--config", config] +
                                 list(args),
                                 stdout=log, stderr=log, env=env)
        p.lab_name = "xlbd"
        self.procs.append(p)
        self.save_pids()
        self.xlbd = p
        if wait:
            stop = time.monotonic() + 15
            while time.monotonic() < stop:
                if p.poll() is not None:
                    raise RuntimeError("xlbd exited with %d:\n%s" % (p.returncode, self.xlbd_log()))
                if self.xlbctl("health", "--json", check=False).returncode == 0:
                    return p
                time.sleep(0.05)
            raise RuntimeError("xlbd did not answer on its control socket:\n" + self.xlbd_log())
        return p

    def xlbd_log(self):
        try:
            with open(os.path.join(self.run_dir, "xlbd.log")) as f:
                return f.read()
        except OSError:
            return ""

    def health(self):
        """{backend address: entry} from xlbctl health --json."""
        out = {}
        for v in json.loads(self.xlbctl("health", "--json").stdout):
            for b in v["backends"]:
                out[b["address"]] = b
        return out

    def wait_health(self, want, timeout=15):
        """Waits until every backend address in want has the state it names."""
        stop = time.monotonic() + timeout
        while time.monotonic() < stop:
            h = self.health()
            if all(h.get(a, {}).get("state") == s for a, s in want.items()):
                return time.monotonic()
            time.sleep(0.05)
        raise RuntimeError("backends did not reach %s: %s\n%s" % (want, self.health(), self.xlbd_log()))


def start_time(pid):
    """The kernel's start time of a process (clock ticks after boot): with
    the pid, it names one process, never a later one that reused the pid."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return int(f.read().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def _signal_exit(signum, frame):
    raise SystemExit(128 + signum)


def print_spread(res, total):
    for node in sorted(res["nodes"]):
        n = res["nodes"][node]
        print("  %-4s %4d  %5.1f%%  %s" % (node, n, 100.0 * n / total, "#" * (n * 60 // total)))
    print("  failed: %d %s" % (res["failures"], res["errors"] or ""))


def demo_xlbctl(lab, args, family, host):
    ep = lab.setup_xlb(args.forward, family)
    print("xlb attached on %s/eth0 with xlbctl; VIP %s/tcp (%s)\n" % (lab.ns["lb"], ep, args.forward))
    print(lab.xlbctl("vip", "list").stdout)
    res = lab.requests(host, args.requests)
    print("%d HTTP requests from the client to %s, one TCP connection each:" % (args.requests, ep))
    print_spread(res, args.requests)
    return res["failures"] == 0 and len(res["nodes"]) == lab.n


def demo_xlbd(lab, args, family, host):
    if args.forward == "ipip":
        lab.setup_decap()
    cfg = lab.xlbd_config(family=family, forward=args.forward)
    print("xlbd config (%s):\n" % cfg)
    with open(cfg) as f:
        print("    " + f.read().replace("\n", "\n    "))
    lab.start_xlbd(cfg)
    print("xlbd started in %s; backends start down and come up after 2 passed checks" % lab.ns["lb"])
    t0 = time.monotonic()
    lab.wait_health({lab.addr4(b) if family == 4 else lab.addr6(b): "up" for b in lab.backend_names()})
    print("all backends up after %.1fs\n" % (time.monotonic() - t0))
    print(lab.xlbctl("health").stdout)
    ok = True
    res = lab.requests(host, args.requests)
    print("%d HTTP requests to the VIP, one TCP connection each:" % args.requests)
    print_spread(res, args.requests)
    ok = ok and res["failures"] == 0 and len(res["nodes"]) == lab.n

    victim = lab.backend_names()[1]
    vaddr = lab.addr4(victim) if family == 4 else lab.addr6(victim)
    print("\nkilling the server on %s (%s) ..." % (victim, vaddr))
    t0 = time.monotonic()
    lab.stop_backend(victim)
    lab.wait_health({vaddr: "down"})
    print("xlbd marked %s down after %.2fs (check every 300ms, fall 2); its flows were re-balanced" % (
        victim, time.monotonic() - t0))
    n = args.requests // 2
    res = lab.requests(host, n)
    print("%d requests while %s is down:" % (n, victim))
    print_spread(res, n)
    ok = ok and res["failures"] == 0 and victim not in res["nodes"]

    print("\nrestarting the server on %s ..." % victim)
    t0 = time.monotonic()
    lab.start_backends([victim])
    lab.wait_health({vaddr: "up"})
    print("%s back up after %.2fs (rise 2)" % (victim, time.monotonic() - t0))
    res = lab.requests(host, n)
    print("%d requests with %s back:" % (n, victim))
    print_spread(res, n)
    ok = ok and res["failures"] == 0 and victim in res["nodes"]
    print("\nxlbd's transitions (its log):")
    for line in lab.xlbd_log().splitlines():
        if " is up" in line or " is down" in line or "ring rebuilt" in line:
            print("  " + line)
    print()
    return ok


def demo_http(lab, args, family, host):
    """What an OLAM/AWX cluster's HAProxy front does, by xlbd: HTTPS on 443
    (a self-signed certificate made here), plain 80 redirected, a UI session
    kept on its node by a cookie, X-Forwarded-* for the application; the l4
    VIP on port 80 of the same address is balanced by XDP meanwhile."""
    lab.own_vip()
    cert, key = os.path.join(lab.run_dir, "demo.pem"), os.path.join(lab.run_dir, "demo.key")
    os.makedirs(lab.run_dir, exist_ok=True)
    run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
         "-subj", "/CN=awx.lab.test", "-addext", "subjectAltName=DNS:awx.lab.test", "-keyout", key, "-out", cert])
    tls = ("    tls: {cert_file: %s, key_file: %s}\n    balance: roundrobin\n    cookie: {name: SERVERID}\n"
           "    timeouts: {tunnel: 1h}" % (cert, key))
    extra = lab.http_vip(443, keys=tls, family=family) + lab.http_vip(
        8080, keys="    redirect: {scheme: https, code: 301}", family=family)
    cfg = lab.xlbd_config(family=family, forward=args.forward, extra=extra)
    print("xlbd config (%s):\n" % cfg)
    with open(cfg) as f:
        print("    " + f.read().replace("\n", "\n    "))
    lab.start_xlbd(cfg)
    lab.wait_health({lab.addr4(b) if family == 4 else lab.addr6(b): "up" for b in lab.backend_names()})
    print(lab.xlbctl("health").stdout)
    url = "https://awx.lab.test"
    hostarg = host if family == 4 else "[%s]" % host
    curl = ["curl", "-sS", "--max-time", "5", "--cacert", cert, "--resolve", "awx.lab.test:443:%s" % hostarg]
    ok = True

    r = lab.sh("client", "curl", "-sS", "--max-time", "5", "-o", "/dev/null", "-D", "-",
               "http://%s:8080/api/v2/ping/" % hostarg).stdout
    loc = [l for l in r.splitlines() if l.lower().startswith("location")]
    print("plain HTTP is redirected: %s, %s" % (r.splitlines()[0].strip(), loc[0].strip() if loc else "no Location"))
    ok = ok and " 301" in r.splitlines()[0] and bool(loc)

    n = min(args.requests, 60)
    nodes = {}
    for _ in range(n):
        got = lab.sh("client", *curl, url + "/api/v2/ping/", check=False).stdout
        try:
            node = json.loads(got)["active_node"]
        except ValueError:
            node = "failed"
        nodes[node] = nodes.get(node, 0) + 1
    print("%d HTTPS requests (TLS terminated by xlbd, a new client each time): %s" % (
        n, ", ".join("%s %d" % kv for kv in sorted(nodes.items()))))
    ok = ok and "failed" not in nodes and len(nodes) == lab.n

    jar = os.path.join(lab.run_dir, "cookies")
    seen = [json.loads(lab.sh("client", *curl, "-c", jar, "-b", jar, url + "/api/v2/ping/").stdout)["active_node"]
            for _ in range(6)]
    print("one browser session (its SERVERID cookie): %s" % " ".join(seen))
    ok = ok and len(set(seen)) == 1

    echo = json.loads(lab.sh("client", *curl, "-H", "X-Forwarded-For: 6.6.6.6", url + "/echo").stdout)["headers"]
    print("what the application sees: " + ", ".join("%s: %s" % (k, echo.get(k)) for k in (
        "x-forwarded-for", "x-forwarded-proto", "x-forwarded-port", "x-forwarded-host")))
    ok = ok and echo.get("x-forwarded-for") == (lab.addr4("client") if family == 4 else lab.addr6("client"))

    res = lab.requests(host, 30)
    print("meanwhile the l4 VIP on port 80 of the same address, balanced by XDP: %d requests, %d failed" % (
        30, res["failures"]))
    ok = ok and res["failures"] == 0
    print("\nxlbd's access log (the last lines):")
    for line in [l for l in lab.xlbd_log().splitlines() if " access " in l][-3:]:
        print("  " + line)
    print()
    return ok


def demo(args):
    lab = Lab(args.build)
    signal.signal(signal.SIGTERM, _signal_exit)
    signal.signal(signal.SIGINT, _signal_exit)
    try:
        print("lab %s: creating namespaces (client, lb, %d backends on a bridge)" % (lab.id, lab.n))
        lab.up()
        lab.start_backends()
        family = 6 if args.ipv6 else 4
        host = VIP4 if family == 4 else VIP6
        ok = (demo_xlbctl if args.xlbctl else demo_http if args.http else demo_xlbd)(lab, args, family, host)
        print("\nxlbctl stats:")
        print(lab.xlbctl("stats").stdout)
        print("demo %s" % ("OK" if ok else "FAILED"))
        if args.keep:
            lab.up_done = False  # keep everything
            print("The lab stays up. Enter it with:\n  nsenter --net=/run/netns/%s bash   # load balancer\n"
                  "  nsenter --net=/run/netns/%s bash   # client (curl http://%s/api/v2/ping/)\n"
                  "Tear it down with: %s down %s" % (lab.ns["lb"], lab.ns["client"], host, sys.argv[0], lab.id))
            for p in lab.procs:
                p.lab_name = None
        return 0 if ok else 1
    finally:
        if not args.keep:
            lab.down()


def down(args):
    # Only the lab's own processes, by the pids it recorded (checked against
    # their start times): never a match by name, which would reach
    # processes outside the lab.
    stopped = 0
    try:
        with open("/run/%s/pids" % args.tag) as f:
            recorded = json.load(f)
    except (OSError, ValueError):
        recorded = []
    for r in recorded:
        if start_time(r["pid"]) == r["start"]:
            try:
                os.kill(r["pid"], signal.SIGKILL)
                stopped += 1
            except ProcessLookupError:
                pass
    for line in run(["ip", "netns", "list"]).stdout.splitlines():
        name = line.split()[0]
        if name.startswith(args.tag + "-"):
            run(["ip", "netns", "del", name], check=False)
    subprocess.run(["rm", "-rf", "/sys/fs/bpf/" + args.tag, "/run/" + args.tag])
    remove_empty_bpffs_dirs(iproute2=True)  # what its `ip link set ... obj` made, if still empty
    print("lab %s removed (%d processes stopped)" % (args.tag, stopped))
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"), help="CMake build directory")
    sub = ap.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("demo", help="run the load balancer on the lab and show the spread")
    d.add_argument("--forward", choices=["l2dsr", "ipip"], default="l2dsr")
    d.add_argument("--ipv6", action="store_true", help="use the IPv6 VIP")
    d.add_argument("--requests", type=int, default=300)
    d.add_argument("--keep", action="store_true", help="leave the lab up and say how to enter it")
    d.add_argument("--xlbctl", action="store_true", help="configure xlb with bare xlbctl calls instead of xlbd")
    d.add_argument("--http", action="store_true",
                   help="xlbd's L7 proxy: HTTPS with a cookie, plain HTTP redirected, X-Forwarded-*")
    d.set_defaults(fn=demo)
    t = sub.add_parser("down", help="remove a lab left up with --keep")
    t.add_argument("tag")
    t.set_defaults(fn=down)
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("the lab needs root (network namespaces, XDP)", file=sys.stderr)
        return 2
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
