// SPDX-License-Identifier: Apache-2.0
// Errors as values: every run-time failure carries an errno and the context
// an operator needs to act on it.
#pragma once

#include <cerrno>
#include <cstring>
#include <expected>
#include <string>

namespace xlb {

struct Error {
  int code = 0;         // errno value (positive), 0 when not a system error
  std::string message;  // what failed and, where possible, what to do

  std::string describe() const {
    if (code == 0) return message;
    return message + ": " + std::strerror(code);
  }
};

template <class T>
using Result = std::expected<T, Error>;

inline std::unexpected<Error> fail(int code, std::string message) {
  return std::unexpected(Error{code, std::move(message)});
}

// For libbpf-style returns: negative errno, or -1 with errno set.
inline int errnoOf(int rc) { return rc < -1 ? -rc : (errno ? errno : EIO); }

}  // namespace xlb
