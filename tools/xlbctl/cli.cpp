// SPDX-License-Identifier: Apache-2.0
#include "cli.h"

#include <cmath>

#include "xlb/control.h"

namespace xlbctl {

nlohmann::json Context::call(const nlohmann::json& request) const {
  if (!daemon)
    throw CommandError{"xlbd is not running for " + pinDir +
                       " (this command needs the daemon: start it with xlbd --config FILE)"};
  auto r = check(xlb::controlCall(*daemon, request));
  if (!r.value("ok", false)) throw CommandError{r.value("error", std::string("xlbd refused"))};
  return r;
}

xlb::VipKey vipKey(const std::string& endpoint, const std::string& proto) {
  auto ep = check(xlb::Endpoint::parse(endpoint));
  return xlb::VipKey{ep, check(xlb::parseProto(proto))};
}

CLI::Validator finiteRange(double lo, double hi) {
  return CLI::Validator(
      [lo, hi](std::string& s) -> std::string {
        double v = 0;
        try {
          size_t used = 0;
          v = std::stod(s, &used);
          if (used != s.size()) throw std::invalid_argument(s);
        } catch (const std::exception&) {
          return "'" + s + "' is not a number";
        }
        if (!std::isfinite(v) || v < lo || v > hi) {
          auto num = [](double x) {
            std::string t = std::to_string(x);
            t.erase(t.find_last_not_of('0') + 1);
            if (!t.empty() && t.back() == '.') t.pop_back();
            return t;
          };
          return "'" + s + "' is out of range: use " + num(lo) + " to " + num(hi);
        }
        return {};
      },
      "NUMBER in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
}

}  // namespace xlbctl
