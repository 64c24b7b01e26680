// random.cpp — Philox-4x32-10 and the uniform/normal/integer transforms. See random.h.
#include "tensor/random.h"

#include <cmath>

namespace cxr {

std::array<uint32_t, 4> philox4x32(uint64_t key, uint64_t counter) {
  constexpr uint32_t kMul0 = 0xD2511F53u, kMul1 = 0xCD9E8D57u;  // round multipliers
  constexpr uint32_t kWeyl0 = 0x9E3779B9u, kWeyl1 = 0xBB67AE85u;  // key schedule increments
  std::array<uint32_t, 4> c = {uint32_t(counter), uint32_t(counter >> 32), 0u, 0u};
  uint32_t k0 = uint32_t(key), k1 = uint32_t(key >> 32);
  for (int round = 0; round < 10; ++round) {
    uint64_t p0 = uint64_t(kMul0) * c[0];
    uint64_t p1 = uint64_t(kMul1) * c[2];
    c = {uint32_t(p1 >> 32) ^ c[1] ^ k0, uint32_t(p1), uint32_t(p0 >> 32) ^ c[3] ^ k1, uint32_t(p0)};
    k0 += kWeyl0;
    k1 += kWeyl1;
  }
  return c;
}

static double to_unit(uint32_t hi, uint32_t lo) {  // 53 bits -> [0, 1)
  uint64_t bits = (uint64_t(hi) << 32 | lo) >> 11;
  return double(bits) * (1.0 / 9007199254740992.0);
}

double Generator::uniform(uint64_t counter) const {
  auto w = philox4x32(seed_, counter);
  return to_unit(w[0], w[1]);
}

double Generator::normal(uint64_t counter) const {
  auto w = philox4x32(seed_, counter);
  double u1 = 1.0 - to_unit(w[0], w[1]);  // (0, 1]: log is finite
  double u2 = to_unit(w[2], w[3]);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
}

int64_t Generator::integer(uint64_t counter, int64_t low, int64_t high) const {
  auto w = philox4x32(seed_, counter);
  uint64_t range = uint64_t(high - low);
  uint64_t bits = uint64_t(w[0]) << 32 | w[1];
  return low + int64_t(bits % range);  // modulo bias < range / 2^64: negligible
}

Generator& default_generator() {
  static Generator gen(0);
  return gen;
}

void manual_seed(uint64_t seed) { default_generator().set_state(seed, 0); }

}  // namespace cxr
