// SPDX-License-Identifier: Apache-2.0
// Link events from the kernel (rtnetlink, RTNLGRP_LINK): the kernel sends
// one whenever a link changes, an XDP program coming or going included. The
// socket is non-blocking; the caller waits on fd() with its own event loop.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "xlb/error.h"

struct mnl_socket;

namespace xlb {

class LinkWatch {
 public:
  struct Event {
    int ifindex = 0;
    std::string name;
    bool removed = false;  // RTM_DELLINK
  };
  static Result<LinkWatch> open();
  // Neighbour, IPv4/IPv6 route, link and netconf (forwarding) events: what
  // can move a backend's next hop.
  static Result<LinkWatch> openRouting();
  // Reads every pending message and says how many there were (routing
  // watchers only need to know that something changed).
  size_t discard(bool& overflow);
  int fd() const;
  // Every pending event. `overflow` is set when the kernel dropped some
  // (ENOBUFS): the caller must then look at every link it cares about.
  std::vector<Event> drain(bool& overflow);

  struct Closer {
    void operator()(mnl_socket* s) const;
  };

 private:
  std::unique_ptr<mnl_socket, Closer> sock_;
};

}  // namespace xlb
