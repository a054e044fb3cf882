// SPDX-License-Identifier: Apache-2.0
// Man pages and shell completion built from a CLI11 command tree, so what
// is installed says exactly what the binary's --help says.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace clidoc {

// A roff man page: NAME, SYNOPSIS, DESCRIPTION, OPTIONS and one section per
// command (every subcommand, recursively, with its options).
std::string manPage(const CLI::App& app, const std::string& section, const std::string& summary,
                    const std::string& description);

// A bash completion script: subcommands, then their options.
std::string bashCompletion(const CLI::App& app);

}  // namespace clidoc
