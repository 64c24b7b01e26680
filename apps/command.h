// command.h — how a `cxr` subcommand plugs into the app. Each apps/<name>.cpp holds one
// subcommand and registers it with a static CommandRegistration; main.cpp builds the CLI11 app
// from the registry, so adding a subcommand touches no other file.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

#include "cuda/runtime.h"

namespace cxr::apps {

// Exit codes shared by the subcommands.
inline constexpr int kExitOk = 0;
inline constexpr int kExitSomeInputsFailed = 1;  // e.g. an unreadable image; the others were processed
inline constexpr int kExitFatal = 2;             // nothing useful done: bad checkpoint, bad arguments

// A subcommand's setup adds its options to `sub` and returns the function that runs it once the
// command line is parsed; that function returns the exit code.
using CommandRun = std::function<int()>;
using CommandSetup = std::function<CommandRun(CLI::App& sub)>;

struct Command {
  std::string name;
  std::string description;
  CommandSetup setup;
};

// The registered subcommands, in registration order (a function-local static, so registration
// from other translation units' static initializers is safe).
std::vector<Command>& command_registry();

struct CommandRegistration {
  CommandRegistration(std::string name, std::string description, CommandSetup setup) {
    command_registry().push_back({std::move(name), std::move(description), std::move(setup)});
  }
};

// --device cpu|cuda, for the commands that run a model. The run function turns the name into a
// Device with cuda::select_device, whose error (no GPU, no backend) becomes exit code 2.
inline CLI::Option* add_device_option(CLI::App& sub, std::string& device, const char* group = nullptr) {
  CLI::Option* o = sub.add_option("--device", device, "where the model runs: cpu, or cuda (an NVIDIA GPU; docs/CUDA.md)")
                       ->capture_default_str();
  if (group) o->group(group);
  return o;
}

}  // namespace cxr::apps
