// SPDX-License-Identifier: Apache-2.0
// Config: a good file loads whole; every class of error names file:line: key.
#include "xlb/config.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

namespace xlb {
namespace {

const char* kGood = R"(pin_path: /sys/fs/bpf/xlbtest
control_socket: /run/xlbtest/xlbd.sock
metrics: {listen: 127.0.0.1:9200, path: /m}
initial_state: up
limits: {ring_size: 1031, max_backends: 128}
interfaces:
  - name: eth0
    mode: native
vips:
  - address: 198.18.0.100:443
    proto: tcp
    forward: ipip
    all_down: send_to_all
    check:
      type: https
      path: /api/v2/ping/
      expect_status: [200, "300-302"]
      expect_body: '"ha"'
      interval: 2s
      timeout: 500ms
      rise: 3
      fall: 2
      verify: false
      sni: awx.example
    backends:
      - address: 198.18.0.11
        name: node1
      - address: 198.18.0.12
        weight: 3
        check: {type: http, port: 8080, path: /health, expect_body: UP}
  - address: "[2001:db8::100]:80"
    backends:
      - {address: 2001:db8::11}
)";

// The error text for a config that must be rejected.
std::string errorOf(const std::string& yaml) {
  auto c = parseConfig(yaml, "t.yaml");
  EXPECT_FALSE(c) << "accepted:\n" << yaml;
  return c ? std::string() : c.error().message;
}

TEST(Config, LoadsAGoodFileWhole) {
  auto c = parseConfig(kGood, "t.yaml");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->pinPath, "/sys/fs/bpf/xlbtest");
  EXPECT_EQ(c->controlSocket, "/run/xlbtest/xlbd.sock");
  ASSERT_TRUE(c->metricsListen);
  EXPECT_EQ(c->metricsListen->str(), "127.0.0.1:9200");
  EXPECT_EQ(c->metricsPath, "/m");
  EXPECT_TRUE(c->startUp);
  EXPECT_EQ(*c->load.ringSize, 1031u);
  EXPECT_EQ(*c->load.maxBackends, 128u);
  ASSERT_EQ(c->interfaces.size(), 1u);
  EXPECT_EQ(c->interfaces[0].mode, AttachMode::Native);
  ASSERT_EQ(c->vips.size(), 2u);
  const auto& v = c->vips[0];
  EXPECT_EQ(v.key.str(), "198.18.0.100:443/tcp");
  EXPECT_EQ(v.forward, XLB_FWD_IPIP);
  EXPECT_EQ(v.allDown, AllDown::SendToAll);
  EXPECT_EQ(v.line, 10);
  ASSERT_EQ(v.backends.size(), 2u);
  const auto& b1 = v.backends[0];
  EXPECT_EQ(b1.name, "node1");
  EXPECT_EQ(b1.weight, 1u);
  EXPECT_EQ(b1.check.type, CheckType::Https);
  EXPECT_EQ(b1.check.path, "/api/v2/ping/");
  EXPECT_EQ(b1.check.expectStatus, (std::vector<StatusRange>{{200, 200}, {300, 302}}));
  EXPECT_EQ(b1.check.expectBody, "\"ha\"");
  EXPECT_EQ(b1.check.interval, Millis(2000));
  EXPECT_EQ(b1.check.timeout, Millis(500));
  EXPECT_EQ(b1.check.rise, 3);
  EXPECT_EQ(b1.check.fall, 2);
  EXPECT_FALSE(b1.check.verify);
  EXPECT_EQ(b1.check.sni, "awx.example");
  // A backend's check overrides key by key; the rest comes from the VIP's.
  const auto& b2 = v.backends[1];
  EXPECT_EQ(b2.weight, 3u);
  EXPECT_EQ(b2.name, "198.18.0.12");
  EXPECT_EQ(b2.check.type, CheckType::Http);
  EXPECT_EQ(*b2.check.port, 8080);
  EXPECT_EQ(b2.check.path, "/health");
  EXPECT_EQ(b2.check.expectBody, "UP");
  EXPECT_EQ(b2.check.interval, Millis(2000));
  EXPECT_EQ(b2.check.rise, 3);
  // Defaults: tcp, l2dsr, no check.
  const auto& v6 = c->vips[1];
  EXPECT_EQ(v6.key.str(), "[2001:db8::100]:80/tcp");
  EXPECT_EQ(v6.forward, XLB_FWD_L2DSR);
  EXPECT_EQ(v6.backends[0].check.type, CheckType::None);
}

