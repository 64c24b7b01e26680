// versions.h — the kernel study's ladders (cuda/kernels/<op>/v1..vN, docs/KERNELS.md): each op
// lists its versions, from the simplest correct one to the fastest, and the backend runs the one
// marked best unless CXR_CUDA_VERSION_<OP>=n picks another (the bench, cxr-kernels, runs them all).
// Plain C++: the bench and the tests see the ladders without CUDA headers.
#pragma once

#include <string>
#include <vector>

namespace cxr::cuda {

struct KernelVersion {
  int number;                 // 1..N, in the order of the ladder
  std::string name;           // "v3_register_blocked"
  std::string adds;           // what it adds over the version before, one line
  bool exact_fp32 = true;     // false: tensor cores (TF32, BF16): another precision than float32
  bool emulated = true;       // false: the CPU emulator cannot run it (e.g. inline PTX)
};

struct KernelLadder {
  std::string op;                      // "sgemm": CXR_CUDA_VERSION_SGEMM
  std::vector<KernelVersion> versions;
  int best = 1;                        // what the backend registers
  const KernelVersion& version(int number) const;
};

// The version of `ladder` to run: CXR_CUDA_VERSION_<OP> (read at every call, so tests and the bench
// can switch it), else ladder.best. An unknown number or a non-number throws, naming the variable
// and listing the versions.
int selected_version(const KernelLadder& ladder);
std::string version_variable(const KernelLadder& ladder);  // "CXR_CUDA_VERSION_SGEMM"
std::string version_list(const KernelLadder& ladder);      // "1 (v1_naive), 2 (v2_shared_tiles), ..."


// Every ladder of the backend (for the bench, the tests and the docs table), in a fixed order.
const std::vector<const KernelLadder*>& kernel_ladders();

}  // namespace cxr::cuda
