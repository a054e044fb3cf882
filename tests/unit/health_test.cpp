// SPDX-License-Identifier: Apache-2.0
// The rise/fall state machine on a fake clock, and check spreading.
#include "xlb/health.h"

#include <gtest/gtest.h>

#include <set>

namespace xlb {
namespace {

using namespace std::chrono_literals;

ProbeResult pass() { return {true, false, "", 1ms}; }
ProbeResult failWith(const char* e) { return {false, false, e, 1ms}; }
ProbeResult localError() { return {false, true, "cannot run the check here (Too many open files): not counted", 1ms}; }

// A fake clock: checks every `interval` from t0.
struct Ticks {
  Clock::time_point t = Clock::time_point{} + 1h;
  Clock::time_point next(Millis interval = 1000ms) { return t += interval; }
};

TEST(HealthTracker, StartsDownAndComesUpAfterRisePasses) {
  Ticks clk;
  HealthTracker h(3, 2, false, clk.t);
  EXPECT_FALSE(h.up());
  EXPECT_FALSE(h.observe(pass(), clk.next()));
  EXPECT_FALSE(h.observe(pass(), clk.next()));
  auto up = h.observe(pass(), clk.next());
  ASSERT_TRUE(up);
  EXPECT_TRUE(up->up);
  EXPECT_EQ(up->reason, "passed 3 checks in a row");
  EXPECT_TRUE(h.up());
  EXPECT_EQ(h.since(), clk.t);  // at the third check, 3 intervals after start
  EXPECT_EQ(h.checks(), 3u);
}

// A check this host could not run (no descriptors, no memory) says
// nothing about the backend: it neither takes it down nor up, nor breaks a
// streak.
TEST(HealthTracker, LocalErrorsCountNeitherWay) {
  Ticks clk;
  HealthTracker up(2, 2, true, clk.t);
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(up.observe(localError(), clk.next()));
  EXPECT_TRUE(up.up());
  EXPECT_EQ(up.localErrors(), 10u);
  EXPECT_EQ(up.failures(), 0u);
  EXPECT_NE(up.lastError().find("not counted"), std::string::npos);
  EXPECT_FALSE(up.observe(failWith("timeout"), clk.next()));
  EXPECT_FALSE(up.observe(localError(), clk.next()));
  EXPECT_TRUE(up.observe(failWith("timeout"), clk.next()));  // two real failures, one local between
  HealthTracker down(2, 2, false, clk.t);
  EXPECT_FALSE(down.observe(pass(), clk.next()));
  EXPECT_FALSE(down.observe(localError(), clk.next()));
  EXPECT_TRUE(down.observe(pass(), clk.next()));
}

TEST(HealthTracker, GoesDownAfterFallFailuresWithTheLastReason) {
  Ticks clk;
  HealthTracker h(2, 3, true, clk.t);
  EXPECT_FALSE(h.observe(failWith("timeout"), clk.next()));
  EXPECT_FALSE(h.observe(failWith("connection refused"), clk.next()));
  auto down = h.observe(failWith("status 503"), clk.next());
  ASSERT_TRUE(down);
  EXPECT_FALSE(down->up);
  EXPECT_EQ(down->reason, "status 503 (3 failures in a row)");
  EXPECT_EQ(h.lastError(), "status 503");
  EXPECT_EQ(h.failures(), 3u);
  EXPECT_FALSE(h.up());
}

TEST(HealthTracker, AnInterruptedStreakStartsOver) {
  Ticks clk;
  HealthTracker h(2, 3, true, clk.t);
  // fail, fail, pass, fail, fail: never three in a row, stays up.
  for (auto r : {failWith("timeout"), failWith("timeout"), pass(), failWith("timeout"), failWith("timeout")})
    EXPECT_FALSE(h.observe(r, clk.next()));
  EXPECT_TRUE(h.up());
  EXPECT_TRUE(h.observe(failWith("timeout"), clk.next()));
  // Down now: pass, fail, pass does not bring it up with rise 2.
  EXPECT_FALSE(h.observe(pass(), clk.next()));
  EXPECT_FALSE(h.observe(failWith("timeout"), clk.next()));
  EXPECT_FALSE(h.observe(pass(), clk.next()));
  EXPECT_FALSE(h.up());
  EXPECT_TRUE(h.observe(pass(), clk.next()));
  EXPECT_TRUE(h.up());
}

TEST(HealthTracker, DownWithinFallIntervalsOfTheFirstFailure) {
  // The e2e bound (fall x interval + one interval) rests on this: with
  // fall 2 and checks every 300 ms, the second failed check decides.
  Ticks clk;
  HealthTracker h(2, 2, true, clk.t);
  auto failedAt = clk.t + 1ms;  // the server dies just after a check
  std::optional<Clock::time_point> downAt;
  for (int i = 0; i < 5 && !downAt; ++i) {
    auto now = clk.next(300ms);
    if (h.observe(now > failedAt ? failWith("connection refused") : pass(), now)) downAt = now;
  }
  ASSERT_TRUE(downAt);
  EXPECT_LE(*downAt - failedAt, 2 * 300ms + 300ms);
}

TEST(CheckDelay, FirstSpreadOverAnIntervalLaterWithinTenPercent) {
  std::mt19937 rng(1);
  std::set<int64_t> firsts;
  for (int i = 0; i < 1000; ++i) {
    auto d = checkDelay(1000ms, true, rng);
    EXPECT_GE(d.count(), 0);
    EXPECT_LT(d.count(), 1000);
    firsts.insert(d.count() / 100);
    auto n = checkDelay(1000ms, false, rng);
    EXPECT_GE(n.count(), 900);
    EXPECT_LE(n.count(), 1100);
  }
  EXPECT_EQ(firsts.size(), 10u);  // every tenth of the interval gets first checks
}

}  // namespace
}  // namespace xlb