struct BadCase {
  const char* name;
  const char* yaml;
  const char* expect;  // the start of the message
};

const char* kHead = "interfaces: [{name: eth0}]\nvips:\n";

TEST(Config, EveryErrorNamesFileLineAndKey) {
  const BadCase cases[] = {
      {"unknown top-level key", "interfaces: [{name: eth0}]\nvipz: []\n", "t.yaml:2: vipz: unknown key"},
      {"unknown vip key", "  - address: 198.18.0.1:80\n    prot: tcp\n    backends: []\n", "t.yaml:4: prot: unknown key in vip"},
      {"unknown check key", "  - address: 198.18.0.1:80\n    check:\n      type: http\n      intervall: 1s\n    backends: []\n",
       "t.yaml:6: intervall: unknown key in check"},
      {"wrong type: weight", "  - address: 198.18.0.1:80\n    backends:\n      - address: 198.18.0.11\n        weight: heavy\n",
       "t.yaml:6: weight: must be an integer"},
      {"wrong type: backends", "  - address: 198.18.0.1:80\n    backends: 198.18.0.11\n", "t.yaml:4: backends: must be a list"},
      {"wrong type: verify", "  - address: 198.18.0.1:443\n    check: {type: https, verify: maybe}\n    backends: []\n",
       "t.yaml:4: verify: must be true or false"},
      {"bad VIP address", "  - address: 198.18.0.300:80\n    backends: []\n", "t.yaml:3: address:"},
      {"bad backend address", "  - address: 198.18.0.1:80\n    backends:\n      - address: 198.18.0.x\n",
       "t.yaml:5: address:"},
      {"family mismatch", "  - address: 198.18.0.1:80\n    backends:\n      - address: 2001:db8::1\n",
       "t.yaml:5: address: an l2dsr VIP's backends must be of its address family"},
      {"duplicate VIP", "  - address: 198.18.0.1:80\n    backends: []\n  - address: 198.18.0.1:80\n    backends: []\n",
       "t.yaml:5: address: duplicate VIP 198.18.0.1:80/tcp (first at line 3)"},
      {"duplicate backend", "  - address: 198.18.0.1:80\n    backends:\n      - address: 198.18.0.11\n      - address: 198.18.0.11\n",
       "t.yaml:6: address: backend 198.18.0.11 is listed twice"},
      {"missing ca_file", "  - address: 198.18.0.1:443\n    check: {type: https, ca_file: /nonexistent/ca.pem}\n    backends: []\n",
       "t.yaml:4: ca_file: no such file /nonexistent/ca.pem"},
      {"bad duration", "  - address: 198.18.0.1:80\n    check: {type: tcp, interval: soon}\n    backends: []\n",
       "t.yaml:4: interval: 'soon' is not a duration"},
      {"timeout over interval", "  - address: 198.18.0.1:80\n    check: {type: tcp, interval: 1s, timeout: 2s}\n    backends: []\n",
       "t.yaml:4: timeout: must not be longer than interval"},
      {"bad status", "  - address: 198.18.0.1:80\n    check: {type: http, expect_status: 999}\n    backends: []\n",
       "t.yaml:4: expect_status: '999' is not a status"},
      {"bad check type", "  - address: 198.18.0.1:80\n    check: {type: icmp}\n    backends: []\n",
       "t.yaml:4: type: 'icmp' is not a check type"},
      {"bad forward", "  - address: 198.18.0.1:80\n    forward: nat\n    backends: []\n", "t.yaml:4: forward: invalid forwarding mode 'nat'"},
      {"rise out of range", "  - address: 198.18.0.1:80\n    check: {type: tcp, rise: 0}\n    backends: []\n",
       "t.yaml:4: rise: 0 is out of range 1..100"},
      {"key given twice", "  - address: 198.18.0.1:80\n    proto: tcp\n    proto: udp\n    backends: []\n", "t.yaml:5: proto: given twice"},
      {"missing backends", "  - address: 198.18.0.1:80\n", "t.yaml:3: backends: missing in vip"},
  };
  for (const auto& c : cases) {
    std::string yaml = std::string(c.yaml).rfind("interfaces", 0) == 0 ? c.yaml : std::string(kHead) + c.yaml;
    std::string err = errorOf(yaml);
    EXPECT_EQ(err.rfind(c.expect, 0), 0u) << c.name << ": got '" << err << "', want it to start with '" << c.expect << "'";
  }
}

