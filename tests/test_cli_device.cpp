// test_cli_device.cpp — `--device` on every command that runs a model (train, eval, infer, explain,
// experiment, embed-text): without a usable CUDA device, `--device cuda` is a clear error and exit
// code 2 before any work, never a crash; an unknown device name is refused the same way.
#include <filesystem>
#include <fstream>

#include "cuda/runtime.h"
#include "train_testing.h"

using namespace cxr;
using namespace cxr::testing;

namespace {

// The arguments of each command, complete but for --device: files that CLI11 checks exist (their
// contents are never read before the device is chosen).
std::vector<std::vector<std::string>> commands(const std::string& dir) {
  const std::string file = dir + "/placeholder";
  std::ofstream(file) << "x\n";
  return {
      {"train", "--method", "image", "--manifest", file, "--out", dir + "/run"},
      {"eval", "--checkpoint", dir, "--manifest", file},
      {"infer", "--weights", file, file},
      {"explain", "--checkpoint", dir, file},
      {"experiment", "--manifest", file, "--text-init", dir, "--out", dir + "/grid"},
      {"embed-text", "--checkpoint", file, file},
  };
}

}  // namespace

TEST_CASE("cli --device cuda without a GPU: exit code 2 and the reason, for every model command") {
  if (cuda::available()) {
    skip_test("a CUDA device is present (" + cuda::status() + "): the no-device path cannot be taken here");
    return;
  }
  const std::string dir = fresh_temp_dir("cli_device");
  for (auto args : commands(dir)) {
    INFO("cxr ", args[0]);
    args.insert(args.end(), {"--device", "cuda"});
    const CliRun r = run_cxr(args);
    CHECK(r.exit_code == 2);
    CHECK_MESSAGE(contains(r.err, "--device cuda needs an NVIDIA GPU"), r.err);
    CHECK_MESSAGE(contains(r.err, args[0] == "embed-text" ? "embed-text" : args[0]), r.err);
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("cli --device: an unknown device is refused with exit code 2") {
  const std::string dir = fresh_temp_dir("cli_device_name");
  for (auto args : commands(dir)) {
    INFO("cxr ", args[0]);
    args.insert(args.end(), {"--device", "tpu"});
    const CliRun r = run_cxr(args);
    CHECK(r.exit_code == 2);
    CHECK_MESSAGE(contains(r.err, "--device 'tpu': expected cpu or cuda"), r.err);
  }
  std::filesystem::remove_all(dir);
}
