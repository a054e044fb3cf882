#!/usr/bin/env python3
"""Builds of xlb as users and Debian make them, each in a fresh tree:
- the .deb: Release, Debian's own build flags (dpkg-buildflags), warnings as
  errors, CPack; then its Depends, its files and the installed programs;
- clang 16 (the first clang of Debian 12 that builds xlb's C++), warnings
  as errors.
The source is the checkout these tests belong to; the trees go to /tmp and
are removed on every exit path."""
import os
import re
import shutil
import subprocess
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
JOBS = str(os.cpu_count() or 2)


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise AssertionError("failed (%d): %s\n%s%s" % (r.returncode, " ".join(cmd), r.stdout[-4000:], r.stderr[-4000:]))
    return r


class BuildCase(unittest.TestCase):
    def setUp(self):
        self.work = tempfile.mkdtemp(prefix="xlbbuild")
        self.addCleanup(shutil.rmtree, self.work, True)

    def configure_and_build(self, env, *args):
        build = os.path.join(self.work, "build")
        run(["cmake", "-S", ROOT, "-B", build, "-DXLB_BUILD_TESTS=OFF", "-DXLB_WERROR=ON"] + list(args), env=env)
        run(["cmake", "--build", build, "-j", JOBS], env=env)
        return build

    def test_deb_release_with_debian_flags(self):
        env = dict(os.environ)
        flags = run(["dpkg-buildflags", "--export=sh"]).stdout
        for m in re.finditer(r'export (\w+)="([^"]*)"', flags):
            env[m.group(1)] = m.group(2)
        self.assertIn("-fstack-protector-strong", env["CXXFLAGS"])
        build = self.configure_and_build(
            env, "-DCMAKE_BUILD_TYPE=Release", "-DCMAKE_INSTALL_PREFIX=/usr",
            "-DCMAKE_C_FLAGS=%s %s" % (env["CFLAGS"], env["CPPFLAGS"]),
            "-DCMAKE_CXX_FLAGS=%s %s" % (env["CXXFLAGS"], env["CPPFLAGS"]),
            "-DCMAKE_EXE_LINKER_FLAGS=%s" % env["LDFLAGS"])
        run(["cpack", "-G", "DEB"], cwd=build)
        debs = [f for f in os.listdir(build) if f.endswith(".deb")]
        self.assertEqual(len(debs), 1, debs)
        deb = os.path.join(build, debs[0])

        info = run(["dpkg-deb", "-f", deb, "Package", "Version", "Depends", "Architecture"]).stdout
        depends = re.search(r"^Depends: (.*)$", info, re.M).group(1)
        for lib in ("libbpf1", "libxdp1", "libssl3", "libyaml-cpp0.7", "libmnl0", "libsystemd0", "libstdc++6",
                    "libc6"):
            self.assertRegex(depends, r"(^|, )%s( \(|,|$)" % re.escape(lib), depends)
        self.assertIn("Package: xlb", info)

        files = run(["dpkg-deb", "-c", deb]).stdout
        for path in ("./usr/sbin/xlbd", "./usr/sbin/xlbctl", "./usr/lib/systemd/system/xlbd.service",
                     "./etc/xlb/xlb.yaml.example", "./usr/share/man/man8/xlbd.8.gz", "./usr/share/man/man8/xlbctl.8.gz",
                     "./usr/share/bash-completion/completions/xlbctl", "./usr/share/doc/xlb/README.md"):
            self.assertIn(path, files)
        self.assertNotIn("xlb_unit_tests", files)
        conffiles = run(["dpkg-deb", "-I", deb, "conffiles"]).stdout
        self.assertIn("/etc/xlb/xlb.yaml.example", conffiles)

        # What the package installs works: versions, man pages, completion,
        # the example config, and the unit file systemd would load.
        root = os.path.join(self.work, "root")
        run(["dpkg-deb", "-x", deb, root])
        self.assertIn("xlbd 0.", run([root + "/usr/sbin/xlbd", "--version"]).stdout)
        self.assertIn("xlbctl 0.", run([root + "/usr/sbin/xlbctl", "--version"]).stdout)
        man = run(["sh", "-c", "zcat %s/usr/share/man/man8/xlbctl.8.gz | man -l -" % root],
                  env=dict(os.environ, MANWIDTH="100")).stdout
        self.assertIn("xlbctl backend weight", man)
        self.assertIn("--check-config", run(["sh", "-c", "zcat %s/usr/share/man/man8/xlbd.8.gz | man -l -" % root]).stdout)
        run(["bash", "-n", root + "/usr/share/bash-completion/completions/xlbctl"])
        ok = subprocess.run([root + "/usr/sbin/xlbd", "--check-config", root + "/etc/xlb/xlb.yaml.example"],
                            capture_output=True, text=True)
        # The example names eth0; on a host without it, that (and only that) is what is said.
        self.assertTrue(ok.returncode == 0 or "interface 'eth0' not found" in ok.stderr, ok.stderr)
        unit = root + "/usr/lib/systemd/system/xlbd.service"
        with open(unit) as f:
            text = f.read()
        # systemd's own check of every directive: its programs pointed at
        # the extracted ones (it wants them to exist), nothing else changed.
        copy = os.path.join(self.work, "xlbd.service")
        with open(copy, "w") as f:
            f.write(text.replace("/usr/sbin/", root + "/usr/sbin/"))
        v = subprocess.run(["systemd-analyze", "verify", "--man=no", copy], capture_output=True, text=True)
        self.assertEqual((v.returncode, v.stdout + v.stderr), (0, ""))
        self.assertIn("Type=notify", text)
        self.assertIn("StateDirectory=xlb", text)
        self.assertIn("ExecReload=/usr/sbin/xlbctl --socket /run/xlb/xlbd.sock reload", text)

    def test_clang16_builds_everything(self):
        if not shutil.which("clang++-16"):
            self.fail("clang-16 is missing: tools/setup.sh --tests installs it")
        env = dict(os.environ, CC="clang-16", CXX="clang++-16")
        build = self.configure_and_build(env, "-DCMAKE_BUILD_TYPE=RelWithDebInfo")
        self.assertIn("xlbctl 0.", run([os.path.join(build, "tools", "xlbctl"), "--version"]).stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
