// SPDX-License-Identifier: Apache-2.0
// The journal entry of a log event: message, priority, identity and the
// structured fields journalctl can select on.
#include "log.h"

#include <gtest/gtest.h>

namespace xlb::log {
namespace {

TEST(Log, JournalEntryCarriesPriorityAndFields) {
  auto e = journalEntry(Level::Error, "198.18.0.100:80/tcp backend 198.18.0.12 is down",
                        {{"VIP", "198.18.0.100:80/tcp"}, {"BACKEND", "198.18.0.12"}, {"EMPTY", ""}});
  EXPECT_EQ(e, (std::vector<std::string>{"MESSAGE=198.18.0.100:80/tcp backend 198.18.0.12 is down", "PRIORITY=3",
                                         "SYSLOG_IDENTIFIER=xlbd", "VIP=198.18.0.100:80/tcp",
                                         "BACKEND=198.18.0.12"}));
}

TEST(Log, FieldNamesJournaldWouldRefuseAreDropped) {
  auto e = journalEntry(Level::Info, "m", {{"_PID", "1"}, {"lower", "x"}, {"OK_2", "y"}, {"BAD-NAME", "z"}});
  EXPECT_EQ(e, (std::vector<std::string>{"MESSAGE=m", "PRIORITY=6", "SYSLOG_IDENTIFIER=xlbd", "OK_2=y"}));
}

}  // namespace
}  // namespace xlb::log
