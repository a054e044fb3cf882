#!/usr/bin/env python3
"""xlbd's L7 proxy against HAProxy 2.6 (Debian's package), same run, same
backends, interleaved.

    sudo tools/setup.sh --bench && sudo tools/bench/http_bench.py [--seconds 8] [--rounds 3]

The namespace lab (client, load balancer, three backends) with nginx on the
backends answering GET /api/v2/ping/ like AWX. In the load balancer's
namespace both proxies run side by side on CPU 1 (xlbd with one proxy
worker, HAProxy with one thread), with equivalent settings: round-robin,
X-Forwarded-For, keep-alive to the backends, HTTP checks every 2 s, no
access log, TLS 1.2/1.3 with one ECDSA P-256 certificate. wrk runs in the
client's namespace on CPU 0 (with nginx). Scenarios, in every round, the
proxies' order alternating:
  plain keep-alive           wrk -c 50
  plain connection-close     a new connection per request
  TLS 1.3 keep-alive         50 connections
  TLS resumed per request    a new connection per request, resuming the
                             previous one's session with its ticket (wrk
                             keeps its session across reconnects)
  TLS full handshake per req a new connection per request, on a port where
                             neither proxy resumes sessions (xlbd
                             resumption: false; HAProxy no-tls-tickets,
                             tune.ssl.cachesize 0)
Before the rounds, openssl s_client checks that the resumed ports resume
and the full-handshake ports do not. Reported per scenario: the median over
rounds of requests/s, p50 and p99 latency (wrk --latency) and the proxy's
CPU seconds per 10k requests (/proc/PID/stat, over the run); and
xlbd/HAProxy ratios, of those medians and (steadier on a host whose load
drifts) within each round, with the rounds where xlbd's p99 was lower. With --wire, the connection-per-request scenarios
also report the proxy's share of the latency: request segment to answer
segment on the client's interface (tcpdump), without the client's own
queueing (wrk is the bottleneck there). Every response is checked: wrk's
non-2xx responses and socket errors are printed, and any of xlbd's fails
the run."""
import argparse
import collections
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tools", "lab"))
import xlblab  # noqa: E402

VIP = xlblab.VIP4
PORTS = {"xlbd": {"plain": 8080, "tls": 8443, "full": 8444}, "haproxy": {"plain": 9080, "tls": 9443, "full": 9444}}
# The system calls --syscalls counts one by one (besides the total).
SYSCALLS = ["read", "write", "recvfrom", "sendto", "recvmsg", "sendmsg", "readv", "writev", "epoll_wait",
            "epoll_ctl", "accept4", "connect", "close", "shutdown", "setsockopt", "getsockopt", "getpeername",
            "getsockname", "socket", "timerfd_settime", "futex", "ioctl", "clock_gettime", "splice", "pipe2"]
SCENARIOS = [
    ("plain keep-alive", "plain", []),
    ("plain connection-close", "plain", ["-H", "Connection: close"]),
    ("TLS 1.3 keep-alive", "tls", []),
    ("TLS resumed per request", "tls", ["-H", "Connection: close"]),
    ("TLS full handshake per req", "full", ["-H", "Connection: close"]),
]

# One process (no master): the lab stops what it started by pid, and a
# killed master's workers would outlive it.
NGINX = """master_process off;
daemon off;
pid {run}/nginx-{b}.pid;
error_log {run}/nginx-{b}.err;
events {{ worker_connections 8192; }}
http {{
  access_log off;
  keepalive_requests 1000000;
  keepalive_timeout 75s;
  server {{
    listen 80 reuseport backlog=4096;
    location / {{
      default_type application/json;
      add_header X-API-Node {b};
      return 200 '{{"ha": true, "version": "bench", "active_node": "{b}"}}';
    }}
  }}
}}
"""

