// main.cpp — the `cxr` command-line tool (minimal entry point on the labeler branch; the full one
// with every subcommand comes from the `infer` branch). Exit codes: 0 ok, 1 some inputs failed,
// 2 fatal error; CLI11's own codes for command-line errors.
#include <cstdio>
#include <exception>

#include "apps/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"cxr: chest X-ray models on the cxrlab engine (C++20, no ML framework at run time)", "cxr"};
  app.require_subcommand(1);
  cxr::apps::add_label_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "cxr: error: %s\n", e.what());
    return 2;
  }
  return 0;
}
