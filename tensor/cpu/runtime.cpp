// runtime.cpp — instruction-set detection, the CPU kernel switch, the thread count and the pool
// behind parallel_for (see runtime.h). The pool is num_threads()-1 workers plus the calling thread;
// a job is a range of chunks claimed one at a time from an atomic counter (see Pool). Waiting spins briefly
// and then sleeps on the atomic (a futex), so idle workers cost nothing on a shared machine.
#include "tensor/cpu/runtime.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tensor/dispatch.h"
#include "tensor/error.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CXR_X86 1
#endif

namespace cxr {

namespace cpu {

// ---- instruction set ----
Isa detected_isa() {
  static const Isa isa = [] {
#ifdef CXR_X86
    __builtin_cpu_init();
    // libgcc's checks include the OS's support for the wider register state (XCR0).
    if (__builtin_cpu_supports("avx512f")) return Isa::Avx512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa::Avx2;
#endif
    return Isa::Generic;
  }();
  return isa;
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Generic:
      return "generic";
    case Isa::Avx2:
      return "avx2";
    case Isa::Avx512:
      return "avx512";
  }
  return "?";
}

namespace {
Isa isa_from_env() {
  const char* env = std::getenv("CXR_ISA");
  if (env == nullptr || *env == '\0') return detected_isa();
  for (Isa isa : {Isa::Generic, Isa::Avx2, Isa::Avx512})
    if (std::strcmp(env, isa_name(isa)) == 0) return std::min(isa, detected_isa());
  fail("CXR_ISA: expected 'generic', 'avx2' or 'avx512', got '", env, "'");
}
std::atomic<Isa>& isa_setting() {
  static std::atomic<Isa> setting{isa_from_env()};
  return setting;
}
}  // namespace

Isa cpu_isa() { return isa_setting().load(std::memory_order_relaxed); }
void set_cpu_isa(Isa isa) { isa_setting().store(std::min(isa, detected_isa()), std::memory_order_relaxed); }

// ---- the pool ----
namespace {

thread_local bool t_in_parallel = false;

inline void cpu_relax() {
#ifdef CXR_X86
  _mm_pause();
#endif
}

// Waits until `a` differs from `old`: a short spin (a job usually follows within microseconds),
// then a futex sleep.
template <typename T>
void wait_while_equal(const std::atomic<T>& a, T old) {
  for (int i = 0; i < 4000; ++i) {
    if (a.load(std::memory_order_acquire) != old) return;
    cpu_relax();
  }
  while (a.load(std::memory_order_acquire) == old) a.wait(old, std::memory_order_acquire);
}

// A job's chunks are claimed from `next_`, which packs the job's number (low 32 bits of its epoch)
// with the count of unclaimed chunks: a claim is a compare-and-swap that fails once the job is over
// or replaced, so a worker that wakes late (a descheduled thread on a busy machine) can never take a
// chunk of a job it did not see start. The caller waits for the job's chunks to be *done*, not for
// every worker to check in: on an oversubscribed machine (ctest -j2, loader threads) a worker that
// is not scheduled no longer stalls the whole job. A worker reads the job's fields only while it
// holds an unfinished chunk, so they cannot change under it.
class Pool {
 public:
  explicit Pool(int threads) : size_(threads) {
    for (int i = 1; i < size_; ++i) workers_.emplace_back([this] { worker_loop(); });
  }
  ~Pool() {
    stop_.store(true, std::memory_order_relaxed);
    epoch_.fetch_add(1, std::memory_order_release);
    epoch_.notify_all();
    for (auto& t : workers_) t.join();
  }
  int size() const { return size_; }

  // Runs chunks [0, chunks) of the job on the threads of the pool; returns when all are done.
  void run(int64_t n, int64_t chunks, FunctionRef<void(int64_t, int64_t)> f) {
    CXR_CHECK(chunks >= 0 && chunks < (int64_t(1) << 31), "parallel_for: too many chunks (", chunks, ")");
    job_ = &f;
    n_ = n;
    chunks_ = chunks;
    error_ = nullptr;
    done_.store(0, std::memory_order_relaxed);
    const uint64_t epoch = epoch_.load(std::memory_order_relaxed) + 1;
    next_.store(pack(epoch, chunks), std::memory_order_release);
    epoch_.store(epoch, std::memory_order_release);
    epoch_.notify_all();
    work(epoch);
    for (int64_t d; (d = done_.load(std::memory_order_acquire)) != chunks;) wait_while_equal(done_, d);
    job_ = nullptr;
    if (error_) std::rethrow_exception(error_);
  }

 private:
  static uint64_t pack(uint64_t epoch, int64_t left) { return (epoch << 32) | uint64_t(left); }

  void worker_loop() {
    uint64_t seen = 0;
    while (true) {
      wait_while_equal(epoch_, seen);
      seen = epoch_.load(std::memory_order_acquire);
      if (stop_.load(std::memory_order_relaxed)) return;
      work(seen);
    }
  }

