// SPDX-License-Identifier: Apache-2.0
// xlbctl output: tables for people, JSON for scripts. Every JSON object
// about a VIP carries "vip_key" ("198.18.0.100:80/tcp"), the one way all
// outputs (and xlbd's health) name a VIP, next to the keys each always had.
#pragma once

#include <nlohmann/json.hpp>

#include "xlb/dataplane.h"
#include "xlb/loader.h"

namespace xlbctl {

// The version of the layout of stats --json (and stats --watch --json).
inline constexpr int kStatsSchema = 2;

// health: xlbd's `health` answer when the daemon runs (adds each backend's
// name, check state and operator state), else null.
nlohmann::json vipsJson(const std::vector<xlb::VipInfo>& vips, const std::vector<xlb::BackendInfo>& bes,
                        const nlohmann::json& health = nullptr);
void printVips(const std::vector<xlb::VipInfo>& vips, const std::vector<xlb::BackendInfo>& bes,
               const nlohmann::json& health = nullptr);

// prev and seconds (from --watch) add rates: per second, over that interval.
nlohmann::json statsJson(const xlb::Stats& s, const std::vector<xlb::VipInfo>& vips,
                         const std::vector<xlb::BackendInfo>& bes, const xlb::Stats* prev = nullptr,
                         double seconds = 0);
void printStats(const xlb::Stats& s, const std::vector<xlb::VipInfo>& vips,
                const std::vector<xlb::BackendInfo>& bes, const xlb::Stats* prev, double seconds);

nlohmann::json flowsJson(const std::vector<xlb::FlowEntry>& flows, const std::vector<xlb::BackendInfo>& bes);
void printFlows(const xlb::FlowList& flows, const std::vector<xlb::BackendInfo>& bes, size_t capacity);

nlohmann::json explainJson(const xlb::Explanation& e);
void printExplain(const xlb::Explanation& e);

nlohmann::json decapJson(const xlb::DecapStatus& st);
void printDecap(const xlb::DecapStatus& st);

std::string flowKeyStr(const xlb_flow_key& k);

// xlbd's health answer as a table.
void printHealth(const nlohmann::json& vips);

// 1234567 -> "1.23 M" (SI prefixes, for rates with units).
std::string si(double v);

}  // namespace xlbctl
