// philox.h — Philox-4x32-10 (Salmon et al., SC'11) and its 53-bit map to [0, 1), written once as
// __host__ __device__ functions: the CPU's Generator (tensor/random.cpp) and the CUDA kernels
// (cuda/norm.cu's dropout mask) both call these, so a device draws the same numbers as the CPU,
// bit for bit. Plain C++ outside nvcc (CXR_HOST_DEVICE is then empty).
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define CXR_HOST_DEVICE __host__ __device__
#else
#define CXR_HOST_DEVICE
#endif

namespace cxr::philox {

struct Words {
  uint32_t w[4];
};

// One Philox-4x32-10 block: four 32-bit random words for (key, counter); the counter's two
// 32-bit halves are the first two counter words, the last two are 0.
CXR_HOST_DEVICE inline Words philox4x32_10(uint64_t key, uint64_t counter) {
  constexpr uint32_t kMul0 = 0xD2511F53u, kMul1 = 0xCD9E8D57u;    // round multipliers
  constexpr uint32_t kWeyl0 = 0x9E3779B9u, kWeyl1 = 0xBB67AE85u;  // key schedule increments
  uint32_t c0 = uint32_t(counter), c1 = uint32_t(counter >> 32), c2 = 0u, c3 = 0u;
  uint32_t k0 = uint32_t(key), k1 = uint32_t(key >> 32);
  for (int round = 0; round < 10; ++round) {
    const uint64_t p0 = uint64_t(kMul0) * c0;
    const uint64_t p1 = uint64_t(kMul1) * c2;
    const uint32_t n0 = uint32_t(p1 >> 32) ^ c1 ^ k0, n1 = uint32_t(p1);
    const uint32_t n2 = uint32_t(p0 >> 32) ^ c3 ^ k1, n3 = uint32_t(p0);
    c0 = n0, c1 = n1, c2 = n2, c3 = n3;
    k0 += kWeyl0;
    k1 += kWeyl1;
  }
  return {{c0, c1, c2, c3}};
}

// The top 53 bits of hi:lo as a double in [0, 1).
CXR_HOST_DEVICE inline double to_unit(uint32_t hi, uint32_t lo) {
  const uint64_t bits = (uint64_t(hi) << 32 | lo) >> 11;
  return double(bits) * (1.0 / 9007199254740992.0);
}

// Generator(key).uniform(counter): U[0, 1) from the first two words of the block.
CXR_HOST_DEVICE inline double uniform(uint64_t key, uint64_t counter) {
  const Words r = philox4x32_10(key, counter);
  return to_unit(r.w[0], r.w[1]);
}

}  // namespace cxr::philox