// Values that would overflow the time arithmetic or a conversion, keys
// that mean nothing where they stand, addresses that are no host, header
// injection, capacities the first attach would refuse: all rejected with
// file:line.
TEST(Config, RejectsWhatWouldMisbehaveLater) {
  const BadCase cases[] = {
      {"huge interval", "  - address: 198.18.0.1:80\n    check: {type: tcp, interval: 100000000000000ms}\n    backends: []\n",
       "t.yaml:4: interval: '100000000000000ms' is longer than a week"},
      {"1e20 seconds", "  - address: 198.18.0.1:80\n    check: {type: tcp, interval: 1e20s}\n    backends: []\n",
       "t.yaml:4: interval: '1e20s' is longer than a week"},
      {"nan", "  - address: 198.18.0.1:80\n    check: {type: tcp, timeout: nans}\n    backends: []\n",
       "t.yaml:4: timeout: 'nans' is not a duration"},
      {"inf", "  - address: 198.18.0.1:80\n    check: {type: tcp, interval: infs}\n    backends: []\n",
       "t.yaml:4: interval: 'infs' is not a duration"},
      {"interval below 10ms", "  - address: 198.18.0.1:80\n    check: {type: tcp, interval: 1ms, timeout: 1ms}\n    backends: []\n",
       "t.yaml:4: interval: must be from 10ms to 86400s"},
      {"path on a tcp check", "  - address: 198.18.0.1:80\n    check: {type: tcp, path: /x}\n    backends: []\n",
       "t.yaml:4: path: means nothing for a tcp check"},
      {"expect_body on a tcp check", "  - address: 198.18.0.1:80\n    check:\n      type: tcp\n      expect_body: UP\n    backends: []\n",
       "t.yaml:6: expect_body: means nothing for a tcp check"},
      {"verify on an http check", "  - address: 198.18.0.1:80\n    check: {type: http, verify: false}\n    backends: []\n",
       "t.yaml:4: verify: means nothing for an http check"},
      {"settings on no check", "  - address: 198.18.0.1:80\n    check: {type: none, interval: 1s}\n    backends: []\n",
       "t.yaml:4: interval: means nothing with check type none"},
      {"override meaningless for the inherited type",
       "  - address: 198.18.0.1:80\n    check: {type: tcp}\n    backends:\n      - {address: 198.18.0.11, check: {path: /p}}\n",
       "t.yaml:6: path: means nothing for a tcp check"},
      {"backend 0.0.0.0", "  - address: 198.18.0.1:80\n    backends:\n      - address: 0.0.0.0\n",
       "t.yaml:5: address: 0.0.0.0: 0.0.0.0/8 is 'this network'"},
      {"multicast backend", "  - address: 198.18.0.1:80\n    backends:\n      - address: 224.0.0.1\n",
       "t.yaml:5: address: 224.0.0.1: a multicast address is not a host"},
      {"broadcast backend", "  - address: 198.18.0.1:80\n    backends:\n      - address: 255.255.255.255\n",
       "t.yaml:5: address: 255.255.255.255: the broadcast address is not a host"},
      {"loopback VIP", "  - address: 127.0.0.1:80\n    backends: []\n", "t.yaml:3: address: 127.0.0.1: a loopback address"},
      {"multicast check address", "  - address: \"[2001:db8::1]:80\"\n    check: {type: tcp, address: \"ff02::1\"}\n    backends: []\n",
       "t.yaml:4: address: ff02::1: a multicast address is not a host"},
      {"header injection in host", "  - address: 198.18.0.1:80\n    check: {type: http, host: \"a\\r\\nX-Evil: 1\"}\n    backends: []\n",
       "t.yaml:4: host: 'a\r\nX-Evil: 1' is not a host name"},
      {"space in path", "  - address: 198.18.0.1:80\n    check: {type: http, path: \"/a b\"}\n    backends: []\n",
       "t.yaml:4: path: must be printable, without spaces"},
      {"weight above the maximum", "  - address: 198.18.0.1:80\n    backends:\n      - {address: 198.18.0.11, weight: 4294967295}\n",
       "t.yaml:5: weight: 4294967295 is out of range 0..65535"},
      {"ring size not a prime", "interfaces: [{name: eth0}]\nlimits: {ring_size: 1000}\nvips: []\n",
       "t.yaml:2: limits: ring size 1000 is not a prime"},
      {"more VIPs than max_vips", "interfaces: [{name: eth0}]\nlimits: {max_vips: 1}\nvips:\n"
       "  - {address: 198.18.0.1:80, backends: []}\n  - {address: 198.18.0.2:80, backends: []}\n",
       "t.yaml:2: limits: 2 VIPs, but max_vips is 1"},
      {"encap of the wrong family", "interfaces: [{name: eth0}]\nencap: {ipv4_source: \"2001:db8::/64\"}\nvips: []\n",
       "t.yaml:2: ipv4_source: must be an IPv4 prefix"},
  };
  for (const auto& c : cases) {
    std::string yaml = std::string(c.yaml).rfind("interfaces", 0) == 0 ? c.yaml : std::string(kHead) + c.yaml;
    std::string err = errorOf(yaml);
    EXPECT_EQ(err.rfind(c.expect, 0), 0u) << c.name << ": got '" << err << "', want it to start with '" << c.expect << "'";
  }
}

