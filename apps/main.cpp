// main.cpp — the `cxr` command-line tool: builds the CLI11 app from the registered subcommands
// (apps/<name>.cpp, see command.h), parses, and runs the chosen one.
//   cxr --help            lists the subcommands
//   cxr <command> --help  a subcommand's options
// Exit codes: the subcommand's (0 ok, 1 some inputs failed, 2 fatal error); CLI11's own codes for
// command-line errors.
#include <cstdio>
#include <exception>
#include <map>

#include "apps/command.h"
#include "tensor/error.h"

namespace cxr::apps {
std::vector<Command>& command_registry() {
  static std::vector<Command> registry;
  return registry;
}
}  // namespace cxr::apps

int main(int argc, char** argv) {
  using namespace cxr::apps;
  CLI::App app{"cxr: chest X-ray models on the cxrlab engine (C++20, no ML framework at run time)", "cxr"};
  app.require_subcommand(1);
  std::map<const CLI::App*, CommandRun> runs;
  for (const auto& command : command_registry()) {
    CLI::App* sub = app.add_subcommand(command.name, command.description);
    runs[sub] = command.setup(*sub);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  for (const auto& [sub, run] : runs) {
    if (!sub->parsed()) continue;
    try {
      return run();
    } catch (const std::exception& e) {
      std::fflush(stdout);
      std::fprintf(stderr, "cxr %s: error: %s\n", sub->get_name().c_str(), e.what());
      return kExitFatal;
    }
  }
  return kExitFatal;  // unreachable: require_subcommand(1)
}
