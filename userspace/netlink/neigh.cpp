// SPDX-License-Identifier: Apache-2.0
#include "xlb/neigh.h"

#include <net/if.h>  // before the linux/ headers, which then leave its names alone
#include <libmnl/libmnl.h>
#include <linux/if_arp.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <ctime>
#include <fstream>
#include <memory>
#include <vector>

#include "xlb/nexthop.h"

namespace xlb {
namespace {

struct MnlCloser {
  void operator()(mnl_socket* s) const { mnl_socket_close(s); }
};
using MnlSocket = std::unique_ptr<mnl_socket, MnlCloser>;

Result<MnlSocket> openRtnl() {
  MnlSocket s(mnl_socket_open(NETLINK_ROUTE));
  if (!s) return fail(errno, "cannot open rtnetlink socket");
  if (mnl_socket_bind(s.get(), 0, MNL_SOCKET_AUTOPID) < 0) return fail(errno, "cannot bind rtnetlink socket");
  timeval tv{2, 0};  // the kernel answers at once; never hang a CLI on it
  setsockopt(mnl_socket_get_fd(s.get()), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  return s;
}

// mnl_attr_parse callback: fills a table of the attributes, by type, up
// to Max.
template <int Max>
int attrTable(const nlattr* attr, void* data) {
  auto* tb = static_cast<const nlattr**>(data);
  if (mnl_attr_type_valid(attr, Max) > 0) tb[mnl_attr_get_type(attr)] = attr;
  return MNL_CB_OK;
}

struct Route {
  int oif = 0;
  uint8_t type = 0;  // RTN_*
  IpAddr nexthop;
};

int routeCb(const nlmsghdr* nlh, void* data) {
  auto* r = static_cast<Route*>(data);
  const nlattr* tb[RTA_MAX + 1] = {};
  mnl_attr_parse(nlh, sizeof(rtmsg), attrTable<RTA_MAX>, tb);
  r->type = static_cast<const rtmsg*>(mnl_nlmsg_get_payload(nlh))->rtm_type;
  if (tb[RTA_OIF]) r->oif = static_cast<int>(mnl_attr_get_u32(tb[RTA_OIF]));
  if (tb[RTA_GATEWAY]) {
    size_t len = mnl_attr_get_payload_len(tb[RTA_GATEWAY]);
    if (len == 4 || len == 16) {
      r->nexthop.family = len == 4 ? XLB_AF_INET : XLB_AF_INET6;
      r->nexthop.bytes = {};
      std::memcpy(r->nexthop.bytes.data(), mnl_attr_get_payload(tb[RTA_GATEWAY]), len);
    }
  }
  return MNL_CB_OK;
}

Result<void> talk(mnl_socket* s, nlmsghdr* nlh, mnl_cb_t cb, void* data, const std::string& what) {
  unsigned portid = mnl_socket_get_portid(s);
  if (mnl_socket_sendto(s, nlh, nlh->nlmsg_len) < 0) return fail(errno, what);
  // Both requests here are single-message: one reply (or ack) answers them.
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  ssize_t n = mnl_socket_recvfrom(s, buf.data(), buf.size());
  if (n < 0) return fail(errno, what);
  if (mnl_cb_run(buf.data(), n, nlh->nlmsg_seq, portid, cb, data) == MNL_CB_ERROR)
    return fail(errno, what);
  return {};
}

// NUD states with a usable link-layer address (the kernel's NUD_VALID).
constexpr uint16_t kNudValid = NUD_PERMANENT | NUD_NOARP | NUD_REACHABLE | NUD_PROBE | NUD_STALE | NUD_DELAY;

struct NeighState {
  bool found = false;
  uint16_t state = 0;    // NUD_*
  uint8_t flags = 0;     // NTF_*
  uint32_t extFlags = 0; // NTF_EXT_*
  std::array<uint8_t, 6> lladdr{};
  bool haveLladdr = false;
};

int neighCb(const nlmsghdr* nlh, void* data) {
  if (nlh->nlmsg_type != RTM_NEWNEIGH) return MNL_CB_OK;
  auto* st = static_cast<NeighState*>(data);
  const auto* ndm = static_cast<const ndmsg*>(mnl_nlmsg_get_payload(nlh));
  const nlattr* tb[NDA_MAX + 1] = {};
  mnl_attr_parse(nlh, sizeof(ndmsg), attrTable<NDA_MAX>, tb);
  st->found = true;
  st->state = ndm->ndm_state;
  st->flags = ndm->ndm_flags;
  if (tb[NDA_FLAGS_EXT]) st->extFlags = mnl_attr_get_u32(tb[NDA_FLAGS_EXT]);
  if (tb[NDA_LLADDR] && mnl_attr_get_payload_len(tb[NDA_LLADDR]) == 6) {
    std::memcpy(st->lladdr.data(), mnl_attr_get_payload(tb[NDA_LLADDR]), 6);
    st->haveLladdr = true;
  }
  return MNL_CB_OK;
}

// The neighbour entry for nh on ifindex, as the kernel has it.
NeighState neighState(mnl_socket* s, const IpAddr& nh, int ifindex, uint32_t seq) {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = RTM_GETNEIGH;
  nlh->nlmsg_flags = NLM_F_REQUEST;
  nlh->nlmsg_seq = seq;
  auto* ndm = static_cast<ndmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ndmsg)));
  ndm->ndm_family = nh.isV4() ? AF_INET : AF_INET6;
  ndm->ndm_ifindex = ifindex;
  mnl_attr_put(nlh, NDA_DST, nh.isV4() ? 4 : 16, nh.bytes.data());
  NeighState st;
  if (!talk(s, nlh, neighCb, &st, "neighbour lookup")) return NeighState{};
  return st;
}

