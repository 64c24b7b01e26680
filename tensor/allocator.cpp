// allocator.cpp — see allocator.h. One mutex around a map from size class to a stack of free
// blocks; each block's class is found again at free time from a map of live blocks (only blocks of
// >= kMinCachedBytes are tracked; a small block is recognized by not being in it).
#include "tensor/allocator.h"

#include <cstdlib>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "tensor/error.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define CXR_POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define CXR_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define CXR_POISON(p, n) ((void)(p), (void)(n))
#define CXR_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

namespace cxr::cpu {
namespace {

size_t size_class(size_t n) {
  if (n <= (size_t(1) << 20)) return (n + 4095) / 4096 * 4096;
  size_t top = size_t(1) << (63 - __builtin_clzll(n - 1));  // largest power of two < n
  size_t step = top / 8;
  return (n + step - 1) / step * step;
}

int64_t limit_from_env() {
  const char* env = std::getenv("CXR_CPU_CACHE_MIB");
  if (env == nullptr || *env == '\0') return int64_t(2048) << 20;
  char* end = nullptr;
  long long mib = std::strtoll(env, &end, 10);
  CXR_CHECK(end != env && *end == '\0' && mib >= 0, "CXR_CPU_CACHE_MIB: expected a size in MiB, got '", env, "'");
  return int64_t(mib) << 20;
}

void* system_allocate(size_t bytes) {
  void* p = std::aligned_alloc(64, bytes == 0 ? 64 : (bytes + 63) / 64 * 64);
  CXR_CHECK(p != nullptr, "cpu allocator: out of memory allocating ", bytes, " bytes");
  return p;
}

struct Cache {
  std::mutex mutex;
  std::unordered_map<size_t, std::vector<void*>> free_blocks;  // size class -> free blocks
  std::unordered_map<void*, size_t> live;                      // cached-size blocks in use -> class
  AllocatorStats stats;
  const int64_t limit = limit_from_env();
};
Cache& cache() {
  static Cache* c = new Cache;  // never destroyed: storages may be freed during static destruction
  return *c;
}

}  // namespace

void* cached_allocate(size_t nbytes) {
  Cache& c = cache();
  if (nbytes < kMinCachedBytes || c.limit == 0) {
    std::lock_guard<std::mutex> lock(c.mutex);
    ++c.stats.small_allocations;
    return system_allocate(nbytes);
  }
  const size_t cls = size_class(nbytes);
  std::lock_guard<std::mutex> lock(c.mutex);
  void* p = nullptr;
  auto it = c.free_blocks.find(cls);
  if (it != c.free_blocks.end() && !it->second.empty()) {
    p = it->second.back();
    it->second.pop_back();
    c.stats.cached_bytes -= int64_t(cls);
    ++c.stats.cache_hits;
    CXR_UNPOISON(p, cls);
  } else {
    p = system_allocate(cls);
    ++c.stats.system_allocations;
  }
  c.live.emplace(p, cls);
  c.stats.in_use_bytes += int64_t(cls);
  c.stats.peak_in_use_bytes = std::max(c.stats.peak_in_use_bytes, c.stats.in_use_bytes);
  return p;
}

void cached_free(void* p) {
  if (p == nullptr) return;
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  auto it = c.live.find(p);
  if (it == c.live.end()) {  // a small block
    std::free(p);
    return;
  }
  const size_t cls = it->second;
  c.live.erase(it);
  c.stats.in_use_bytes -= int64_t(cls);
  if (c.stats.cached_bytes + int64_t(cls) > c.limit) {
    std::free(p);
    return;
  }
  CXR_POISON(p, cls);
  c.free_blocks[cls].push_back(p);
  c.stats.cached_bytes += int64_t(cls);
}

AllocatorStats allocator_stats() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  return c.stats;
}

void reset_peak_stats() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  c.stats.peak_in_use_bytes = c.stats.in_use_bytes;
}

void empty_cache() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  for (auto& [cls, blocks] : c.free_blocks)
    for (void* p : blocks) {
      CXR_UNPOISON(p, cls);
      std::free(p);
    }
  c.free_blocks.clear();
  c.stats.cached_bytes = 0;
}

}  // namespace cxr::cpu
