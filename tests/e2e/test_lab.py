#!/usr/bin/env python3
"""End-to-end: real HTTP servers on three backends in namespaces, real TCP
connections from a client through xlb_xdp, in both forwarding modes and
both address families. Every lab is uniquely named and removed on exit."""
import json
import os
import shutil
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tools", "lab"))
import xlblab  # noqa: E402

BUILD = os.environ.get("XLB_BUILD", os.path.join(ROOT, "build"))



class LabCase(unittest.TestCase):
    def setUp(self):
        if os.geteuid() != 0:
            self.skipTest("needs root (namespaces, XDP)")
        self.lab = xlblab.Lab(BUILD)
        self.addCleanup(self.lab.down)
        self.lab.up()
        self.lab.start_backends()

    def vip_host(self, family):
        return xlblab.VIP4 if family == 4 else xlblab.VIP6

    def check_distribution(self, forward, family):
        ep = self.lab.setup_xlb(forward, family)
        res = self.lab.requests(self.vip_host(family), 300)
        self.assertEqual(res["failures"], 0, res["errors"])
        self.assertEqual(sum(res["nodes"].values()), 300)
        for b in self.lab.backend_names():
            share = res["nodes"].get(b, 0) / 300.0
            self.assertTrue(0.20 <= share <= 0.47, "%s got %.1f%% of new connections" % (b, share * 100))
        stats = self.lab.stats()
        vip = [v for v in stats["vips"] if v["vip"] == ep][0]
        self.assertEqual(vip["new_flows"], 300)
        for b in vip["backends"]:
            name = "b%d" % (int(b["address"].replace(":", ".").split(".")[-1]) - 10)
            served = self.lab.served(name)
            self.assertEqual(b["new_flows"], served["connections"], "xlb vs server count for %s" % name)
            self.assertEqual(served["requests"], res["nodes"].get(name, 0))
        reasons = stats["reasons"]
        self.assertEqual(reasons["tx_flow_new"]["packets"], 300)
        self.assertEqual(reasons["drop_malformed"]["packets"], 0)
        # `backend add` resolved every next hop: no packet asked bpf_fib_lookup.
        self.assertEqual(stats["nexthop_fallbacks"], 0)
        listed = json.loads(self.lab.xlbctl("vip", "list", "--json").stdout)
        for b in [b for v in listed if v["vip"] == ep for b in v["backends"]]:
            self.assertIsNotNone(b["nexthop"], b)

    def test_l2dsr_ipv4(self):
        self.check_distribution("l2dsr", 4)

    def test_l2dsr_ipv6(self):
        self.check_distribution("l2dsr", 6)

    def test_ipip_ipv4(self):
        self.check_distribution("ipip", 4)

    def test_ipip_ipv6(self):
        self.check_distribution("ipip", 6)

    def test_removed_backend_gets_no_new_connections(self):
        ep = self.lab.setup_xlb("l2dsr", 4)
        self.lab.xlbctl("backend", "del", ep, "--proto", "tcp", self.lab.addr4("b1"))
        res = self.lab.requests(xlblab.VIP4, 100)
        self.assertEqual(res["failures"], 0, res["errors"])
        self.assertNotIn("b1", res["nodes"])
        self.assertEqual(set(res["nodes"]), {"b2", "b3"})

    def test_drained_backend_finishes_its_open_connection(self):
        ep = self.lab.setup_xlb("l2dsr", 4)
        p = subprocess.Popen(self.lab.nsenter("client") + [sys.executable, "-c", xlblab.HOLD_CLIENT, xlblab.VIP4],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.addCleanup(p.kill)
        status, node = p.stdout.readline().split()
        self.assertEqual(status, "200")
        self.lab.xlbctl("backend", "set", ep, "--proto", "tcp", self.lab.addr4(node), "--weight", "0")
        res = self.lab.requests(xlblab.VIP4, 60)
        self.assertEqual(res["failures"], 0, res["errors"])
        self.assertNotIn(node, res["nodes"])
        p.stdin.write("\n")
        p.stdin.flush()
        status2, node2 = p.stdout.readline().split()
        self.assertEqual((status2, node2), ("200", node), "the drained backend's open connection must finish")
        p.wait(timeout=10)

    def test_xlbctl_rejects_bad_input_and_changes_nothing(self):
        ep = self.lab.setup_xlb("l2dsr", 4)
        before = self.lab.xlbctl("vip", "list", "--json").stdout
        cases = [
            (["vip", "add", "198.19.0.300:80", "--proto", "tcp"], "invalid address"),
            (["vip", "add", "198.19.0.5", "--proto", "tcp"], "ADDR:PORT"),
            (["vip", "add", "198.19.0.5:80", "--proto", "sctp"], "tcp or udp"),
            (["vip", "add", ep, "--proto", "tcp"], "exists"),
            (["vip", "add", "198.19.0.5:80", "--proto", "tcp", "--forward", "gre"], "l2dsr or ipip"),
            (["vip", "del", "198.19.0.5:80", "--proto", "tcp"], "no such VIP"),
            (["backend", "add", "198.19.0.5:80", "--proto", "tcp", "198.18.0.11"], "no such VIP"),
            (["backend", "add", ep, "--proto", "tcp", "2001:db8:0:1::11"], "address family"),
            (["backend", "add", ep, "--proto", "tcp", "198.18.0.11"], "already"),
            (["backend", "set", ep, "--proto", "tcp", "198.18.0.99", "--weight", "2"], "no backend"),
            (["backend", "del", ep, "--proto", "tcp", "nonsense"], "invalid address"),
            (["attach", "nosuchif0"], "not found"),
            (["vip", "add"], "required"),
        ]
        for args, words in cases:
            r = self.lab.xlbctl(*args, check=False)
            self.assertNotEqual(r.returncode, 0, args)
            self.assertIn(words, r.stderr, "%s: %s" % (args, r.stderr))
        # Values out of bounds are usage errors (exit 2) that give the range.
        usage = [
            (["backend", "add", ep, "--proto", "tcp", "198.18.0.14", "--weight", "4294967295"], "use 0 to 65535"),
            (["stats", "--watch", "nan"], "use 0.1 to 3600"),
            (["stats", "--watch", "0"], "use 0.1 to 3600"),
            (["flows", "list", "--limit", "-1"], "use 1 to 100000000"),
        ]
        for args, words in usage:
            r = self.lab.xlbctl(*args, check=False)
            self.assertEqual(r.returncode, 2, args)
            self.assertIn(words, r.stderr, "%s: %s" % (args, r.stderr))
        for addr, words in (("0.0.0.0", "not a host"), ("224.0.0.1", "multicast"), ("255.255.255.255", "broadcast")):
            r = self.lab.xlbctl("backend", "add", ep, "--proto", "tcp", addr, check=False)
            self.assertEqual(r.returncode, 1, addr)
            self.assertIn(words, r.stderr)
        r = subprocess.run([os.path.join(BUILD, "userspace", "daemon", "xlbd"), "--no-such-flag"],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 2, r.stderr)
        r = self.lab.xlbctl("vip", "list", pin=self.lab.pin + "/nothing", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("not attached", r.stderr)
        self.assertIn("xlbctl attach", r.stderr)
        r = self.lab.sh("lb", "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                        os.path.join(BUILD, "tools", "xlbctl"), "--pin-path", self.lab.pin + "/lb",
                        "vip", "del", ep, "--proto", "tcp", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("needs root", r.stderr)
        self.assertEqual(self.lab.xlbctl("vip", "list", "--json").stdout, before)
        res = self.lab.requests(xlblab.VIP4, 30)
        self.assertEqual(res["failures"], 0, res["errors"])

    def test_attach_never_takes_an_interface_from_another_instance_or_program(self):
        lab = self.lab
        ep = lab.setup_xlb("l2dsr", 4)
        other = lab.pin + "/other"
        prog = json.loads(lab.sh("lb", "ip", "-j", "-d", "link", "show", "dev", "eth0").stdout)[0]["xdp"]["prog"]["id"]
        # Another pin path: refused, the first instance keeps the interface and its traffic.
        r = lab.xlbctl("attach", "eth0", pin=other, check=False)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("already runs xlb_xdp (program id %d) of another xlb instance" % prog, r.stderr)
        self.assertIn("--force", r.stderr)
        self.assertEqual(lab.requests(xlblab.VIP4, 20)["failures"], 0)
        # --force replaces it; the first instance's detach then refuses to
        # touch the other's program and keeps its own pins.
        lab.xlbctl("attach", "eth0", "--force", pin=other)
        r = lab.xlbctl("detach", "eth0", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("belongs to another xlb instance", r.stderr)
        self.assertTrue(os.path.exists(lab.pin + "/lb/xlb_vips"), "the first instance's pins were removed")
        self.assertTrue(os.path.exists(other + "/xlb_vips"))
        lab.xlbctl("detach", "eth0", pin=other)
        self.assertFalse(os.path.exists(other + "/xlb_vips"), "the last detach unpins")
        # Nothing attached now: the first instance's detach cleans its own bookkeeping.
        out = lab.xlbctl("detach", "eth0").stdout
        self.assertIn("no longer attached", out)
        self.assertFalse(os.path.exists(lab.pin + "/lb/xlb_vips"))
        # Any other XDP program holding the interface is refused too.
        lab.sh("lb", "ip", "link", "set", "dev", "eth0", "xdpdrv", "obj",
               os.path.join(BUILD, "bpf", "xlb_pass.bpf.o"), "sec", "xdp")
        r = lab.xlbctl("attach", "eth0", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("already runs the XDP program 'xlb_pass'", r.stderr)
        self.assertIn("ip link set dev eth0 xdp off", r.stderr)
        lab.xlbctl("attach", "eth0", "--force")
        self.assertIn("xlb_xdp", lab.sh("lb", "ip", "-d", "link", "show", "dev", "eth0").stdout)

    def test_forwarding_off_is_named_at_attach_vip_backend_stats_and_explain(self):
        lab = self.lab
        lab.sh("lb", "sysctl", "-qw", "net.ipv4.conf.eth0.forwarding=0")
        fix = "sysctl -w net.ipv4.conf.eth0.forwarding=1"
        r = lab.xlbctl("attach", "eth0", "--mode", "native")
        self.assertIn("IPv4 forwarding is off on eth0", r.stderr)
        self.assertIn(fix, r.stderr)
        ep = "%s:80" % xlblab.VIP4
        self.assertIn(fix, lab.xlbctl("vip", "add", ep, "--proto", "tcp").stderr)
        for b in lab.backend_names():
            self.assertIn(fix, lab.xlbctl("backend", "add", ep, "--proto", "tcp", lab.addr4(b)).stderr)
        res = lab.requests(xlblab.VIP4, 2, deadline=8)
        self.assertEqual(res["failures"], 2)
        stats = lab.stats()
        self.assertGreater(stats["reasons"]["pass_fwd_disabled"]["packets"], 0)
        self.assertEqual(stats["reasons"]["pass_fib_kernel"]["packets"], 0)
        self.assertIn("pass_fwd_disabled", lab.xlbctl("stats").stdout)
        ex = json.loads(lab.xlbctl("explain", "--proto", "tcp", "198.18.0.1:40000", ep, "--json").stdout)
        self.assertTrue(any(fix in n for n in ex["notes"]), ex)
        # Fixed as told: traffic flows.
        lab.sh("lb", "sysctl", "-qw", "net.ipv4.conf.eth0.forwarding=1")
        self.assertEqual(lab.requests(xlblab.VIP4, 20)["failures"], 0)

    def test_backend_add_keeps_an_operators_permanent_neighbour_entry(self):
        lab = self.lab
        mac = json.loads(lab.sh("b1", "ip", "-j", "link", "show", "dev", "eth0").stdout)[0]["address"]
        lab.sh("lb", "ip", "neigh", "add", lab.addr4("b1"), "lladdr", mac, "dev", "eth0", "nud", "permanent")
        lab.setup_xlb("l2dsr", 4)
        entry = json.loads(lab.sh("lb", "ip", "-j", "-d", "neigh", "show", lab.addr4("b1"), "dev", "eth0").stdout)[0]
        self.assertEqual(entry["state"], ["PERMANENT"], entry)
        self.assertNotIn("managed", entry.get("flags", []) + entry.get("flags_ext", []), entry)
        self.assertEqual(entry["lladdr"], mac)
        # The others had none: created, managed by the kernel.
        other = json.loads(lab.sh("lb", "ip", "-j", "-d", "neigh", "show", lab.addr4("b2"), "dev", "eth0").stdout)[0]
        self.assertIn("managed", json.dumps(other), other)
        res = lab.requests(xlblab.VIP4, 60)
        self.assertEqual(res["failures"], 0, res["errors"])
        self.assertIn("b1", res["nodes"])
        self.assertEqual(lab.stats()["reasons"]["drop_no_neigh"]["packets"], 0)

    def test_operator_views_stats_rates_flows_decap_metrics(self):
        lab = self.lab
        ep = lab.setup_xlb("ipip", 4)
        self.assertEqual(lab.requests(xlblab.VIP4, 30)["failures"], 0)
        # decap list on a backend: where it runs, for which VIPs, what it did.
        d = json.loads(lab.xlbctl("decap", "list", "--json", host="b1", pin=lab.pin + "/b1").stdout)
        self.assertEqual(d["interfaces"], ["eth0"])
        self.assertEqual(sorted(d["vips"]), sorted([xlblab.VIP4, xlblab.VIP6]))
        self.assertGreater(d["reasons"]["decap"]["packets"], 0)
        self.assertIn("xlb_decap on: eth0", lab.xlbctl("decap", "list", host="b1", pin=lab.pin + "/b1").stdout)
        # flows list: N of M, and each flow's age.
        text = lab.xlbctl("flows", "list", "--limit", "5").stdout
        self.assertIn("5 of 30 flows shown (table capacity 262144 per family); --limit N shows more", text)
        self.assertIn("IDLE", text)
        flows = json.loads(lab.xlbctl("flows", "list", "--json").stdout)
        self.assertEqual(len(flows), 30)
        self.assertTrue(all(0 <= f["idle_seconds"] < 60 and f["vip_key"] == ep + "/tcp" for f in flows), flows[0])
        # stats --json: a schema version and a timestamp; the old keys stay.
        st = lab.stats()
        self.assertEqual(st["schema"], 2)
        self.assertLess(abs(st["timestamp"] - time.time()), 30)
        self.assertEqual(st["vips"][0]["vip"], ep)
        self.assertEqual(st["vips"][0]["vip_key"], ep + "/tcp")
        # --watch: rates with units, while traffic flows.
        bg = subprocess.Popen(lab.client_cmd(xlblab.VIP4, 60, interval=0.02), stdout=subprocess.DEVNULL)
        self.addCleanup(lambda: bg.poll() is None and bg.kill())
        time.sleep(0.2)
        text = lab.xlbctl("stats", "--watch", "0.3", "--count", "2").stdout
        self.assertEqual(text.count("--- 0.3s ---"), 2, text)
        self.assertRegex(text, r"tx_flow_new +[0-9.]+ (k )?pps +[0-9.]+ [kM]?bit/s")
        line = lab.xlbctl("stats", "--watch", "0.3", "--count", "1", "--json").stdout.strip()
        w = json.loads(line)
        self.assertAlmostEqual(w["interval_seconds"], 0.3, delta=0.2)
        self.assertGreater(w["vips"][0]["rates"]["packets_per_second"], 0)
        self.assertIn("bits_per_second", w["reasons"]["tx_flow_new"])
        bg.wait(timeout=30)

    def test_lab_down_stops_only_the_labs_own_processes(self):
        lab = self.lab
        lab.start_xlbd(lab.xlbd_config())
        # Look-alikes outside the lab: a process called xlbd and one whose
        # command line names backend_server.py.
        decoy_dir = os.path.join(lab.run_dir, "decoy")
        os.makedirs(decoy_dir)
        shutil.copy("/bin/sleep", os.path.join(decoy_dir, "xlbd"))
        decoys = [subprocess.Popen([os.path.join(decoy_dir, "xlbd"), "60"]),
                  subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "backend_server.py"])]
        for d in decoys:
            self.addCleanup(lambda d=d: d.poll() is None and d.kill())
        ours = list(lab.procs)
        r = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "lab", "xlblab.py"), "--build", BUILD, "down",
                            lab.id], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("%d processes stopped" % len(ours), r.stdout)
        for p in ours:
            self.assertIsNotNone(p.wait(timeout=5), p.args)
        for d in decoys:
            self.assertIsNone(d.poll(), "a process outside the lab was stopped: %s" % d.args)

    def test_readme_demos_run_and_clean_up(self):
        # The README's first command ends in `demo`; --http is the L7 one.
        for args in ([], ["--http"]):
            r = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "lab", "xlblab.py"), "--build", BUILD,
                                "demo"] + args, capture_output=True, text=True, timeout=150)
            self.assertEqual(r.returncode, 0, r.stdout[-3000:] + r.stderr[-2000:])
            self.assertIn("demo OK", r.stdout)
            tag = r.stdout.split()[1]  # "lab TAG: creating ..."
            self.assertNotIn(tag, xlblab.run(["ip", "netns", "list"]).stdout)
            self.assertFalse(os.path.exists("/sys/fs/bpf/" + tag))
        self.assertIn("one browser session (its SERVERID cookie)", r.stdout)

    def test_reattach_replaces_program_without_losing_state(self):
        ep = self.lab.setup_xlb("l2dsr", 4)
        out = self.lab.xlbctl("attach", "eth0").stdout
        self.assertIn("replaced", out)
        vips = json.loads(self.lab.xlbctl("vip", "list", "--json").stdout)
        self.assertEqual([v["vip"] for v in vips], [ep])
        self.assertEqual(len(vips[0]["backends"]), 3)
        res = self.lab.requests(xlblab.VIP4, 30)
        self.assertEqual(res["failures"], 0, res["errors"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
