// allocator.h — the CPU caching allocator behind every CPU tensor's storage (tensor/tensor.cpp).
// Blocks of at least kMinCachedBytes are kept when freed, in free lists keyed by their size class,
// and handed out again for the next request of that class: a training step allocates the same
// sizes every iteration, so after the first step it makes no system calls and takes no page
// faults (fresh pages cost a fault and a zeroing each: ~13% of a resnet256 step before this).
// Smaller blocks go straight to malloc, whose own free lists already behave like this.
//   Size classes: multiples of 4 KiB up to 1 MiB, then 8 steps per power of two (<= 12.5% slack).
//   The free blocks are capped (CXR_CPU_CACHE_MIB, default 2048): beyond it, freed blocks go back
//   to the system. CXR_CPU_CACHE_MIB=0 disables caching. empty_cache() returns all free blocks.
//   Under AddressSanitizer, cached blocks are poisoned, so a use after free is still reported.
#pragma once

#include <cstddef>
#include <cstdint>

namespace cxr::cpu {

inline constexpr size_t kMinCachedBytes = 64 * 1024;

void* cached_allocate(size_t nbytes);  // 64-byte aligned; throws cxr::Error when out of memory
void cached_free(void* p);

struct AllocatorStats {
  int64_t in_use_bytes = 0;  // held by live storages (rounded to size classes)
  int64_t peak_in_use_bytes = 0;
  int64_t cached_bytes = 0;        // free blocks kept for reuse
  int64_t system_allocations = 0;  // cacheable blocks obtained from the system (cache misses)
  int64_t cache_hits = 0;
  int64_t small_allocations = 0;  // blocks below kMinCachedBytes (malloc)
};
AllocatorStats allocator_stats();
void reset_peak_stats();
void empty_cache();

}  // namespace cxr::cpu