  // Claims chunks of job `epoch` until none is left (or a newer job replaced it). Chunks are taken
  // from the last down; chunk c is [c n / chunks, (c + 1) n / chunks). The order does not matter:
  // kernels write results by chunk, never accumulate across chunks in claim order.
  void work(uint64_t epoch) {
    t_in_parallel = true;
    uint64_t v = next_.load(std::memory_order_acquire);
    while ((v >> 32) == (epoch & 0xffffffffu) && (v & 0xffffffffu) != 0) {
      if (!next_.compare_exchange_weak(v, v - 1, std::memory_order_acq_rel, std::memory_order_acquire)) continue;
      const int64_t c = int64_t(v & 0xffffffffu) - 1;
      const int64_t chunks = chunks_;  // stable: this job cannot end while our chunk is not done
      try {
        (*job_)(c * n_ / chunks, (c + 1) * n_ / chunks);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex_);
        if (!error_) error_ = std::current_exception();
      }
      // After this increment the job may be over: touch none of its fields any more.
      if (done_.fetch_add(1, std::memory_order_acq_rel) + 1 == chunks) done_.notify_all();
      v = next_.load(std::memory_order_acquire);
    }
    t_in_parallel = false;
  }

  const int size_;
  std::vector<std::thread> workers_;
  std::atomic<uint64_t> epoch_{0};
  std::atomic<uint64_t> next_{0};
  std::atomic<int64_t> done_{0};
  const FunctionRef<void(int64_t, int64_t)>* job_ = nullptr;
  int64_t n_ = 0, chunks_ = 0;
  std::mutex error_mutex_;
  std::exception_ptr error_;
  std::atomic<bool> stop_{false};
};

int threads_from_env() {
  const char* env = std::getenv("CXR_THREADS");
  if (env == nullptr || *env == '\0') return default_num_threads();
  char* end = nullptr;
  long n = std::strtol(env, &end, 10);
  CXR_CHECK(end != env && *end == '\0' && n >= 0 && n <= 1024, "CXR_THREADS: expected a thread count, got '", env, "'");
  return n == 0 ? default_num_threads() : int(n);
}

struct PoolHolder {
  std::mutex mutex;  // serializes jobs from different user threads, and resizing
  std::unique_ptr<Pool> pool;
  int threads = 0;
};
PoolHolder& holder() {
  static PoolHolder h;
  return h;
}
std::atomic<int>& threads_setting() {
  static std::atomic<int> n{threads_from_env()};
  return n;
}

}  // namespace

void* scratch_buffer(int slot, size_t bytes) {
  struct Buffer {
    void* p = nullptr;
    size_t size = 0;
    ~Buffer() { std::free(p); }
  };
  thread_local Buffer buffers[kScratchSlots];
  CXR_CHECK(slot >= 0 && slot < kScratchSlots, "scratch_buffer: no slot ", slot);
  Buffer& b = buffers[slot];
  if (b.size < bytes) {
    std::free(b.p);
    b.p = nullptr;
    b.size = 0;
    const size_t size = (bytes + 4095) / 4096 * 4096;
    b.p = std::aligned_alloc(64, size);
    CXR_CHECK(b.p != nullptr, "scratch_buffer: out of memory allocating ", size, " bytes");
    b.size = size;
  }
  return b.p;
}

int default_num_threads() { return std::max(1, int(std::thread::hardware_concurrency())); }
int num_threads() { return threads_setting().load(std::memory_order_relaxed); }
void set_num_threads(int n) { threads_setting().store(n <= 0 ? default_num_threads() : n); }
bool in_parallel_region() { return t_in_parallel; }

// How many chunks a job is cut into: enough to balance threads that the machine slows unevenly,
// few enough that each is worth a claim (at least `grain` elements each).
static constexpr int64_t kChunksPerThread = 4;

void parallel_for(int64_t n, int64_t grain, FunctionRef<void(int64_t, int64_t)> f) {
  if (n <= 0) return;
  const int threads = num_threads();
  const int64_t chunks = std::min<int64_t>((n + std::max<int64_t>(grain, 1) - 1) / std::max<int64_t>(grain, 1),
                                           kChunksPerThread * threads);
  if (threads <= 1 || chunks <= 1 || t_in_parallel) {
    f(0, n);
    return;
  }
  PoolHolder& h = holder();
  std::unique_lock<std::mutex> lock(h.mutex, std::try_to_lock);
  if (!lock.owns_lock()) {  // another user thread is running a job: do this one serially
    f(0, n);
    return;
  }
  if (!h.pool || h.threads != threads) {
    h.pool.reset();
    h.pool = std::make_unique<Pool>(threads);
    h.threads = threads;
  }
  h.pool->run(n, chunks, f);
}

}  // namespace cpu
}  // namespace cxr
