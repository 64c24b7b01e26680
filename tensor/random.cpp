// random.cpp — the Generator's uniform/normal/integer transforms of Philox-4x32-10 (the block
// function and the [0, 1) map are in tensor/philox.h, shared with the CUDA kernels). See random.h.
#include "tensor/random.h"

#include <cmath>

#include "tensor/philox.h"

namespace cxr {

std::array<uint32_t, 4> philox4x32(uint64_t key, uint64_t counter) {
  const philox::Words r = philox::philox4x32_10(key, counter);
  return {r.w[0], r.w[1], r.w[2], r.w[3]};
}

double Generator::uniform(uint64_t counter) const { return philox::uniform(seed_, counter); }

double Generator::normal(uint64_t counter) const {
  auto w = philox4x32(seed_, counter);
  double u1 = 1.0 - philox::to_unit(w[0], w[1]);  // (0, 1]: log is finite
  double u2 = philox::to_unit(w[2], w[3]);
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