// An entry someone set up on purpose: a static (permanent or noarp) entry,
// one a controller learned (NTF_EXT_LEARNED), or one already managed.
// xlb leaves those exactly as they are.
bool keptAsIs(const NeighState& st) {
  return (st.state & (NUD_PERMANENT | NUD_NOARP)) || (st.flags & NTF_EXT_LEARNED) ||
         (st.extFlags & NTF_EXT_MANAGED);
}

}  // namespace

Result<void> NetlinkNeighbours::keep(const IpAddr& backend) {
  auto s = openRtnl();
  if (!s) return xlb::unexpected(s.error());
  int af = backend.isV4() ? AF_INET : AF_INET6;
  size_t alen = backend.isV4() ? 4 : 16;
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);

  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = RTM_GETROUTE;
  nlh->nlmsg_flags = NLM_F_REQUEST;
  nlh->nlmsg_seq = static_cast<uint32_t>(time(nullptr));
  auto* rtm = static_cast<rtmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(rtmsg)));
  rtm->rtm_family = af;
  rtm->rtm_dst_len = alen * 8;
  mnl_attr_put(nlh, RTA_DST, alen, backend.bytes.data());
  Route route;
  route.nexthop = backend;
  if (auto r = talk(s->get(), nlh, routeCb, &route, "no route to backend " + backend.str()); !r)
    return r;
  if (route.oif == 0) return fail(0, "no route to backend " + backend.str());
  if (route.type == RTN_LOCAL) return {};  // a local address: no neighbour to resolve

  uint32_t seq = static_cast<uint32_t>(time(nullptr)) + 1;
  NeighState have = neighState(s->get(), route.nexthop, route.oif, seq++);
  if (have.found && keptAsIs(have)) return {};

  // Missing: created (NLM_F_EXCL: an entry an operator adds meanwhile wins).
  // Learned by the kernel from traffic: made managed in place, keeping its
  // address and state, so it is kept resolved from now on.
  nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = RTM_NEWNEIGH;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_ACK | (have.found ? NLM_F_REPLACE : NLM_F_EXCL);
  nlh->nlmsg_seq = seq++;
  auto* ndm = static_cast<ndmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ndmsg)));
  ndm->ndm_family = route.nexthop.isV4() ? AF_INET : AF_INET6;
  ndm->ndm_ifindex = route.oif;
  ndm->ndm_state = NUD_NONE;
  ndm->ndm_flags = NTF_USE;
  mnl_attr_put(nlh, NDA_DST, route.nexthop.isV4() ? 4 : 16, route.nexthop.bytes.data());
  mnl_attr_put_u32(nlh, NDA_FLAGS_EXT, NTF_EXT_MANAGED);
  if (auto r = talk(s->get(), nlh, nullptr, nullptr,
                    "cannot create managed neighbour entry for " + route.nexthop.str());
      !r) {
    if (r.error().code != EEXIST) return r;
    return {};  // someone else's entry appeared meanwhile: theirs stands
  }
  // Give resolution a moment, so a backend is ready when `backend add`
  // returns; an unanswered one is reported, not fatal.
  if (!wait_) return {};
  NeighState st;
  for (int i = 0; i < 100; ++i) {
    st = neighState(s->get(), route.nexthop, route.oif, seq++);
    if (st.state & kNudValid) return {};
    timespec ts{0, 10 * 1000 * 1000};
    nanosleep(&ts, nullptr);
  }
  return fail(0, "neighbour " + route.nexthop.str() + " is not resolved yet" +
                     (st.state & NUD_FAILED ? " (no answer)" : "") +
                     ": packets to this backend count as drop_no_neigh until it is");
}

