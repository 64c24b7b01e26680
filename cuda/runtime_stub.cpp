// runtime_stub.cpp — runtime.h in a build without the CUDA backend (-DCXR_CUDA=OFF, or no nvcc):
// no device is ever available, and every entry point that needs one says why.
#include "cuda/runtime.h"

namespace cxr::cuda {

namespace {
constexpr const char* kWhyNot = "this build has no CUDA backend (configured with -DCXR_CUDA=OFF, or nvcc was not found)";
}

bool built() { return false; }
bool emulated() { return false; }
bool available() { return false; }
std::string status() { return kWhyNot; }
void require(const std::string& who) { fail(who, ": --device cuda needs an NVIDIA GPU: ", kWhyNot); }
void synchronize() {}
Properties properties() { fail("cuda: ", kWhyNot); }
AllocatorStats allocator_stats() { return {}; }
void reset_peak_stats() {}
void empty_cache() {}
Tensor upload(const Tensor&) { fail("cuda::upload: ", kWhyNot); }
Timer::Timer() { fail("cuda::Timer: ", kWhyNot); }
Timer::~Timer() = default;
void Timer::start() {}
void Timer::stop() {}
double Timer::elapsed_ms() { return 0; }

}  // namespace cxr::cuda