// One run names every error in the file, in the file's order; what is
// right around them is not reported.
TEST(Config, ReportsEveryErrorInTheFile) {
  std::string err = errorOf(std::string(kHead) +
                            "  - address: 198.18.0.1:80\n"            // 3
                            "    prot: tcp\n"                         // 4: unknown key
                            "    check: {type: tcp, rise: 0}\n"       // 5: out of range
                            "    backends:\n"                         // 6
                            "      - address: 198.18.0.11\n"          // 7
                            "      - address: 224.0.0.9\n"            // 8: multicast
                            "      - {address: 198.18.0.12, weight: x}\n"  // 9: not an integer
                            "  - address: 198.18.0.2:80\n"            // 10
                            "    forward: nat\n"                      // 11: bad mode
                            "    backends: []\n");
  std::vector<std::string> lines;
  for (size_t at = 0; at < err.size();) {
    size_t nl = err.find('\n', at);
    lines.push_back(err.substr(at, nl == std::string::npos ? std::string::npos : nl - at));
    at = nl == std::string::npos ? err.size() : nl + 1;
  }
  ASSERT_EQ(lines.size(), 5u) << err;
  EXPECT_EQ(lines[0].rfind("t.yaml:4: prot: unknown key", 0), 0u) << lines[0];
  EXPECT_EQ(lines[1].rfind("t.yaml:5: rise: 0 is out of range", 0), 0u) << lines[1];
  EXPECT_EQ(lines[2].rfind("t.yaml:8: address: 224.0.0.9", 0), 0u) << lines[2];
  EXPECT_EQ(lines[3].rfind("t.yaml:9: weight: must be an integer", 0), 0u) << lines[3];
  EXPECT_EQ(lines[4].rfind("t.yaml:11: forward: invalid forwarding mode 'nat'", 0), 0u) << lines[4];
}

