// test_cpu_allocator.cpp — the CPU caching allocator (tensor/allocator.h): freed large blocks
// are reused for the next request of their size class, small ones bypass the cache, the statistics
// add up, and empty_cache returns every free block.
#include "cpu_testing.h"
#include "tensor/allocator.h"

using namespace cxr;
using namespace cxr::testing;

TEST_CASE("caching allocator: a freed block is reused, small blocks bypass it, stats balance") {
  cpu::empty_cache();
  const cpu::AllocatorStats s0 = cpu::allocator_stats();
  void* p = nullptr;
  {
    Tensor a = empty({1000, 1000});  // 4 MB: cached size
    p = a.data_ptr();
    CHECK(reinterpret_cast<uintptr_t>(p) % 64 == 0);
    CHECK(cpu::allocator_stats().in_use_bytes >= s0.in_use_bytes + 4000000);
  }
  const cpu::AllocatorStats s1 = cpu::allocator_stats();
  CHECK(s1.in_use_bytes == s0.in_use_bytes);
  CHECK(s1.cached_bytes >= 4000000);
  {
    Tensor b = empty({999, 1001});  // a few bytes fewer: the same size class
    CHECK(b.data_ptr() == p);
    CHECK(cpu::allocator_stats().cache_hits == s1.cache_hits + 1);
    CHECK(cpu::allocator_stats().system_allocations == s1.system_allocations);
  }
  {
    Tensor small = empty({10});
    CHECK(cpu::allocator_stats().small_allocations == s1.small_allocations + 1);
    CHECK(cpu::allocator_stats().in_use_bytes == s1.in_use_bytes);
  }
  // A steady loop of identical allocations makes no system allocation after the first round.
  for (int round = 0; round < 3; ++round) {
    const int64_t misses = cpu::allocator_stats().system_allocations;
    Tensor x = randn({64, 64, 64}), y = x * 2.0 + 1.0;
    if (round > 0) CHECK(cpu::allocator_stats().system_allocations == misses);
  }
  cpu::empty_cache();
  CHECK(cpu::allocator_stats().cached_bytes == 0);
}
