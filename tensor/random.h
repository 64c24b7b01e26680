// random.h — Philox-4x32-10, a counter-based generator (Salmon et al., SC'11): the random bits of
// element i are philox(key = seed, counter = offset + i), a pure function of (seed, offset, i).
// So the numbers do not depend on how many threads fill a tensor or in which order, nor on the
// device (the block function is tensor/philox.h, shared with CUDA). Each draw of n elements
// advances the generator's offset by n.
#pragma once

#include <array>
#include <cstdint>

namespace cxr {

// One Philox-4x32-10 block: four 32-bit random words for (key, counter).
std::array<uint32_t, 4> philox4x32(uint64_t key, uint64_t counter);

class Generator {
 public:
  explicit Generator(uint64_t seed = 0) : seed_(seed) {}
  uint64_t seed() const { return seed_; }
  uint64_t offset() const { return offset_; }
  void set_state(uint64_t seed, uint64_t offset) { seed_ = seed, offset_ = offset; }
  // Reserves n consecutive counters and returns the first one.
  uint64_t reserve(uint64_t n) {
    uint64_t first = offset_;
    offset_ += n;
    return first;
  }

  // The per-element transforms (element i of a draw uses counter first + i).
  double uniform(uint64_t counter) const;                  // [0, 1), 53 random bits
  double normal(uint64_t counter) const;                   // N(0, 1), Box-Muller
  int64_t integer(uint64_t counter, int64_t low, int64_t high) const;  // [low, high)

 private:
  uint64_t seed_ = 0;
  uint64_t offset_ = 0;
};

// The generator used when an op is not given one.
Generator& default_generator();
void manual_seed(uint64_t seed);

}  // namespace cxr
