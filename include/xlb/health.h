// SPDX-License-Identifier: Apache-2.0
// Health checking: the rise/fall state machine (pure, clock passed in) and
// the probes (TCP connect, HTTP/1.1 GET, HTTPS) on one Asio event loop.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>

#include "xlb/addr.h"
#include "xlb/config.h"

namespace xlb {

using Clock = std::chrono::steady_clock;

struct ProbeResult {
  bool ok = false;
  // The check could not run for a reason on this host (out of descriptors,
  // memory or local ports): says nothing about the backend, so it counts
  // neither way.
  bool local = false;
  std::string error;  // why it failed: "timeout", "connection refused", "status 503", ...
  std::chrono::microseconds latency{0};
};

struct Transition {
  bool up;             // the new state
  std::string reason;  // the failing probe's error, or "passed N checks"
};

// Up/down with rise/fall: `rise` consecutive passes bring a backend up,
// `fall` consecutive failures take it down. Times come from the caller so
// tests drive it with a fake clock.
class HealthTracker {
 public:
  HealthTracker(int rise, int fall, bool up, Clock::time_point now)
      : rise_(rise), fall_(fall), up_(up), since_(now) {}

  std::optional<Transition> observe(const ProbeResult& r, Clock::time_point now);

  bool up() const { return up_; }
  Clock::time_point since() const { return since_; }
  std::optional<Clock::time_point> lastCheck() const { return lastCheck_; }
  const ProbeResult& last() const { return last_; }
  const std::string& lastError() const { return lastError_; }
  uint64_t checks() const { return checks_; }
  uint64_t failures() const { return failures_; }
  uint64_t localErrors() const { return localErrors_; }

 private:
  int rise_, fall_;
  bool up_;
  int streak_ = 0;  // consecutive results that disagree with the state
  Clock::time_point since_;
  std::optional<Clock::time_point> lastCheck_;
  ProbeResult last_;
  std::string lastError_;
  uint64_t checks_ = 0, failures_ = 0, localErrors_ = 0;
};

// Delay before a check: the first one at a random point of the first
// interval, later ones one interval apart with +-10% jitter, so checks of
// many backends never fire together.
Millis checkDelay(Millis interval, bool first, std::mt19937& rng);

// Runs probes; keeps one TLS context per (verify, CA file).
class Prober {
 public:
  explicit Prober(asio::io_context& io);
  ~Prober();
  // addr:port is what is checked (the check's own address/port if set).
  asio::awaitable<ProbeResult> probe(const CheckSpec& spec, Endpoint target);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace xlb