namespace {

Result<Route> routeTo(mnl_socket* s, const IpAddr& dst, uint32_t seq) {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = RTM_GETROUTE;
  nlh->nlmsg_flags = NLM_F_REQUEST;
  nlh->nlmsg_seq = seq;
  auto* rtm = static_cast<rtmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(rtmsg)));
  rtm->rtm_family = dst.isV4() ? AF_INET : AF_INET6;
  rtm->rtm_dst_len = dst.isV4() ? 32 : 128;
  mnl_attr_put(nlh, RTA_DST, dst.isV4() ? 4 : 16, dst.bytes.data());
  Route route;
  route.nexthop = dst;
  if (auto r = talk(s, nlh, routeCb, &route, "route lookup for " + dst.str()); !r) return xlb::unexpected(r.error());
  return route;
}

struct Link {
  bool found = false;
  unsigned short type = 0;  // ARPHRD_*
  uint32_t mtu = 0;
  std::array<uint8_t, 6> mac{};
  bool haveMac = false;
};

int linkCb(const nlmsghdr* nlh, void* data) {
  if (nlh->nlmsg_type != RTM_NEWLINK) return MNL_CB_OK;
  auto* l = static_cast<Link*>(data);
  const auto* ifi = static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(nlh));
  const nlattr* tb[IFLA_MAX + 1] = {};
  mnl_attr_parse(nlh, sizeof(*ifi), attrTable<IFLA_MAX>, tb);
  l->found = true;
  l->type = ifi->ifi_type;
  if (tb[IFLA_MTU]) l->mtu = mnl_attr_get_u32(tb[IFLA_MTU]);
  if (tb[IFLA_ADDRESS] && mnl_attr_get_payload_len(tb[IFLA_ADDRESS]) == 6) {
    std::memcpy(l->mac.data(), mnl_attr_get_payload(tb[IFLA_ADDRESS]), 6);
    l->haveMac = true;
  }
  return MNL_CB_OK;
}

Link linkOf(mnl_socket* s, int ifindex, uint32_t seq) {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = RTM_GETLINK;
  nlh->nlmsg_flags = NLM_F_REQUEST;
  nlh->nlmsg_seq = seq;
  auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = ifindex;
  Link l;
  if (!talk(s, nlh, linkCb, &l, "link lookup")) return Link{};
  return l;
}

bool forwardingOn(int ifindex, bool v4) {
  char name[IF_NAMESIZE] = {};
  if (!if_indextoname(static_cast<unsigned>(ifindex), name)) return false;
  std::ifstream f(std::string("/proc/sys/net/") + (v4 ? "ipv4" : "ipv6") + "/conf/" + name + "/forwarding");
  int on = 0;
  return (f >> on) && on == 1;
}

}  // namespace

Result<Nexthop> resolveNexthop(const IpAddr& backend) {
  auto s = openRtnl();
  if (!s) return xlb::unexpected(s.error());
  uint32_t seq = static_cast<uint32_t>(time(nullptr));
  auto route = routeTo(s->get(), backend, seq++);
  Nexthop nh;
  if (!route) {
    nh.why = "no route";
    return nh;
  }
  if (route->oif == 0 || route->type != RTN_UNICAST) {
    nh.why = route->type == RTN_LOCAL ? "a local address" : "no unicast route";
    return nh;
  }
  Link link = linkOf(s->get(), route->oif, seq++);
  if (!link.found || link.type != ARPHRD_ETHER || !link.haveMac) {
    nh.why = "the egress interface is not Ethernet";
    return nh;
  }
  if (!forwardingOn(route->oif, backend.isV4())) {
    nh.why = "forwarding is off on the egress interface";
    return nh;
  }
  NeighState st = neighState(s->get(), route->nexthop, route->oif, seq++);
  if (!st.found || !(st.state & kNudValid) || !st.haveLladdr) {
    nh.why = "neighbour " + route->nexthop.str() + " is not resolved";
    return nh;
  }
  nh.ifindex = route->oif;
  nh.mtu = link.mtu;
  nh.dmac = st.lladdr;
  nh.smac = link.mac;
  return nh;
}

}  // namespace xlb