// What is read is a regular file of bounded size; anything else says
// what it is.
TEST(Config, ReadsOnlyRegularFilesOfBoundedSize) {
  auto dev = loadConfig("/dev/zero");
  ASSERT_FALSE(dev);
  EXPECT_EQ(dev.error().describe(), "/dev/zero is not a regular file (a device, pipe or socket): give a YAML file");
  std::string dir = ::testing::TempDir();
  auto d = loadConfig(dir);
  ASSERT_FALSE(d);
  EXPECT_NE(d.error().describe().find("is a directory, not a config file"), std::string::npos);
  std::string big = dir + "xlb_config_big.yaml";
  {
    std::ofstream out(big);
    out << "# " << std::string(kMaxConfigBytes, 'x') << "\n";
  }
  auto b = loadConfig(big);
  std::remove(big.c_str());
  ASSERT_FALSE(b);
  EXPECT_NE(b.error().describe().find("a config may have at most 4 MiB"), std::string::npos) << b.error().describe();
}

// --check-config and xlbd's start refuse interfaces this host lacks.
TEST(Config, CheckHostNamesMissingInterfacesByLine) {
  auto c = parseConfig("interfaces:\n  - name: lo\n  - name: xlbnosuch0\nvips: []\n", "t.yaml");
  ASSERT_TRUE(c) << c.error().message;
  auto h = checkHost(*c);
  ASSERT_FALSE(h);
  EXPECT_EQ(h.error().message, "t.yaml:3: name: interface 'xlbnosuch0' not found on this host (see: ip link)");
}

TEST(Config, SyntaxErrorsAndMissingPiecesNameALine) {
  EXPECT_EQ(errorOf("interfaces: [{name: eth0}]\nvips:\n  - address: [\n").rfind("t.yaml:", 0), 0u);
  EXPECT_EQ(errorOf("vips: []\n"), "t.yaml:1: interfaces: missing: name at least one interface to attach to");
  EXPECT_EQ(errorOf(""), "t.yaml:1: vips: the file is empty");
  auto missing = loadConfig("/nonexistent/xlb.yaml");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().describe(), "cannot read /nonexistent/xlb.yaml: No such file or directory");
}

TEST(Config, LoadsFromAFile) {
  std::string path = ::testing::TempDir() + "xlb_config_test.yaml";
  std::ofstream(path) << kGood;
  auto c = loadConfig(path);
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->file, path);
  std::remove(path.c_str());
}

TEST(Duration, Units) {
  EXPECT_EQ(*parseDuration("250ms"), Millis(250));
  EXPECT_EQ(*parseDuration("2s"), Millis(2000));
  EXPECT_EQ(*parseDuration("1.5"), Millis(1500));
  EXPECT_EQ(*parseDuration("1m"), Millis(60000));
  EXPECT_EQ(*parseDuration("2h"), Millis(7200000));
  EXPECT_FALSE(parseDuration("2d"));
  EXPECT_FALSE(parseDuration("-1s"));
  EXPECT_FALSE(parseDuration("nan"));
  EXPECT_FALSE(parseDuration("inf"));
  EXPECT_FALSE(parseDuration("1e300"));
}

}  // namespace
}  // namespace xlb

namespace xlb {
namespace {

// The shipped example must stay valid and mean what its comments say.
TEST(Config, OlamExampleIsValid) {
  auto c = loadConfig(XLB_SOURCE_DIR "/examples/olam-cluster.yaml");
  ASSERT_TRUE(c) << c.error().message;
  ASSERT_EQ(c->vips.size(), 2u);
  const auto& https = c->vips[0];
  EXPECT_EQ(https.key.ep.port, 443);
  ASSERT_EQ(https.backends.size(), 3u);
  for (const auto& b : https.backends) {
    EXPECT_EQ(b.check.type, CheckType::Https);
    EXPECT_EQ(b.check.path, "/api/v2/ping/");
    EXPECT_EQ(b.check.expectStatus, (std::vector<StatusRange>{{200, 200}}));
  }
  EXPECT_EQ(https.backends[2].weight, 2u);
  EXPECT_EQ(*c->vips[1].backends[0].check.port, 8080);
}

}  // namespace
}  // namespace xlb

