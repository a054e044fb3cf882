// SPDX-License-Identifier: Apache-2.0
// A uniquely named network namespace that this process enters for its
// lifetime, and leaves and deletes on destruction (every exit path that
// runs destructors; a crash leaves a name starting with "xlbt" to clean).
#pragma once

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <cstdlib>
#include <random>
#include <stdexcept>
#include <string>

namespace xlb::test {

class ScopedNetns {
 public:
  ScopedNetns() {
    std::random_device rd;
    name_ = "xlbt" + std::to_string(getpid()) + "-" + std::to_string(rd() % 100000);
    if (std::system(("ip netns add " + name_).c_str()) != 0) throw std::runtime_error("ip netns add failed");
    home_ = ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    int fd = ::open(("/run/netns/" + name_).c_str(), O_RDONLY | O_CLOEXEC);
    if (home_ < 0 || fd < 0 || setns(fd, CLONE_NEWNET) != 0) {
      if (fd >= 0) ::close(fd);
      cleanup();
      throw std::runtime_error("cannot enter netns " + name_);
    }
    ::close(fd);
  }
  ~ScopedNetns() { cleanup(); }
  ScopedNetns(const ScopedNetns&) = delete;
  ScopedNetns& operator=(const ScopedNetns&) = delete;

  const std::string& name() const { return name_; }

  // Runs a shell command inside the namespace; throws on failure.
  static void sh(const std::string& cmd) {
    if (std::system(cmd.c_str()) != 0) throw std::runtime_error("failed: " + cmd);
  }

 private:
  void cleanup() {
    if (home_ >= 0) {
      setns(home_, CLONE_NEWNET);
      ::close(home_);
      home_ = -1;
    }
    // Best effort on the way out: nothing more to do if it fails.
    if (!name_.empty() && std::system(("ip netns del " + name_ + " 2>/dev/null").c_str()) != 0) name_.clear();
    name_.clear();
  }
  std::string name_;
  int home_ = -1;
};

}  // namespace xlb::test