HAPROXY = """global
  nbthread 1
  tune.ssl.cachesize 0
  maxconn 8000
  ssl-default-bind-options ssl-min-ver TLSv1.2
defaults
  mode http
  maxconn 8000
  timeout connect 3s
  timeout client 60s
  timeout server 60s
  timeout http-request 10s
  timeout http-keep-alive 60s
  option forwardfor
  http-reuse safe
frontend plain
  bind {vip}:9080
  default_backend nodes
frontend tls
  bind {vip}:9443 ssl crt {pem} alpn http/1.1
  default_backend nodes
frontend full
  bind {vip}:9444 ssl crt {pem} alpn http/1.1 no-tls-tickets
  default_backend nodes
backend nodes
  balance roundrobin
  option httpchk GET /api/v2/ping/
  http-check expect status 200
{servers}
"""


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def check_resumption(lab):
    """The TLS scenarios measure what they say: on the "tls" ports a client
    resumes its session with the ticket of its previous connection (as wrk
    does), on the "full" ports it cannot."""
    for proxy, ports in PORTS.items():
        for kind in ("tls", "full"):
            sess = os.path.join(lab.run_dir, "session-%d.pem" % ports[kind])
            seen = []
            for i in range(3):
                r = subprocess.run(lab.nsenter("client") + [
                    "timeout", "10", "openssl", "s_client", "-connect", "%s:%d" % (VIP, ports[kind]), "-ign_eof",
                    "-sess_out", sess] + (["-sess_in", sess] if i else []),
                    input=b"GET /api/v2/ping/ HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n",
                    capture_output=True)
                seen.append("Reused," in r.stdout.decode(errors="replace"))
            want = [False, True, True] if kind == "tls" else [False, False, False]
            if seen != want:
                raise RuntimeError("%s port %d: sessions resumed %s, expected %s" % (proxy, ports[kind], seen, want))


def wire_latencies(text, port):
    """From tcpdump's text of the client's interface, per connection (one
    request each: the connection-per-request scenarios), in ms, as the
    client's kernel sees the segments (without the client's own queueing,
    which dominates wrk's figures when wrk is the bottleneck):
      answer: from the request (the client's last data segment before the
        proxy's answer; its first transmission) to the last data segment of the
        proxy's answer (xlbd sends the response, close_notify and FIN in
        one; HAProxy its close_notify microseconds after the response).
        TLS 1.3 session tickets, which may come before or after the request,
        are not mistaken for the answer's start this way.
      hello (TLS): from the ClientHello to the proxy's first flight, the
        handshake's share, where waiting for a handshake turn shows.
    Returns (answers, hellos)."""
    conns, current = [], {}
    for line in text.splitlines():
        m = re.match(r"(\d+\.\d+) IP \S+?\.(\d+) > \S+?\.(\d+): Flags \[([^]]*)\](?:, seq (\d+))?.* length (\d+)",
                     line)
        if not m:
            continue
        t, sport, dport, flags = float(m.group(1)), int(m.group(2)), int(m.group(3)), m.group(4)
        seq, n = m.group(5), int(m.group(6))
        if dport == port and flags == "S":
            current[sport] = []
            conns.append(current[sport])
        if dport == port and sport in current and n:
            current[sport].append(("c", t, seq))
        elif sport == port and dport in current and n:
            current[dport].append(("s", t, seq))
    answers, hellos = [], []
    for segs in conns:
        first = {}
        for who, t, seq in segs:
            first.setdefault((who, seq), t)  # a retransmission keeps its first time
        if len(segs) >= 2 and segs[0][0] == "c" and segs[1][0] == "s" and port not in (
                PORTS["xlbd"]["plain"], PORTS["haproxy"]["plain"]):
            hellos.append((segs[1][1] - segs[0][1]) * 1000)
        # the answer's last data segment: the proxy's last
        end = next((i for i in range(len(segs) - 1, -1, -1) if segs[i][0] == "s"), None)
        if end is None:
            continue
        j = end
        while j > 0 and segs[j - 1][0] == "s":
            j -= 1
        if j > 0:
            req = segs[j - 1]
            answers.append((segs[end][1] - first[("c", req[2])]) * 1000)
    return answers, hellos


