// vec_avx2.cpp — vec_impl.h compiled for AVX2 + FMA (called only when the CPU reports them).
// Every header is included before the target pragma, so no inline function of a shared header is
// compiled for this instruction set (and then possibly chosen by the linker for every caller).
#include <cmath>
#include <cstdint>
#include <limits>

#include "tensor/cpu/vec.h"

#if defined(__x86_64__)
#if defined(__clang__)  // (clang ignores GCC's target pragma; this is its equivalent)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#endif
#include "tensor/cpu/vec_impl.h"
namespace cxr::cpu {
namespace {
const VecKernels kAvx2{make_vec_ops<float>(), make_vec_ops<double>()};
}
}  // namespace cxr::cpu
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
namespace cxr::cpu {
const VecKernels& vec_kernels_avx2() { return kAvx2; }
}  // namespace cxr::cpu
#endif
