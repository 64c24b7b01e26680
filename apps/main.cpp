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
  app.footer(
      "A first session (docs/TRAINING.md; `make demo` runs all of it):\n"
      "  cxr phantom --n 1000 --size 128 --out data          synthetic X-rays + reports + manifest\n"
      "  cxr label edema --out data/edema.csv data/reports   severity labels from the reports\n"
      "  cxr vocab --size 2000 --out vocab.txt data/reports  a WordPiece vocabulary\n"
      "  cxr pretrain-text --vocab vocab.txt --out bert data/reports\n"
      "  cxr train --method mi --manifest data/manifest.csv --text-init bert --out runs/mi --arch resnet128_6_2_1\n"
      "  cxr train --method finetune --init runs/mi --encoder frozen --manifest data/manifest.csv --out runs/ft\n"
      "  cxr eval --checkpoint runs/ft --manifest data/manifest.csv --out eval.json\n"
      "  cxr report --run runs/ft --out report.html\n"
      "Every command explains its options: cxr <command> --help");
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
