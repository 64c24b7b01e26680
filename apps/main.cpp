// main.cpp — the `cxr` command-line tool: one CLI11 subcommand per apps/<name>.cpp (commands.h).
//   cxr --help            lists the subcommands
//   cxr <command> --help  a subcommand's options
#include <cstdio>
#include <exception>

#include "apps/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"cxr: chest X-ray models on the cxrlab engine (C++20, no ML framework at run time)", "cxr"};
  app.require_subcommand(1);
  cxr::apps::add_vocab_command(app);
  cxr::apps::add_pretrain_text_command(app);
  cxr::apps::add_embed_text_command(app);
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
