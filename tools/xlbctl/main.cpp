// SPDX-License-Identifier: Apache-2.0
// xlbctl: manage the xlb XDP load balancer (xlbctl NOUN VERB). Each noun's
// verbs live in a file of their own and register in a table saying whether
// they change the instance directly; here they are parsed, checked and run.
#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "cli.h"
#include "clidoc.h"
#include "xlb/control.h"
#include "xlb/dataplane.h"

using namespace xlbctl;

namespace {

bool hasCap(int cap) {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  if (syscall(SYS_capget, &hdr, data) != 0) return false;
  return data[cap / 32].effective & (1u << (cap % 32));
}

// Every command reads or writes BPF objects; say so up front rather than
// as a puzzling "not attached" (an unprivileged user cannot see the pins).
bool privileged() { return (hasCap(CAP_BPF) || hasCap(CAP_SYS_ADMIN)) && hasCap(CAP_NET_ADMIN); }

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"xlbctl: manage the xlb XDP load balancer"};
  app.name("xlbctl");
  app.set_version_flag("--version", std::string("xlbctl ") + XLB_VERSION);
  app.require_subcommand(1);
  Context ctx;
  ctx.pinDir = xlb::kDefaultPinDir;
  app.add_option("--pin-path", ctx.pinDir, "bpffs directory of this xlb instance")->capture_default_str();
  app.add_option("--socket", ctx.socketOpt,
                 "xlbd's control socket (default: found from the instance's pins)");
  std::string generate;
  app.add_option("--generate", generate, "print the man page or bash completion (man|bash-completion)")
      ->check(CLI::IsMember({"man", "bash-completion"}))
      ->group("");  // hidden: used by the build

  Commands commands;
  addAttachCommands(app, commands);
  addVipCommands(app, commands);
  addBackendCommands(app, commands);
  addStatsCommands(app, commands);
  addDecapCommands(app, commands);
  addDaemonCommands(app, commands);
  auto* completion = app.add_subcommand("completion", "print a shell completion script (bash)");
  std::string shell;
  completion->add_option("shell", shell, "bash")->required()->check(CLI::IsMember({"bash"}));

  // --generate is served before the subcommand is required.
  for (int i = 1; i + 1 < argc; ++i)
    if (std::string(argv[i]) == "--generate") {
      std::string what = argv[i + 1];
      if (what == "man") {
        std::cout << clidoc::manPage(app, "8", "manage the xlb XDP load balancer",
                                     "xlbctl edits the pinned maps of an xlb instance directly, or, while xlbd "
                                     "owns the instance, asks xlbd over its control socket.");
        return 0;
      }
      if (what == "bash-completion") {
        std::cout << clidoc::bashCompletion(app);
        return 0;
      }
      std::cerr << "xlbctl: --generate takes man or bash-completion\n";
      return 2;
    }

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    std::cerr << "(see: xlbctl --help, or xlbctl COMMAND --help)\n";
    return 2;
  }
  if (completion->parsed()) {
    std::cout << clidoc::bashCompletion(app);
    return 0;
  }

  const Command* cmd = nullptr;
  for (const auto& c : commands)
    if (c.app->parsed()) cmd = &c;
  if (!cmd) {
    std::cerr << "xlbctl: say what to do (see: xlbctl --help)\n";
    return 2;
  }
  if (!privileged()) {
    std::fprintf(stderr, "xlbctl: needs root (CAP_BPF and CAP_NET_ADMIN): run it with sudo\n");
    return 1;
  }
  try {
    if (!ctx.socketOpt.empty()) {
      if (!xlb::controlAnswers(ctx.socketOpt)) throw CommandError{"nothing answers on " + ctx.socketOpt + " (is xlbd running?)"};
      ctx.daemon = ctx.socketOpt;
    } else {
      ctx.daemon = xlb::daemonSocket(ctx.pinDir);
    }
    // With xlbd running, it is the only writer of the instance.
    if (cmd->touches == Touches::Instance && ctx.daemon)
      throw CommandError{"xlbd owns the maps under " + ctx.pinDir + " (control socket " + *ctx.daemon +
                         "): " + cmd->underDaemon};
    cmd->run(ctx);
  } catch (const CommandError& e) {
    std::fprintf(stderr, "xlbctl: %s\n", e.message.c_str());
    return e.code;
  }
  return 0;
}
