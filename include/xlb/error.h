// SPDX-License-Identifier: Apache-2.0
// Errors as values: every run-time failure carries an errno and the context
// an operator needs to act on it.
#pragma once

#include <cerrno>
#include <cstring>
#include <string>
#include <version>

// std::expected where the standard library offers it with this compiler
// (GCC 12); clang before 19 cannot use libstdc++'s <expected>, so there the
// same interface comes from tl::expected (Debian: libexpected-dev).
#if defined(__cpp_lib_expected)
#include <expected>
namespace xlb {
using std::expected;
using std::unexpected;
}  // namespace xlb
#else
#include <tl/expected.hpp>
namespace xlb {
using tl::expected;
using tl::unexpected;
}  // namespace xlb
#endif

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
using Result = expected<T, Error>;

inline unexpected<Error> fail(int code, std::string message) {
  return unexpected<Error>(Error{code, std::move(message)});
}

// For libbpf-style returns: negative errno, or -1 with errno set.
inline int errnoOf(int rc) { return rc < -1 ? -rc : (errno ? errno : EIO); }

}  // namespace xlb