def socket_states(lab, host):
    """TCP sockets in a namespace counted by state and by the well-known port
    (the lower of the two) they use: what a run leaves behind."""
    out = xlblab.run(lab.nsenter(host) + ["ss", "-tanH"]).stdout
    counts = {}
    for line in out.splitlines():
        f = line.split()
        if len(f) < 5:
            continue
        ports = [int(x.rsplit(":", 1)[1]) for x in f[3:5] if x.rsplit(":", 1)[1].isdigit()]
        port = min(ports) if ports else 0
        key = "%s:%d" % (f[0], port)
        counts[key] = counts.get(key, 0) + 1
    return " ".join("%s=%d" % kv for kv in sorted(counts.items(), key=lambda kv: -kv[1])[:6])


def wrk(lab, url, extra, seconds):
    cmd = lab.nsenter("client") + ["taskset", "-c", "0", "wrk", "-t1", "-c50", "-d%ds" % seconds, "--latency",
                                   "--timeout", "5s"] + extra + [url]
    out = xlblab.run(cmd, timeout=seconds + 60).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))

    def ms(label):
        m = re.search(r"\s%s%%\s+([\d.]+)(us|ms|s)\b" % label, out)
        v = float(m.group(1))
        return v / 1000 if m.group(2) == "us" else v * 1000 if m.group(2) == "s" else v
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    problems = (int(bad.group(1)) if bad else 0) + (sum(int(x) for x in errors.groups()) if errors else 0)
    return {"rps": rps, "requests": total, "p50": ms("50"), "p99": ms("99"), "problems": problems, "raw": out}


