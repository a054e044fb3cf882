// SPDX-License-Identifier: Apache-2.0
// Config: a good file loads whole; every class of error names file:line: key.
#include "xlb/config.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

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
  EXPECT_FALSE(parseDuration("2h"));
  EXPECT_FALSE(parseDuration("-1s"));
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
