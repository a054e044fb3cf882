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
  plain keep-alive          wrk -c 50
  plain connection-close    a new connection per request
  TLS keep-alive            TLS 1.3, 50 connections
  TLS handshake per request a full handshake per request (wrk resumes no session)
Reported per scenario: the median over rounds of requests/s, p50 and p99
latency (wrk --latency) and the proxy's CPU seconds per 10k requests
(/proc/PID/stat, over the run); and xlbd/HAProxy ratios. Every response is
checked: wrk's non-2xx and socket errors must be zero."""
import argparse
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
PORTS = {"xlbd": {"plain": 8080, "tls": 8443}, "haproxy": {"plain": 9080, "tls": 9443}}
SCENARIOS = [
    ("plain keep-alive", "plain", []),
    ("plain connection-close", "plain", ["-H", "Connection: close"]),
    ("TLS 1.3 keep-alive", "tls", []),
    ("TLS handshake per request", "tls", ["-H", "Connection: close"]),
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
    ap.add_argument("--syscalls", action="store_true",
                    help="count each proxy's system calls (perf stat) during round 0 and report them per request")
    a = ap.parse_args()
    if os.geteuid() != 0:
        print("needs root (namespaces)", file=sys.stderr)
        return 2
    for tool in ("haproxy", "nginx", "wrk", "taskset"):
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
            8443, check=check, keys="    tls: {cert_file: %s, key_file: %s}" % (cert, key))
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
        pids = {"xlbd": xlbd.pid, "haproxy": hap.pid}
        for rnd in range(a.rounds):
            for name, kind, args in SCENARIOS:
                order = ["xlbd", "haproxy"] if rnd % 2 == 0 else ["haproxy", "xlbd"]
                for proxy in order:
                    scheme = "https" if kind == "tls" else "http"
                    url = "%s://%s:%d/api/v2/ping/" % (scheme, VIP, PORTS[proxy][kind])
                    c0 = cpu_seconds(pids[proxy])
                    perf = None
                    if a.perf and proxy == "xlbd" and rnd == 0 and name == SCENARIOS[a.perf_scenario][0]:
                        perf = subprocess.Popen(["perf", "record", "-g", "-o", a.perf, "-p", str(pids[proxy])],
                                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                    stat = None
                    if a.syscalls and rnd == 0:
                        stat = subprocess.Popen(["perf", "stat", "-x,", "-e", "raw_syscalls:sys_enter", "-p",
                                                 str(pids[proxy])], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                    r = wrk(lab, url, args, a.seconds)
                    if perf:
                        perf.send_signal(2)
                        perf.wait(timeout=30)
                    if stat:
                        stat.send_signal(2)
                        err = stat.communicate(timeout=30)[1].decode()
                        calls = next((int(l.split(",")[0]) for l in err.splitlines() if "raw_syscalls" in l), 0)
                        print("round 0  %-26s %-8s %.2f system calls per request" % (
                            name, proxy, calls / max(r["requests"], 1)), flush=True)
                    r.update(proxy=proxy, scenario=name, round=rnd,
                             cpu_per_10k=(cpu_seconds(pids[proxy]) - c0) / max(r["requests"], 1) * 10000)
                    if r["problems"]:
                        raise RuntimeError("%s / %s: %d failed responses\n%s" % (proxy, name, r["problems"], r["raw"]))
                    del r["raw"]
                    results.append(r)
                    print("round %d  %-26s %-8s %9.0f req/s  p50 %7.2f ms  p99 %7.2f ms  %.3f CPU s/10k" % (
                        rnd, name, proxy, r["rps"], r["p50"], r["p99"], r["cpu_per_10k"]), flush=True)
    finally:
        lab.down()

    print("\nCPU: %s; %d rounds of %d s; medians over rounds\n" % (cpu, a.rounds, a.seconds))
    print("%-26s | %-34s | %-34s | %s" % ("scenario", "xlbd: req/s  p50/p99 ms  CPU s/10k",
                                          "haproxy: req/s  p50/p99 ms  CPU s/10k", "xlbd/haproxy req/s, CPU"))
    for name, _, _ in SCENARIOS:
        row = {}
        for proxy in ("xlbd", "haproxy"):
            rs = [r for r in results if r["scenario"] == name and r["proxy"] == proxy]
            row[proxy] = {k: statistics.median(r[k] for r in rs) for k in ("rps", "p50", "p99", "cpu_per_10k")}
        x, h = row["xlbd"], row["haproxy"]
        print("%-26s | %8.0f %6.2f/%-7.2f %7.3f | %8.0f %6.2f/%-7.2f %7.3f | %.2fx, %.2fx" % (
            name, x["rps"], x["p50"], x["p99"], x["cpu_per_10k"], h["rps"], h["p50"], h["p99"], h["cpu_per_10k"],
            x["rps"] / h["rps"], x["cpu_per_10k"] / h["cpu_per_10k"]))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"cpu": cpu, "results": results}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