def segment_counts(pcap, port):
    """Segments per request on the load balancer's interface, by side, direction and kind."""
    counts = collections.Counter()
    text = xlblab.run(["tcpdump", "-r", pcap, "-n"], timeout=300).stdout
    for line in text.splitlines():
        m = re.search(r"IP (\S+)\.(\d+) > (\S+)\.(\d+): .*length (\d+)", line)
        if not m:
            continue
        sport, dport, length = int(m.group(2)), int(m.group(4)), int(m.group(5))
        side = "client" if port in (sport, dport) else "backend"
        toward_lb = dport == port if side == "client" else sport == 80
        counts["%s %s %s" % (side, "in" if toward_lb else "out", "data" if length else "ack")] += 1
    # Per request: per request segment from the client (a capture of the
    # first 400k segments, not the whole run; a GET fits one segment).
    requests = counts["client in data"]
    return " ".join("%s %.2f" % (k, v / max(requests, 1)) for k, v in sorted(counts.items()))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--seconds", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", help="write every measurement here")
    ap.add_argument("--perf", metavar="FILE",
                    help="record xlbd with perf (linux-perf) during its first run of one scenario, into FILE")
    ap.add_argument("--perf-scenario", type=int, default=0, metavar="N",
                    help="the scenario --perf records, 0-%d in the order above (default 0)" % (len(SCENARIOS) - 1))
    ap.add_argument("--perf-dwarf", action="store_true",
                    help="--perf unwinds with DWARF (callers through libc and OpenSSL; a far larger file)")
    ap.add_argument("--perf-proxy", choices=["xlbd", "haproxy"], default="xlbd",
                    help="the proxy --perf records (default xlbd)")
    ap.add_argument("--segments", action="store_true",
                    help="count the TCP segments on the load balancer's interface per request, in the first round, "
                         "by side (client, backend), direction and kind (data, pure ACK)")
    ap.add_argument("--only", metavar="N,N", help="run only these scenarios (0-%d in the order above)" % (len(SCENARIOS) - 1))
    ap.add_argument("--watch-sockets", action="store_true",
                    help="after every run, print the load balancer namespace's socket summary (ss -s)")
    ap.add_argument("--syscalls", action="store_true",
                    help="count each proxy's system calls (perf stat) during round 0 and report them per request")
    ap.add_argument("--wire", action="store_true",
                    help="in the connection-per-request scenarios, capture the client's interface (tcpdump) and "
                    "report the proxy's share of the latency: request segment to answer segment, as the client's "
                    "kernel sees them")
    a = ap.parse_args()
    if os.geteuid() != 0:
        print("needs root (namespaces)", file=sys.stderr)
        return 2
    scenarios = SCENARIOS
    if a.only:
        try:
            scenarios = [SCENARIOS[int(i)] for i in a.only.split(",")]
        except (ValueError, IndexError):
            ap.error("--only takes scenario numbers 0-%d separated by commas, e.g. --only 1,3" % (len(SCENARIOS) - 1))
    for tool in ("haproxy", "nginx", "wrk", "taskset") + (("tcpdump",) if a.wire else ()):
        if not shutil.which(tool) and not os.path.exists("/usr/sbin/" + tool):
            print("%s is missing: sudo tools/setup.sh --bench installs what the benchmark needs" % tool, file=sys.stderr)
            return 2
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    lab = xlblab.Lab(a.build)
    results = []
    try:
        lab.up()
        lab.own_vip()
        os.makedirs(lab.run_dir, exist_ok=True)
        for b in lab.backend_names():
            conf = os.path.join(lab.run_dir, "nginx-%s.conf" % b)
            with open(conf, "w") as f:
                f.write(NGINX.format(run=lab.run_dir, b=b))
            p = subprocess.Popen(lab.nsenter(b) + ["taskset", "-c", "0", "nginx", "-c", conf, "-e", conf + ".err"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            p.lab_name = "nginx-" + b
            lab.procs.append(p)
            lab.save_pids()
        for b in lab.backend_names():
            lab.wait_port(b, 80)
        cert, key = os.path.join(lab.run_dir, "bench.pem"), os.path.join(lab.run_dir, "bench.key")
        xlblab.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-days", "1", "-subj", "/CN=bench.lab.test", "-keyout", key, "-out", cert])
        pem = os.path.join(lab.run_dir, "bench-combined.pem")
        with open(pem, "w") as f:
            f.write(open(cert).read() + open(key).read())
        check = "{type: http, path: /api/v2/ping/, expect_status: 200, interval: 2s, timeout: 1s, rise: 1, fall: 3}"
        extra = lab.http_vip(8080, check=check) + lab.http_vip(
            8443, check=check, keys="    tls: {cert_file: %s, key_file: %s}" % (cert, key)) + lab.http_vip(
            8444, check=check, keys="    tls: {cert_file: %s, key_file: %s, resumption: false}" % (cert, key))
        cfg = lab.xlbd_config(extra=extra, backends=[])
        with open(cfg, "a") as f:
            f.write("proxy: {workers: 1, access_log: false}\n")
        xlbd = lab.start_xlbd(cfg, wrap=["taskset", "-c", "1"])
        servers = "\n".join("  server %s %s:80 check inter 2s" % (b, lab.addr4(b)) for b in lab.backend_names())
        hconf = os.path.join(lab.run_dir, "haproxy.cfg")
        with open(hconf, "w") as f:
            f.write(HAPROXY.format(vip=VIP, pem=pem, servers=servers))
        hap = subprocess.Popen(lab.nsenter("lb") + ["taskset", "-c", "1", "haproxy", "-db", "-f", hconf],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        hap.lab_name = "haproxy"
        lab.procs.append(hap)
        lab.save_pids()
        try:
            lab.wait_port("lb", 9443)
        except RuntimeError:
            hap.kill()
            raise RuntimeError("haproxy did not start:\n" + hap.communicate()[1].decode())
        time.sleep(3)  # both see every backend up
        check_resumption(lab)
        pids = {"xlbd": xlbd.pid, "haproxy": hap.pid}
        for rnd in range(a.rounds):
            for name, kind, args in scenarios:
                order = ["xlbd", "haproxy"] if rnd % 2 == 0 else ["haproxy", "xlbd"]
                for proxy in order:
                    scheme = "http" if kind == "plain" else "https"
                    url = "%s://%s:%d/api/v2/ping/" % (scheme, VIP, PORTS[proxy][kind])
                    c0 = cpu_seconds(pids[proxy])
                    perf = None
                    if a.perf and proxy == a.perf_proxy and rnd == 0 and name == SCENARIOS[a.perf_scenario][0]:
                        perf = subprocess.Popen(["perf", "record", "--call-graph", "dwarf,8192" if a.perf_dwarf else "fp", "-o", a.perf, "-p", str(pids[proxy])],
                                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                    stat = None
                    if a.syscalls and rnd == 0:
                        events = ["raw_syscalls:sys_enter"] + ["syscalls:sys_enter_" + c for c in SYSCALLS]
                        stat = subprocess.Popen(["perf", "stat", "-x,", "-e", ",".join(events), "-p", str(pids[proxy])],
                                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                    cap = None
                    per_request = "Connection: close" in args
                    if a.wire and per_request:
                        pcap = os.path.join(lab.run_dir, "wire.pcap")
                        cap = subprocess.Popen(lab.nsenter("client") + [
                            "tcpdump", "-i", "eth0", "-n", "-s", "96", "-B", "65536", "-w", pcap,
                            "tcp port %d" % PORTS[proxy][kind]], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                        time.sleep(1)  # listening before the first SYN
                    seg = None
                    if a.segments and rnd == 0:
                        spcap = os.path.join(lab.run_dir, "segments.pcap")
                        seg = subprocess.Popen(lab.nsenter("lb") + [
                            "tcpdump", "-i", "eth0", "-n", "-s", "96", "-B", "65536", "-c", "400000", "-w", spcap,
                            "tcp port %d or tcp port 80" % PORTS[proxy][kind]],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                        time.sleep(1)
                    r = wrk(lab, url, args, a.seconds)
                    if seg:
                        seg.send_signal(2)
                        seg.communicate(timeout=30)
                        print("round 0  %-26s %-8s segments per request: %s" % (
                            name, proxy, segment_counts(spcap, PORTS[proxy][kind])), flush=True)
                    if cap:
                        cap.send_signal(2)
                        dropped = re.search(r"(\d+) packets dropped by kernel", cap.communicate(timeout=30)[1].decode())
                        text = xlblab.run(["tcpdump", "-r", pcap, "-n", "-tt"]).stdout
                        answers, hellos = (sorted(x) for x in wire_latencies(text, PORTS[proxy][kind]))
                        pct = lambda xs, q: xs[min(int(len(xs) * q), len(xs) - 1)] if xs else float("nan")
                        r.update(wire_p50=pct(answers, 0.5), wire_p99=pct(answers, 0.99),
                                 hello_p50=pct(hellos, 0.5), hello_p99=pct(hellos, 0.99))
                        print("round %d  %-26s %-8s on the wire: %d answers p50 %.2f p99 %.2f ms%s%s" % (
                            rnd, name, proxy, len(answers), r["wire_p50"], r["wire_p99"],
                            "; %d handshakes (ClientHello to first flight) p50 %.2f p99 %.2f ms" % (
                                len(hellos), r["hello_p50"], r["hello_p99"]) if hellos else "",
                            "; %s packets dropped by the capture" % dropped.group(1)
                            if dropped and dropped.group(1) != "0" else ""), flush=True)
                    if perf:
                        perf.send_signal(2)
                        perf.wait(timeout=30)
                    if stat:
                        stat.send_signal(2)
                        err = stat.communicate(timeout=30)[1].decode()
                        counts = {}
                        for l in err.splitlines():
                            f = l.split(",")
                            if len(f) > 2 and f[0].isdigit():
                                counts[f[2].split(":")[-1].replace("sys_enter_", "")] = int(f[0])
                        per = lambda c: c / max(r["requests"], 1)
                        print("round 0  %-26s %-8s %.2f system calls per request: %s" % (
                            name, proxy, per(counts.pop("sys_enter", 0)),
                            " ".join("%s %.2f" % (k, per(v)) for k, v in sorted(counts.items(), key=lambda kv: -kv[1])
                                     if per(v) >= 0.01)), flush=True)
                    r.update(proxy=proxy, scenario=name, round=rnd,
                             cpu_per_10k=(cpu_seconds(pids[proxy]) - c0) / max(r["requests"], 1) * 10000)
                    if r["problems"]:  # reported, and xlbd's fail the run
                        print("%s / %s: %d failed responses\n%s" % (proxy, name, r["problems"], r["raw"]), flush=True)
                    del r["raw"]
                    results.append(r)
                    print("round %d  %-26s %-8s %9.0f req/s  p50 %7.2f ms  p99 %7.2f ms  %.3f CPU s/10k%s" % (
                        rnd, name, proxy, r["rps"], r["p50"], r["p99"], r["cpu_per_10k"],
                        "  %d FAILED" % r["problems"] if r["problems"] else ""), flush=True)
                    if a.watch_sockets:
                        for host in ("lb", "client"):
                            print("         %-6s %s" % (host, socket_states(lab, host)), flush=True)
    finally:
        lab.down()

    print("\nCPU: %s; %d rounds of %d s; medians over rounds\n" % (cpu, a.rounds, a.seconds))
    print("%-26s | %-34s | %-34s | %s" % ("scenario", "xlbd: req/s  p50/p99 ms  CPU s/10k",
                                          "haproxy: req/s  p50/p99 ms  CPU s/10k", "xlbd/haproxy req/s, CPU"))
    for name, _, _ in scenarios:
        row = {}
        for proxy in ("xlbd", "haproxy"):
            rs = [r for r in results if r["scenario"] == name and r["proxy"] == proxy]
            row[proxy] = {k: statistics.median(r[k] for r in rs) for k in ("rps", "p50", "p99", "cpu_per_10k")}
        x, h = row["xlbd"], row["haproxy"]
        print("%-26s | %8.0f %6.2f/%-7.2f %7.3f | %8.0f %6.2f/%-7.2f %7.3f | %.2fx, %.2fx" % (
            name, x["rps"], x["p50"], x["p99"], x["cpu_per_10k"], h["rps"], h["p50"], h["p99"], h["cpu_per_10k"],
            x["rps"] / h["rps"], x["cpu_per_10k"] / h["cpu_per_10k"]))
    # The rounds interleave the two proxies, so a ratio taken within each
    # round cancels what drifts between rounds (a neighbour's load on the
    # host); the medians of each side above do not.
    print("\nwithin each round, xlbd/haproxy: median [min-max] over rounds; rounds where xlbd's p99 was lower")
    for name, _, _ in scenarios:
        pairs = []
        for rnd in range(a.rounds):
            x = [r for r in results if r["scenario"] == name and r["proxy"] == "xlbd" and r["round"] == rnd]
            h = [r for r in results if r["scenario"] == name and r["proxy"] == "haproxy" and r["round"] == rnd]
            if x and h:
                pairs.append((x[0]["rps"] / h[0]["rps"], x[0]["cpu_per_10k"] / h[0]["cpu_per_10k"], x[0]["p99"] < h[0]["p99"]))
        if pairs:
            rps, cpu_r = [p[0] for p in pairs], [p[1] for p in pairs]
            print("%-26s | req/s %.2fx [%.2f-%.2f]  CPU %.2fx [%.2f-%.2f]  p99 lower in %d of %d" % (
                name, statistics.median(rps), min(rps), max(rps), statistics.median(cpu_r), min(cpu_r), max(cpu_r),
                sum(p[2] for p in pairs), len(pairs)))
    if a.wire:
        print("\non the wire (--wire), medians over rounds, ms: answer p50/p99; handshake p50/p99")
        for name, _, _ in scenarios:
            cells = []
            for proxy in ("xlbd", "haproxy"):
                rs = [r for r in results if r["scenario"] == name and r["proxy"] == proxy and "wire_p50" in r]
                if rs:
                    med = {k: statistics.median(r[k] for r in rs) for k in ("wire_p50", "wire_p99", "hello_p50", "hello_p99")}
                    cells.append("%s %.2f/%.2f; %.2f/%.2f" % (proxy, med["wire_p50"], med["wire_p99"],
                                                             med["hello_p50"], med["hello_p99"]))
            if cells:
                print("%-26s | %s" % (name, " | ".join(cells)))
    failed = {p: sum(r["problems"] for r in results if r["proxy"] == p) for p in ("xlbd", "haproxy")}
    if any(failed.values()):
        print("\nfailed responses (non-2xx or socket errors): xlbd %d, haproxy %d" % (failed["xlbd"], failed["haproxy"]))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"cpu": cpu, "results": results}, f, indent=1)
    return 1 if failed["xlbd"] else 0


if __name__ == "__main__":
    sys.exit(main())
