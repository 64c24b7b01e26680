// runtime.h — what the fast CPU kernels run on: the instruction set chosen at run time, the
// thread count, and a small thread pool with a deterministic-by-construction parallel_for.
//
//   Instruction set: detected once with __builtin_cpu_supports (AVX-512F, AVX2+FMA, or the
//     portable C++ fallback); CXR_ISA=generic|avx2|avx512 or set_cpu_isa() can lower it (tests run
//     every micro-kernel the machine supports). Nothing here needs -march=native.
//   Threads: CXR_THREADS=n or set_num_threads(n); default (and n = 0): the hardware's cores.
//   parallel_for(n, grain, f) calls f(begin, end) on disjoint chunks of [0, n) that cover it,
//     from up to num_threads() threads, chunks handed out dynamically. It promises nothing about
//     which thread runs which chunk, so a kernel is deterministic if and only if every output
//     element is computed by one chunk with an arithmetic that does not depend on the chunking:
//     that is the rule every kernel in tensor/cpu/ follows (no cross-thread float accumulation).
//     A parallel_for inside another one runs serially on the calling thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

namespace cxr::cpu {

enum class Isa : uint8_t { Generic, Avx2, Avx512 };
Isa detected_isa();         // the best the CPU (and OS) supports
Isa cpu_isa();              // the one in use: min(detected, CXR_ISA / set_cpu_isa)
void set_cpu_isa(Isa isa);  // clamped to detected_isa()
const char* isa_name(Isa isa);

int num_threads();
void set_num_threads(int n);  // n <= 0: the default (hardware cores)
int default_num_threads();

// A non-owning reference to a callable (no allocation, unlike std::function).
template <typename Sig>
class FunctionRef;
template <typename R, typename... Args>
class FunctionRef<R(Args...)> {
 public:
  template <typename F, typename = std::enable_if_t<!std::is_same_v<std::decay_t<F>, FunctionRef>>>
  FunctionRef(F&& f)  // NOLINT: implicit, like std::function
      : obj_(const_cast<void*>(static_cast<const void*>(&f))), call_([](void* o, Args... a) -> R {
          return (*static_cast<std::remove_reference_t<F>*>(o))(std::forward<Args>(a)...);
        }) {}
  R operator()(Args... a) const { return call_(obj_, std::forward<Args>(a)...); }

 private:
  void* obj_;
  R (*call_)(void*, Args...);
};

// Runs f(begin, end) over chunks of [0, n) of at least `grain` elements (see above). Serial when
// there is one thread, one chunk, or when called from inside a parallel region.
void parallel_for(int64_t n, int64_t grain, FunctionRef<void(int64_t, int64_t)> f);

// A per-thread scratch buffer: 64-byte aligned, at least `bytes` long, kept and reused (so a
// steady-state kernel does not allocate). Each slot is one buffer; a kernel and the GEMM it calls
// use different slots (see kScratch* below). The contents do not survive a call with the same slot.
void* scratch_buffer(int slot, size_t bytes);
inline constexpr int kScratchGemmA = 0, kScratchGemmB = 1, kScratchConv0 = 2, kScratchConv1 = 3, kScratchSlots = 6;

// True while the calling thread runs inside parallel_for (kernels use it to choose a serial inner
// path instead of asking for nested parallelism).
bool in_parallel_region();

}  // namespace cxr::cpu