namespace xlb {
namespace {

// The shipped HTTP example, with its certificate paths pointed at files
// that exist here.
TEST(Config, OlamHttpExampleIsValid) {
  std::ifstream in(XLB_SOURCE_DIR "/examples/olam-http.yaml");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str(), dir = ::testing::TempDir();
  for (const char* f : {"awx.pem", "awx.key"}) {
    std::ofstream(dir + f) << "x";
    text.replace(text.find(std::string("/etc/xlb/") + f), 9 + std::strlen(f), dir + f);
  }
  auto c = parseConfig(text, "olam-http.yaml");
  ASSERT_TRUE(c) << c.error().message;
  ASSERT_EQ(c->vips.size(), 2u);
  const auto& v = c->vips[0];
  EXPECT_EQ(v.mode, VipMode::Http);
  EXPECT_EQ(v.http.certs.size(), 1u);
  EXPECT_EQ(v.http.cookie, "SERVERID");
  EXPECT_EQ(v.http.timeouts.tunnel, Millis(3600000));
  EXPECT_EQ(v.backends[2].weight, 2u);
  EXPECT_EQ(v.backends[0].port, 80);
  EXPECT_EQ(c->vips[1].http.redirect, 301);
  EXPECT_TRUE(v.http.tlsResumption);  // on unless said otherwise
}

// The proxy's top-level keys, max_connections among them.
TEST(Config, ProxyKeys) {
  const char* head = "interfaces: [{name: eth0}]\nvips: []\n";
  auto c = parseConfig(std::string(head) + "proxy: {workers: 2, access_log: false, drain: 2s, max_connections: 5000}\n",
                       "t.yaml");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->proxyWorkers, 2u);
  EXPECT_FALSE(c->accessLog);
  EXPECT_EQ(c->proxyDrain, Millis(2000));
  EXPECT_EQ(c->proxyMaxConnections, 5000u);
  auto d = parseConfig(head, "t.yaml");
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_EQ(d->proxyMaxConnections, 0u);  // from the descriptor limit
  auto bad = parseConfig(std::string(head) + "proxy: {max_connections: 0}\n", "t.yaml");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("t.yaml:3: max_connections: 0 is out of range 1..16777216"), std::string::npos)
      << bad.error().message;
}

// tls: {resumption: false} in either form of the tls mapping; not inside
// one certificate of several (it is the VIP's, not a certificate's).
TEST(Config, TlsResumptionIsTheVipsSetting) {
  const char* head = "interfaces: [{name: eth0}]\nvips:\n";
  for (const char* tls : {"{cert_file: /etc/hostname, key_file: /etc/hostname, resumption: false}",
                          "{certificates: [{cert_file: /etc/hostname, key_file: /etc/hostname}], resumption: false}"}) {
    auto c = parseConfig(std::string(head) + "  - {address: 198.18.0.1:443, mode: http, tls: " + tls + ", backends: []}\n",
                         "t.yaml");
    ASSERT_TRUE(c) << tls << ": " << c.error().message;
    EXPECT_FALSE(c->vips[0].http.tlsResumption) << tls;
    EXPECT_EQ(c->vips[0].http.certs.size(), 1u) << tls;
  }
  auto bad = parseConfig(std::string(head) + "  - address: 198.18.0.1:443\n    mode: http\n    tls:\n"
                                             "      certificates:\n"
                                             "        - {cert_file: /etc/hostname, key_file: /etc/hostname, resumption: false}\n"
                                             "    backends: []\n",
                         "t.yaml");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("t.yaml:7: resumption: unknown key in tls certificate"), std::string::npos)
      << bad.error().message;
  bad = parseConfig(std::string(head) +
                        "  - {address: 198.18.0.1:443, mode: http, tls: {cert_file: /etc/hostname, key_file: /etc/hostname, "
                        "resumption: sometimes}, backends: []}\n",
                    "t.yaml");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("t.yaml:3: resumption: must be true or false"), std::string::npos)
      << bad.error().message;
}

