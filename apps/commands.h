// commands.h — the `cxr` subcommands defined in apps/<name>.cpp, one file per subcommand.
// Each comes in two forms: add_<name>_command(app) creates the subcommand on `app` and runs it from
// a CLI11 callback (a non-zero exit code is raised as CLI::RuntimeError, which app.exit() turns
// into the process status); setup_<name>_command(sub) fills an existing subcommand and returns
// the function that runs it and returns the exit code (for a main that dispatches itself).
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace cxr::apps {

// Exit codes shared by the subcommands.
inline constexpr int kExitOk = 0;
inline constexpr int kExitSomeInputsFailed = 1;  // e.g. an unreadable report; the others were processed
inline constexpr int kExitFatal = 2;             // nothing useful done: bad arguments, unreadable lists

// `cxr label edema|findings|findings-eval` (apps/label.cpp).
void add_label_command(CLI::App& app);
std::function<int()> setup_label_command(CLI::App& label);

}  // namespace cxr::apps
