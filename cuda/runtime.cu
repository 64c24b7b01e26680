// runtime.cu — the backend's runtime (runtime.h): device selection, the one stream, error checks,
// the stream-ordered caching allocator behind every CUDA tensor, pinned uploads and event timers.
//
// Allocator: blocks are cut to size classes (multiples of 512 B up to 1 MiB, then 8 classes per
// power of two: at most 12.5% slack) and kept in free lists per class when their tensor dies. All
// work is queued on one stream, so a freed block can be handed to the next allocation at once: the
// kernels that used it run before any kernel that reuses it. A training step allocates the same
// sizes every iteration, so after the first one it never calls cudaMalloc (tested). When
// cudaMalloc fails, the cache is returned to the driver and the allocation retried once; then the
// error names the op, the bytes asked for, and what is in use and cached.
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "cuda/common.cuh"

namespace cxr::cuda {

namespace {

struct RuntimeState {
  bool ok = false;
  std::string why_not;  // when !ok
  int device = 0;
  cudaStream_t stream = nullptr;
  cudaDeviceProp props{};
};

RuntimeState& state() {
  static RuntimeState s = [] {
    RuntimeState r;
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess) {
      r.why_not = std::string("no CUDA device: ") + cudaGetErrorString(e);
      (void)cudaGetLastError();  // clear the sticky error
      return r;
    }
    if (count == 0) {
      r.why_not = "no CUDA device: the driver reports none";
      return r;
    }
    if (const char* env = std::getenv("CXR_CUDA_DEVICE"); env && *env) r.device = std::atoi(env);
    if (r.device < 0 || r.device >= count) {
      r.why_not = "CXR_CUDA_DEVICE=" + std::to_string(r.device) + " but there are " + std::to_string(count) + " devices";
      return r;
    }
    if ((e = cudaSetDevice(r.device)) != cudaSuccess ||
        (e = cudaGetDeviceProperties(&r.props, r.device)) != cudaSuccess ||
        (e = cudaStreamCreateWithFlags(&r.stream, cudaStreamNonBlocking)) != cudaSuccess) {
      r.why_not = std::string("CUDA device ") + std::to_string(r.device) + " unusable: " + cudaGetErrorString(e);
      return r;
    }
    r.ok = true;
    return r;
  }();
  return s;
}

// ---- the caching allocator ----
constexpr size_t kSmallLimit = size_t(1) << 20;

size_t size_class(size_t n) {
  if (n <= kSmallLimit) return (std::max<size_t>(n, 1) + 511) / 512 * 512;
  size_t power = kSmallLimit;
  while (power * 2 < n) power *= 2;
  const size_t step = power / 8;
  return (n + step - 1) / step * step;
}

struct Cache {
  std::mutex mutex;
  std::multimap<size_t, void*> free_blocks;   // size class -> block
  std::unordered_map<void*, size_t> live;     // block -> size class
  AllocatorStats stats;
};

Cache& cache() {
  static Cache* c = new Cache;  // never destroyed: tensors may outlive static destruction order
  return *c;
}

void release_cached_locked(Cache& c) {
  for (auto& [size, p] : c.free_blocks) (void)cudaFree(p);
  c.free_blocks.clear();
  c.stats.cached_bytes = 0;
}

std::string gib(int64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f GiB", double(bytes) / double(1 << 30));
  return buf;
}

void* device_allocate(size_t nbytes) {
  require("cuda allocator");
  Cache& c = cache();
  const size_t size = size_class(nbytes);
  std::lock_guard<std::mutex> lock(c.mutex);
  void* p = nullptr;
  if (auto it = c.free_blocks.find(size); it != c.free_blocks.end()) {
    p = it->second;
    c.free_blocks.erase(it);
    c.stats.cached_bytes -= int64_t(size);
    ++c.stats.cache_hits;
  } else {
    cudaError_t e = cudaMalloc(&p, size);
    if (e != cudaSuccess) {
      (void)cudaGetLastError();
      (void)cudaStreamSynchronize(state().stream);
      release_cached_locked(c);
      e = cudaMalloc(&p, size);
    }
    if (e != cudaSuccess) {
      (void)cudaGetLastError();
      size_t free_bytes = 0, total_bytes = 0;
      (void)cudaMemGetInfo(&free_bytes, &total_bytes);
      const char* op = OpScope::current();
      fail(op ? op : "cuda", ": CUDA out of memory: asked for ", nbytes, " bytes (", gib(int64_t(nbytes)),
           "); this process holds ", gib(c.stats.in_use_bytes), " in tensors, the device has ",
           gib(int64_t(free_bytes)), " free of ", gib(int64_t(total_bytes)));
    }
    ++c.stats.device_allocations;
  }
  c.live[p] = size;
  c.stats.in_use_bytes += int64_t(size);
  c.stats.peak_in_use_bytes = std::max(c.stats.peak_in_use_bytes, c.stats.in_use_bytes);
  return p;
}

void device_free(void* p) {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  auto it = c.live.find(p);
  if (it == c.live.end()) return;  // not ours: nothing sane to do in a destructor
  const size_t size = it->second;
  c.live.erase(it);
  c.stats.in_use_bytes -= int64_t(size);
  c.free_blocks.emplace(size, p);
  c.stats.cached_bytes += int64_t(size);
}

// Registered at start-up (no CUDA call happens until the first allocation).
const bool allocator_registered = [] {
  register_allocator(Device::CUDA, Allocator{device_allocate, device_free});
  return true;
}();

}  // namespace

