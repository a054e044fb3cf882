// SPDX-License-Identifier: Apache-2.0
#include "xlb/linkwatch.h"

#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>

#include <vector>

namespace xlb {

void LinkWatch::Closer::operator()(mnl_socket* s) const { mnl_socket_close(s); }

namespace {

Result<void> openGroups(unsigned groups, std::unique_ptr<mnl_socket, LinkWatch::Closer>& sock) {
  sock.reset(mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC | SOCK_NONBLOCK));
  if (!sock) return fail(errno, "cannot open an rtnetlink socket");
  if (mnl_socket_bind(sock.get(), groups, MNL_SOCKET_AUTOPID) < 0)
    return fail(errno, "cannot subscribe to rtnetlink events");
  return {};
}

}  // namespace

Result<LinkWatch> LinkWatch::openRouting() {
  LinkWatch w;
  if (auto r = openGroups(RTMGRP_LINK | RTMGRP_NEIGH | RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE | (1u << (RTNLGRP_IPV4_NETCONF - 1)) |
                              (1u << (RTNLGRP_IPV6_NETCONF - 1)),
                          w.sock_);
      !r)
    return xlb::unexpected(r.error());
  int size = 1 << 20;
  setsockopt(mnl_socket_get_fd(w.sock_.get()), SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
  return w;
}

size_t LinkWatch::discard(bool& overflow) {
  size_t n = 0;
  overflow = false;
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  for (;;) {
    ssize_t got = mnl_socket_recvfrom(sock_.get(), buf.data(), buf.size());
    if (got < 0) {
      if (errno == ENOBUFS) {
        overflow = true;
        continue;
      }
      return n;  // EAGAIN: nothing more for now
    }
    ++n;
  }
}

Result<LinkWatch> LinkWatch::open() {
  LinkWatch w;
  w.sock_.reset(mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC | SOCK_NONBLOCK));
  if (!w.sock_) return fail(errno, "cannot open an rtnetlink socket");
  if (mnl_socket_bind(w.sock_.get(), RTMGRP_LINK, MNL_SOCKET_AUTOPID) < 0)
    return fail(errno, "cannot subscribe to link events");
  // Room for bursts (many links changing at once) before ENOBUFS.
  int size = 1 << 20;
  setsockopt(mnl_socket_get_fd(w.sock_.get()), SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
  return w;
}

int LinkWatch::fd() const { return mnl_socket_get_fd(sock_.get()); }

namespace {

int linkAttr(const nlattr* attr, void* data) {
  auto* tb = static_cast<const nlattr**>(data);
  if (mnl_attr_type_valid(attr, IFLA_MAX) > 0) tb[mnl_attr_get_type(attr)] = attr;
  return MNL_CB_OK;
}

int linkCb(const nlmsghdr* nlh, void* data) {
  if (nlh->nlmsg_type != RTM_NEWLINK && nlh->nlmsg_type != RTM_DELLINK) return MNL_CB_OK;
  auto* out = static_cast<std::vector<LinkWatch::Event>*>(data);
  const auto* ifi = static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(nlh));
  const nlattr* tb[IFLA_MAX + 1] = {};
  mnl_attr_parse(nlh, sizeof(*ifi), linkAttr, tb);
  LinkWatch::Event e;
  e.ifindex = ifi->ifi_index;
  e.removed = nlh->nlmsg_type == RTM_DELLINK;
  if (tb[IFLA_IFNAME]) e.name = mnl_attr_get_str(tb[IFLA_IFNAME]);
  out->push_back(std::move(e));
  return MNL_CB_OK;
}

}  // namespace

std::vector<LinkWatch::Event> LinkWatch::drain(bool& overflow) {
  std::vector<Event> out;
  overflow = false;
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  for (;;) {
    ssize_t n = mnl_socket_recvfrom(sock_.get(), buf.data(), buf.size());
    if (n < 0) {
      if (errno == ENOBUFS) {
        overflow = true;
        continue;
      }
      break;  // EAGAIN: nothing more for now
    }
    mnl_cb_run(buf.data(), static_cast<size_t>(n), 0, 0, linkCb, &out);
  }
  return out;
}

}  // namespace xlb
