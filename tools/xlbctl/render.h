// SPDX-License-Identifier: Apache-2.0
// xlbctl output: tables for people, JSON for scripts.
#pragma once

#include <nlohmann/json.hpp>

#include "xlb/dataplane.h"

namespace xlbctl {

// health: xlbd's `health` answer when the daemon runs (adds each backend's
// name and check state), else null.
nlohmann::json vipsJson(const std::vector<xlb::VipInfo>& vips, const std::vector<xlb::BackendInfo>& bes,
                        const nlohmann::json& health = nullptr);
void printVips(const std::vector<xlb::VipInfo>& vips, const std::vector<xlb::BackendInfo>& bes,
               const nlohmann::json& health = nullptr);

nlohmann::json statsJson(const xlb::Stats& s, const std::vector<xlb::VipInfo>& vips,
                         const std::vector<xlb::BackendInfo>& bes);
// prev (optional) and seconds turn counts into rates for --watch.
void printStats(const xlb::Stats& s, const std::vector<xlb::VipInfo>& vips,
                const std::vector<xlb::BackendInfo>& bes, const xlb::Stats* prev, double seconds);

nlohmann::json flowsJson(const std::vector<xlb::FlowEntry>& flows, const std::vector<xlb::BackendInfo>& bes);
void printFlows(const std::vector<xlb::FlowEntry>& flows, const std::vector<xlb::BackendInfo>& bes);

nlohmann::json explainJson(const xlb::Explanation& e);
void printExplain(const xlb::Explanation& e);

std::string flowKeyStr(const xlb_flow_key& k);

// xlbd's health answer as a table.
void printHealth(const nlohmann::json& vips);

}  // namespace xlbctl
