// SPDX-License-Identifier: Apache-2.0
#include "clidoc.h"

#include <map>
#include <set>
#include <sstream>
#include <vector>

namespace clidoc {

namespace {

std::string roff(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '\\') o += "\\e";
    else if (c == '-') o += "\\-";
    else o += c;
  }
  if (!o.empty() && (o[0] == '.' || o[0] == '\'')) o = "\\&" + o;
  return o;
}

bool hidden(const CLI::Option* o) { return o->get_group().empty(); }

std::vector<const CLI::App*> subcommands(const CLI::App& app) {
  return app.get_subcommands([](const CLI::App* a) { return !a->get_group().empty(); });
}

// "--mode TEXT", "iface", "--json"
std::string optionUsage(const CLI::Option* o) {
  std::string name = o->get_positional() ? o->get_name() : o->get_name(false, true);
  if (o->get_positional()) return name;
  if (o->get_type_size() != 0 && !o->get_type_name().empty()) name += " " + o->get_type_name();
  return name;
}

void options(std::ostringstream& out, const CLI::App& app) {
  for (const CLI::Option* o : app.get_options()) {
    if (hidden(o) || o->get_name() == "--help") continue;
    out << ".TP\n.B " << roff(optionUsage(o)) << "\n" << roff(o->get_description());
    if (o->get_required()) out << " (required)";
    out << "\n";
  }
}

void commands(std::ostringstream& out, const CLI::App& app, const std::string& prefix) {
  for (const CLI::App* sub : subcommands(app)) {
    std::string path = prefix + " " + sub->get_name();
    out << ".SS " << roff(path) << "\n" << roff(sub->get_description()) << "\n";
    options(out, *sub);
    commands(out, *sub, path);
  }
}

void collect(const CLI::App& app, const std::string& path, std::map<std::string, std::vector<std::string>>& words) {
  auto& w = words[path];
  for (const CLI::App* sub : subcommands(app)) {
    w.push_back(sub->get_name());
    collect(*sub, path.empty() ? sub->get_name() : path + " " + sub->get_name(), words);
  }
  for (const CLI::Option* o : app.get_options()) {
    if (hidden(o) || o->get_positional()) continue;
    for (const auto& l : o->get_lnames()) w.push_back("--" + l);
    for (const auto& s : o->get_snames()) w.push_back("-" + s);
  }
}

}  // namespace

std::string manPage(const CLI::App& app, const std::string& section, const std::string& summary,
                    const std::string& description) {
  std::ostringstream out;
  std::string name = app.get_name();
  std::string upper;
  for (char c : name) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  out << ".TH " << upper << " " << section << " \"\" \"xlb\" \"xlb\"\n";
  out << ".SH NAME\n" << roff(name) << " \\- " << roff(summary) << "\n";
  out << ".SH SYNOPSIS\n.B " << roff(name) << "\n[\\fIOPTIONS\\fR]";
  if (!subcommands(app).empty()) out << " \\fICOMMAND\\fR ...";
  out << "\n.SH DESCRIPTION\n" << roff(description) << "\n";
  out << ".SH OPTIONS\n";
  options(out, app);
  if (!subcommands(app).empty()) {
    out << ".SH COMMANDS\n";
    commands(out, app, name);
  }
  out << ".SH SEE ALSO\n.BR xlbd (8),\n.BR xlbctl (8)\n";
  return out.str();
}

std::string bashCompletion(const CLI::App& app) {
  std::map<std::string, std::vector<std::string>> words;
  collect(app, "", words);
  std::string fn = "_" + app.get_name();
  std::ostringstream out;
  out << "# bash completion for " << app.get_name() << " (generated from its command tree)\n";
  out << fn << "() {\n  local cur=\"${COMP_WORDS[COMP_CWORD]}\" path=\"\" w i\n";
  out << "  for ((i = 1; i < COMP_CWORD; i++)); do\n    w=\"${COMP_WORDS[i]}\"\n    case \"$w\" in -*) continue ;; esac\n";
  out << "    case \"${path:+$path }$w\" in\n";
  for (const auto& [path, _] : words)
    if (!path.empty()) out << "      \"" << path << "\") path=\"" << path << "\" ;;\n";
  out << "    esac\n  done\n  case \"$path\" in\n";
  for (const auto& [path, ws] : words) {
    std::string list;
    for (const auto& w : ws) list += (list.empty() ? "" : " ") + w;
    out << "    \"" << path << "\") COMPREPLY=($(compgen -W \"" << list << "\" -- \"$cur\")) ;;\n";
  }
  out << "  esac\n}\ncomplete -F " << fn << " " << app.get_name() << "\n";
  return out.str();
}

}  // namespace clidoc