// ---- runtime.h ----
bool built() { return true; }
bool emulated() {
#if defined(CXR_CUDA_EMULATION)
  return true;
#else
  return false;
#endif
}

bool available() { return state().ok; }

std::string status() {
  const RuntimeState& s = state();
  if (!s.ok) return s.why_not;
  return std::string(s.props.name) + ", sm_" + std::to_string(s.props.major) + std::to_string(s.props.minor) +
         ", " + std::to_string(s.props.multiProcessorCount) + " SMs, " + gib(int64_t(s.props.totalGlobalMem));
}

void require(const std::string& who) {
  (void)allocator_registered;
  if (!state().ok) fail(who, ": --device cuda needs an NVIDIA GPU: ", state().why_not);
}

cudaStream_t stream() {
  require("cuda");
  return state().stream;
}

void synchronize() { CXR_CUDA_CHECK(cudaStreamSynchronize(stream())); }

Properties properties() {
  require("cuda");
  const cudaDeviceProp& p = state().props;
  Properties out;
  out.name = p.name;
  out.sm_major = p.major;
  out.sm_minor = p.minor;
  out.multiprocessors = p.multiProcessorCount;
  out.memory_bytes = int64_t(p.totalGlobalMem);
  out.l2_bytes = int64_t(p.l2CacheSize);
  CXR_CUDA_CHECK(cudaDeviceGetAttribute(&out.clock_khz, cudaDevAttrClockRate, state().device));
  CXR_CUDA_CHECK(cudaDeviceGetAttribute(&out.memory_clock_khz, cudaDevAttrMemoryClockRate, state().device));
  out.memory_bus_bits = p.memoryBusWidth;
  return out;
}

void throw_cuda_error(const char* call, cudaError_t error, const char* file, int line) {
  const char* op = OpScope::current();
  fail(file, ":", line, ": ", call, " failed: ", cudaGetErrorName(error), ": ", cudaGetErrorString(error),
       op ? " (in op " : "", op ? op : "", op ? ")" : "");
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
  if (!available()) return;
  synchronize();
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  release_cached_locked(c);
}

// ---- pinned uploads: a ring of staging buffers, each reused once its last copy has finished ----
namespace {
struct StagingBuffer {
  void* host = nullptr;
  size_t bytes = 0;
  cudaEvent_t done = nullptr;
};
struct Staging {
  std::mutex mutex;
  std::vector<StagingBuffer> ring = std::vector<StagingBuffer>(4);
  size_t next = 0;
};
Staging& staging() {
  static Staging* s = new Staging;
  return *s;
}
}  // namespace

Tensor upload(const Tensor& host) {
  CXR_CHECK(host.device() == Device::CPU, "cuda::upload: expects a CPU tensor, got a ", device_name(host.device()),
            " one");
  const Tensor src = contiguous_values(host);
  Tensor out = empty(src.shape(), {src.dtype(), Device::CUDA, false});
  const size_t bytes = size_t(src.numel()) * dtype_size(src.dtype());
  if (bytes == 0) return out;
  Staging& s = staging();
  std::lock_guard<std::mutex> lock(s.mutex);
  StagingBuffer& b = s.ring[s.next];
  s.next = (s.next + 1) % s.ring.size();
  if (b.done) CXR_CUDA_CHECK(cudaEventSynchronize(b.done));  // its previous copy has left the buffer
  else CXR_CUDA_CHECK(cudaEventCreateWithFlags(&b.done, cudaEventDisableTiming));
  if (b.bytes < bytes) {
    if (b.host) CXR_CUDA_CHECK(cudaFreeHost(b.host));
    b.host = nullptr;
    b.bytes = 0;
    CXR_CUDA_CHECK(cudaMallocHost(&b.host, bytes));
    b.bytes = bytes;
  }
  std::memcpy(b.host, src.data_ptr(), bytes);
  CXR_CUDA_CHECK(cudaMemcpyAsync(out.data_ptr(), b.host, bytes, cudaMemcpyHostToDevice, stream()));
  CXR_CUDA_CHECK(cudaEventRecord(b.done, stream()));
  return out;
}

// ---- Timer ----
Timer::Timer() {
  cudaEvent_t a = nullptr, b = nullptr;
  CXR_CUDA_CHECK(cudaEventCreateWithFlags(&a, cudaEventDefault));
  CXR_CUDA_CHECK(cudaEventCreateWithFlags(&b, cudaEventDefault));
  start_ = a;
  stop_ = b;
}
Timer::~Timer() {
  (void)cudaEventDestroy(static_cast<cudaEvent_t>(start_));
  (void)cudaEventDestroy(static_cast<cudaEvent_t>(stop_));
}
void Timer::start() { CXR_CUDA_CHECK(cudaEventRecord(static_cast<cudaEvent_t>(start_), stream())); }
void Timer::stop() { CXR_CUDA_CHECK(cudaEventRecord(static_cast<cudaEvent_t>(stop_), stream())); }
double Timer::elapsed_ms() {
  CXR_CUDA_CHECK(cudaEventSynchronize(static_cast<cudaEvent_t>(stop_)));
  float ms = 0;
  CXR_CUDA_CHECK(cudaEventElapsedTime(&ms, static_cast<cudaEvent_t>(start_), static_cast<cudaEvent_t>(stop_)));
  return double(ms);
}

}  // namespace cxr::cuda