TEST(Config, HttpVipKeysAndWhatMeansNothingInAMode) {
  const char* head = "interfaces: [{name: eth0}]\nvips:\n";
  auto ok = parseConfig(std::string(head) +
                            "  - address: 198.18.0.1:443\n    mode: http\n    balance: header:X-Tenant\n"
                            "    routes:\n      - {host: api.example, path_prefix: /api/, backends: [n1]}\n"
                            "      - {name: ui-v2, path_prefix: /ui/, backends: [n1, n2]}\n"
                            "    acl: {allow: [198.18.0.0/15], deny: [198.18.9.0/24]}\n"
                            "    forwarded: {mode: append, trusted_proxies: [198.18.0.0/24]}\n"
                            "    backend_tls: {sni: nodes.example}\n"
                            "    backends:\n      - {address: 198.18.0.11, port: 8080, name: n1}\n"
                            "      - {address: 198.18.0.11, port: 8081, name: n2}\n",
                        "t.yaml");
  ASSERT_TRUE(ok) << ok.error().message;
  const auto& h = ok->vips[0].http;
  EXPECT_EQ(h.balance, Balance::Header);
  EXPECT_EQ(h.balanceKey, "X-Tenant");
  ASSERT_EQ(h.routes.size(), 2u);
  EXPECT_EQ(h.routes[0].backends, std::vector<std::string>{"n1"});
  EXPECT_EQ(h.routes[0].name, "1");  // unnamed: its position
  EXPECT_EQ(h.routes[1].name, "ui-v2");
  EXPECT_TRUE(h.forwardedAppend);
  EXPECT_EQ(ok->vips[0].backends[1].port, 8081);
  EXPECT_TRUE(h.backendTls.enabled);
  EXPECT_TRUE(h.backendTls.verify);  // verified unless said otherwise
  EXPECT_EQ(h.backendTls.sni, "nodes.example");
  const BadCase cases[] = {
      {"forward on an http VIP", "  - {address: 198.18.0.1:80, mode: http, forward: ipip, backends: []}\n",
       "t.yaml:3: forward: means nothing for an http VIP"},
      {"send_to_all on an http VIP", "  - {address: 198.18.0.1:80, mode: http, all_down: send_to_all, backends: []}\n",
       "t.yaml:3: all_down: send_to_all means nothing for an http VIP"},
      {"http keys on an l4 VIP", "  - address: 198.18.0.1:80\n    cookie: {name: S}\n    backends: []\n",
       "t.yaml:4: cookie: means nothing for an l4 VIP (set mode: http)"},
      {"port on an l4 backend", "  - address: 198.18.0.1:80\n    backends:\n      - {address: 198.18.0.11, port: 81}\n",
       "t.yaml:5: port: means nothing for an l4 VIP"},
      {"route to an unknown backend", "  - address: 198.18.0.1:80\n    mode: http\n    routes: [{backends: [nope]}]\n"
                                      "    backends: [{address: 198.18.0.11, name: n1}]\n",
       "t.yaml:5: backends: no backend named 'nope' in this VIP"},
      {"route named default", "  - address: 198.18.0.1:80\n    mode: http\n    routes: [{name: default, backends: [n1]}]\n"
                              "    backends: [{address: 198.18.0.11, name: n1}]\n",
       "t.yaml:5: name: 'default' names the requests no route matches"},
      {"route name not a token", "  - address: 198.18.0.1:80\n    mode: http\n    routes: [{name: \"a b\", backends: [n1]}]\n"
                                 "    backends: [{address: 198.18.0.11, name: n1}]\n",
       "t.yaml:5: name: 'a b' must be 1 to 64 letters"},
      {"two routes of one name", "  - address: 198.18.0.1:80\n    mode: http\n    routes:\n      - {name: a, backends: [n1]}\n"
                                 "      - {name: a, backends: [n1]}\n    backends: [{address: 198.18.0.11, name: n1}]\n",
       "t.yaml:7: name: another route of this VIP is named 'a'"},
      {"a default name taken", "  - address: 198.18.0.1:80\n    mode: http\n    routes:\n      - {name: \"2\", backends: [n1]}\n"
                               "      - {backends: [n1]}\n    backends: [{address: 198.18.0.11, name: n1}]\n",
       "t.yaml:7: name: the route's default name '2' is another route's"},
      {"balance without a name", "  - {address: 198.18.0.1:80, mode: http, balance: header, backends: []}\n",
       "t.yaml:3: balance: 'header' needs a name"},
      {"unknown balance", "  - {address: 198.18.0.1:80, mode: http, balance: random, backends: []}\n",
       "t.yaml:3: balance: 'random' is not a balance"},
      {"missing certificate file", "  - {address: 198.18.0.1:443, mode: http, tls: {cert_file: /nonexistent.pem, key_file: /nonexistent.key}, backends: []}\n",
       "t.yaml:3: cert_file: no such file /nonexistent.pem"},
      {"redirect code", "  - {address: 198.18.0.1:80, mode: http, redirect: {scheme: https, code: 303}, backends: []}\n",
       "t.yaml:3: code: use 301, 302, 307 or 308"},
      {"redirect on a TLS VIP on 443", "  - address: 198.18.0.1:443\n    mode: http\n"
                                "    tls: {cert_file: /etc/hostname, key_file: /etc/hostname}\n"
                                "    redirect: {scheme: https}\n    backends: []\n",
       "t.yaml:6: redirect: a TLS VIP on 443 would redirect to itself"},
      {"bad cookie name", "  - {address: 198.18.0.1:80, mode: http, cookie: {name: \"a b\"}, backends: []}\n",
       "t.yaml:3: name: 'a b' is not a cookie name"},
      {"unknown mode", "  - {address: 198.18.0.1:80, mode: tcp, backends: []}\n", "t.yaml:3: mode: 'tcp' is not a mode"},
      {"backend_tls on an l4 VIP", "  - {address: 198.18.0.1:80, backend_tls: {verify: false}, backends: []}\n",
       "t.yaml:3: backend_tls: means nothing for an l4 VIP"},
      {"backend_tls ca_file unverified", "  - address: 198.18.0.1:80\n    mode: http\n"
                                         "    backend_tls: {verify: false, ca_file: /etc/hostname}\n    backends: []\n",
       "t.yaml:5: ca_file: means nothing with verify: false"},
      {"backend_tls missing ca_file", "  - {address: 198.18.0.1:80, mode: http, backend_tls: {ca_file: /nonexistent.pem}, backends: []}\n",
       "t.yaml:3: ca_file: no such file /nonexistent.pem"},
      {"backend_tls bad sni", "  - {address: 198.18.0.1:80, mode: http, backend_tls: {sni: \"a b\"}, backends: []}\n",
       "t.yaml:3: sni: 'a b' is not a host name"},
      {"same address and port twice", "  - address: 198.18.0.1:80\n    mode: http\n    backends:\n"
                                      "      - {address: 198.18.0.11, port: 80}\n      - {address: 198.18.0.11, port: 80}\n",
       "t.yaml:7: address: backend 198.18.0.11:80 is listed twice"},
  };
  for (const auto& c : cases) {
    std::string err = errorOf(std::string(head) + c.yaml);
    EXPECT_EQ(err.rfind(c.expect, 0), 0u) << c.name << ": got '" << err << "', want it to start with '" << c.expect << "'";
  }
}

}  // namespace
}  // namespace xlb
