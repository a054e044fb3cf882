// SPDX-License-Identifier: Apache-2.0
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "xlb/control.h"
#include "xlb/fd.h"
#include "xlb/loader.h"

namespace xlb {

namespace {

Result<Fd> connectTo(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail(errno, "socket");
  Fd f(fd);
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  if (path.size() >= sizeof(sa.sun_path)) return fail(ENAMETOOLONG, path);
  std::memcpy(sa.sun_path, path.c_str(), path.size());
  if (::connect(f.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0)
    return fail(errno, "cannot reach xlbd on " + path);
  return f;
}

}  // namespace

bool controlAnswers(const std::string& path) { return connectTo(path).has_value(); }

Result<nlohmann::json> controlCall(const std::string& path, const nlohmann::json& request, int timeoutMs) {
  auto f = connectTo(path);
  if (!f) return xlb::unexpected(f.error());
  std::string out = request.dump() + "\n";
  for (size_t off = 0; off < out.size();) {
    ssize_t n = ::send(f->get(), out.data() + off, out.size() - off, MSG_NOSIGNAL);
    if (n < 0) return fail(errno, "cannot send to xlbd");
    off += static_cast<size_t>(n);
  }
  std::string in;
  char buf[4096];
  for (;;) {
    pollfd p{f->get(), POLLIN, 0};
    int r = ::poll(&p, 1, timeoutMs);
    if (r == 0) return fail(ETIMEDOUT, "xlbd did not answer on " + path);
    if (r < 0) return fail(errno, "poll");
    ssize_t n = ::recv(f->get(), buf, sizeof(buf), 0);
    if (n < 0) return fail(errno, "cannot read from xlbd");
    if (n == 0) break;
    in.append(buf, static_cast<size_t>(n));
    if (in.back() == '\n') break;
  }
  try {
    return nlohmann::json::parse(in);
  } catch (const std::exception& e) {
    return fail(0, std::string("xlbd sent a bad answer: ") + e.what());
  }
}

std::optional<std::string> daemonSocket(const std::string& pinDir) {
  auto o = readOwner(pinDir);
  if (!o || o->socket.empty() || ::kill(o->pid, 0) != 0) return std::nullopt;
  if (!controlAnswers(o->socket)) return std::nullopt;
  return o->socket;
}

}  // namespace xlb
