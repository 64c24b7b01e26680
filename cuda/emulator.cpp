// emulator.cpp — see emulator.h: the fiber scheduler behind emulated launches, and the runtime API
// subset over host memory. Compiled only in the -DCXR_CUDA_EMULATION=ON build.
//
// Each thread of a block is a fiber with its own stack. A fiber runs until it finishes or reaches
// a barrier (__syncthreads, or a warp barrier inside a shuffle/__syncwarp), then switches back to
// the scheduler. The scheduler releases a block barrier when every unfinished thread of the block
// waits at one, and a warp barrier when every unfinished lane of that warp does; a thread waiting
// at a block barrier while its warp-mates wait at a warp barrier (or the reverse) is a deadlock,
// reported as an error naming the kernel.
#include "cuda/emulator.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "tensor/error.h"

#if defined(__SANITIZE_ADDRESS__)
#define CXR_EMU_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CXR_EMU_ASAN 1
#endif
#endif
#if defined(CXR_EMU_ASAN)
#include <sanitizer/common_interface_defs.h>
#endif

#if !defined(__x86_64__)
#error "the CUDA emulator's context switch is written for x86-64"
#endif

// cxr_emu_switch(save, load): saves the callee-saved registers and the stack pointer into *save,
// then resumes the context whose stack pointer is `load`. cxr_emu_start is where a new fiber's
// first switch lands: it calls cxr_emu_fiber_main (which never returns).
extern "C" void cxr_emu_switch(void** save, void* load);
extern "C" void cxr_emu_start();
extern "C" [[noreturn]] void cxr_emu_fiber_main();
asm(R"(
.text
.globl cxr_emu_switch
.type cxr_emu_switch,@function
cxr_emu_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
.size cxr_emu_switch,.-cxr_emu_switch
.globl cxr_emu_start
.type cxr_emu_start,@function
cxr_emu_start:
  call cxr_emu_fiber_main
  ud2
.size cxr_emu_start,.-cxr_emu_start
)");

namespace cxr::emu {
namespace {

constexpr size_t kStackBytes = 256 * 1024;
constexpr int kMaxThreadsPerBlock = 1024;

enum class Wait : uint8_t { None, Block, Warp, Done };

struct Fiber {
  std::unique_ptr<char[]> stack;
  void* sp = nullptr;
  ThreadState state;
  Wait wait = Wait::None;
#if defined(CXR_EMU_ASAN)
  void* fake_stack = nullptr;  // ASan's fake stack of this fiber (null on entry)
#endif
};

// Everything one OS thread needs to run a block (emulated launches from different OS threads do
// not share state, like their __shared__ variables).
struct Scheduler {
  std::vector<Fiber> fibers;
  int count = 0;  // threads in the current block
  int current = -1;
  void* scheduler_sp = nullptr;
  BlockState block;
  KernelBody body = nullptr;
  void* closure = nullptr;
  unsigned char warp_slots[kMaxThreadsPerBlock][16];
  std::exception_ptr error;
  const void* os_stack_bottom = nullptr;  // the scheduler's own stack, for the sanitizer's fiber hooks
  size_t os_stack_size = 0;
};

thread_local Scheduler t_scheduler;

Fiber& current_fiber() {
  Scheduler& s = t_scheduler;
  if (s.current < 0) {
    std::fprintf(stderr, "cxr CUDA emulator: a device intrinsic was called outside a kernel\n");
    std::abort();
  }
  return s.fibers[size_t(s.current)];
}

// AddressSanitizer must be told about every stack switch (or it reports the other stack's frames).
void entered_fiber(Fiber& f) {
#if defined(CXR_EMU_ASAN)
  __sanitizer_finish_switch_fiber(f.fake_stack, &t_scheduler.os_stack_bottom, &t_scheduler.os_stack_size);
#else
  (void)f;
#endif
}

void switch_to_scheduler() {
  Scheduler& s = t_scheduler;
  Fiber& f = current_fiber();
#if defined(CXR_EMU_ASAN)
  __sanitizer_start_switch_fiber(f.wait == Wait::Done ? nullptr : &f.fake_stack, s.os_stack_bottom,
                                 s.os_stack_size);
#endif
  cxr_emu_switch(&f.sp, s.scheduler_sp);
  entered_fiber(f);
}

void wait_at(Wait kind) {
  current_fiber().wait = kind;
  switch_to_scheduler();
}

// Puts a fresh context on fiber f's stack so that switching to it enters cxr_emu_start.
void prepare(Fiber& f) {
  if (!f.stack) f.stack.reset(new char[kStackBytes]);
  auto top = reinterpret_cast<uintptr_t>(f.stack.get() + kStackBytes) & ~uintptr_t(15);
  void** sp = reinterpret_cast<void**>(top);
  *--sp = reinterpret_cast<void*>(&cxr_emu_start);  // the `ret` of cxr_emu_switch lands here
  for (int i = 0; i < 6; ++i) *--sp = nullptr;       // rbp rbx r12 r13 r14 r15
  f.sp = sp;
  f.wait = Wait::None;
#if defined(CXR_EMU_ASAN)
  f.fake_stack = nullptr;
#endif
}

void resume(Fiber& f) {
  Scheduler& s = t_scheduler;
#if defined(CXR_EMU_ASAN)
  void* fake = nullptr;
  __sanitizer_start_switch_fiber(&fake, f.stack.get(), kStackBytes);
#endif
  cxr_emu_switch(&s.scheduler_sp, f.sp);
#if defined(CXR_EMU_ASAN)
  __sanitizer_finish_switch_fiber(fake, nullptr, nullptr);
#endif
}

void run_block(const char* kernel_name) {
  Scheduler& s = t_scheduler;
  for (int i = 0; i < s.count; ++i) prepare(s.fibers[size_t(i)]);
  for (;;) {
    bool ran = false;
    for (int i = 0; i < s.count; ++i) {
      Fiber& f = s.fibers[size_t(i)];
      if (f.wait != Wait::None) continue;
      s.current = i;
      resume(f);
      s.current = -1;
      ran = true;
      if (s.error) return;
    }
    int live = 0, at_block = 0;
    for (int i = 0; i < s.count; ++i) {
      live += s.fibers[size_t(i)].wait != Wait::Done;
      at_block += s.fibers[size_t(i)].wait == Wait::Block;
    }
    if (live == 0) return;
    bool released = false;
    if (at_block == live) {
      for (int i = 0; i < s.count; ++i)
        if (s.fibers[size_t(i)].wait == Wait::Block) s.fibers[size_t(i)].wait = Wait::None;
      released = true;
    } else {
      for (int w = 0; w * 32 < s.count; ++w) {
        int lanes_live = 0, lanes_waiting = 0;
        for (int i = w * 32; i < std::min(s.count, w * 32 + 32); ++i) {
          lanes_live += s.fibers[size_t(i)].wait != Wait::Done;
          lanes_waiting += s.fibers[size_t(i)].wait == Wait::Warp;
        }
        if (lanes_live > 0 && lanes_waiting == lanes_live) {
          for (int i = w * 32; i < std::min(s.count, w * 32 + 32); ++i)
            if (s.fibers[size_t(i)].wait == Wait::Warp) s.fibers[size_t(i)].wait = Wait::None;
          released = true;
        }
      }
    }
    if (!ran && !released)
      fail("CUDA emulator: kernel ", kernel_name, " deadlocked in block (", s.block.block_idx.x, ", ",
           s.block.block_idx.y, ", ", s.block.block_idx.z, "): threads wait at different barriers");
  }
}

}  // namespace
}  // namespace cxr::emu

extern "C" [[noreturn]] void cxr_emu_fiber_main() {
  using namespace cxr::emu;
  Scheduler& s = t_scheduler;
  entered_fiber(current_fiber());
  try {
    s.body(s.closure);
  } catch (...) {
    if (!s.error) s.error = std::current_exception();
  }
  current_fiber().wait = Wait::Done;
  switch_to_scheduler();
  __builtin_unreachable();
}

namespace cxr::emu {

const BlockState& this_block() { return t_scheduler.block; }
const ThreadState& this_thread() { return current_fiber().state; }
void sync_block() { wait_at(Wait::Block); }
void sync_warp() { wait_at(Wait::Warp); }

void* warp_slot(int lane) {
  const int warp = this_thread().linear / 32;
  return t_scheduler.warp_slots[warp * 32 + lane];
}

unsigned ballot(bool predicate) {
  const unsigned bits = predicate ? (1u << lane_id()) : 0u;
  unsigned out = 0;
  // Each lane contributes its bit through its slot; every lane sums the warp's slots.
  std::memcpy(warp_slot(lane_id()), &bits, sizeof bits);
  sync_warp();
  const int warp_first = (this_thread().linear / 32) * 32;
  for (int l = 0; l < 32 && warp_first + l < t_scheduler.count; ++l) {
    unsigned b;
    std::memcpy(&b, t_scheduler.warp_slots[warp_first + l], sizeof b);
    out |= b;
  }
  sync_warp();
  return out;
}

void check_wmma_access(const char* call, const void* p, unsigned ldm, size_t element_bytes) {
  CXR_CHECK(reinterpret_cast<uintptr_t>(p) % 32 == 0, "CUDA emulator: ", call, ": the pointer ", p,
            " is not 256-bit aligned");
  CXR_CHECK(ldm * element_bytes % 16 == 0, "CUDA emulator: ", call, ": ldm ", ldm,
            " is not a multiple of 16 bytes (", 16 / element_bytes, " elements)");
}

void launch(dim3 grid, dim3 block, const char* kernel_name, KernelBody body, void* closure) {
  Scheduler& s = t_scheduler;
  CXR_CHECK(s.current < 0, "CUDA emulator: ", kernel_name, " launched from inside a kernel");
  const uint64_t threads = uint64_t(block.x) * block.y * block.z;
  CXR_CHECK(threads >= 1 && threads <= uint64_t(kMaxThreadsPerBlock), "CUDA emulator: ", kernel_name,
            ": invalid block of ", threads, " threads (1..1024)");
  CXR_CHECK(grid.x >= 1 && grid.y >= 1 && grid.z >= 1 && grid.y <= 65535 && grid.z <= 65535, "CUDA emulator: ",
            kernel_name, ": invalid grid (", grid.x, ", ", grid.y, ", ", grid.z, ")");
  s.count = int(threads);
  if (s.fibers.size() < threads) s.fibers.resize(threads);
  for (unsigned z = 0; z < block.z; ++z)
    for (unsigned y = 0; y < block.y; ++y)
      for (unsigned x = 0; x < block.x; ++x) {
        const int i = int(x + y * block.x + z * block.x * block.y);
        s.fibers[size_t(i)].state = {{x, y, z}, i};
      }
  s.body = body;
  s.closure = closure;
  s.error = nullptr;
  s.block.block_dim = block;
  s.block.grid_dim = grid;
  for (unsigned bz = 0; bz < grid.z; ++bz)
    for (unsigned by = 0; by < grid.y; ++by)
      for (unsigned bx = 0; bx < grid.x; ++bx) {
        s.block.block_idx = {bx, by, bz};
        run_block(kernel_name);
        if (s.error) std::rethrow_exception(std::exchange(s.error, nullptr));
      }
}

// ---- device memory: host allocations, tracked so that transfers can check which side is which ----
namespace {
struct DeviceHeap {
  std::mutex mutex;
  std::map<uintptr_t, size_t> blocks;  // start -> bytes
  size_t in_use = 0;
};
DeviceHeap& heap() {
  static DeviceHeap h;
  return h;
}
constexpr size_t kEmulatedMemory = size_t(8) << 30;  // what cudaMemGetInfo reports as the total
}  // namespace

bool is_device_memory(const void* p, size_t bytes) {
  DeviceHeap& h = heap();
  std::lock_guard<std::mutex> lock(h.mutex);
  const auto a = reinterpret_cast<uintptr_t>(p);
  auto it = h.blocks.upper_bound(a);
  if (it == h.blocks.begin()) return false;
  --it;
  return a >= it->first && a + bytes <= it->first + it->second;
}

}  // namespace cxr::emu

// ---- the runtime API ----
using cxr::emu::heap;

cudaError_t cudaGetDeviceCount(int* count) {
  *count = 1;
  return cudaSuccess;
}
cudaError_t cudaSetDevice(int device) { return device == 0 ? cudaSuccess : cudaErrorInvalidValue; }
cudaError_t cudaGetDevice(int* device) {
  *device = 0;
  return cudaSuccess;
}
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int) {
  std::memset(prop, 0, sizeof *prop);
  std::snprintf(prop->name, sizeof prop->name, "cxrlab CUDA emulator (CPU)");
  prop->totalGlobalMem = cxr::emu::kEmulatedMemory;
  prop->multiProcessorCount = 1;
  prop->major = 9;
  prop->minor = 0;
  prop->l2CacheSize = 4 << 20;
  prop->sharedMemPerBlock = 48 << 10;
  return cudaSuccess;
}
cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr, int) {
  *value = 0;  // the emulator has no clock
  return cudaSuccess;
}
cudaError_t cudaMalloc(void** ptr, size_t bytes) {
  auto& h = heap();
  std::lock_guard<std::mutex> lock(h.mutex);
  if (h.in_use + bytes > cxr::emu::kEmulatedMemory) return cudaErrorMemoryAllocation;
  void* p = std::aligned_alloc(256, (std::max<size_t>(bytes, 1) + 255) / 256 * 256);
  if (!p) return cudaErrorMemoryAllocation;
  h.blocks[reinterpret_cast<uintptr_t>(p)] = bytes;
  h.in_use += bytes;
  *ptr = p;
  return cudaSuccess;
}
cudaError_t cudaFree(void* ptr) {
  if (!ptr) return cudaSuccess;
  auto& h = heap();
  std::lock_guard<std::mutex> lock(h.mutex);
  auto it = h.blocks.find(reinterpret_cast<uintptr_t>(ptr));
  if (it == h.blocks.end()) return cudaErrorInvalidValue;
  h.in_use -= it->second;
  h.blocks.erase(it);
  std::free(ptr);
  return cudaSuccess;
}
cudaError_t cudaMallocHost(void** ptr, size_t bytes) {
  *ptr = std::aligned_alloc(64, (std::max<size_t>(bytes, 1) + 63) / 64 * 64);
  return *ptr ? cudaSuccess : cudaErrorMemoryAllocation;
}
cudaError_t cudaFreeHost(void* ptr) {
  std::free(ptr);
  return cudaSuccess;
}
cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes) {
  auto& h = heap();
  std::lock_guard<std::mutex> lock(h.mutex);
  *total_bytes = cxr::emu::kEmulatedMemory;
  *free_bytes = cxr::emu::kEmulatedMemory - h.in_use;
  return cudaSuccess;
}
cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind) {
  using cxr::emu::is_device_memory;
  if (bytes == 0) return cudaSuccess;
  // The checks a real transfer would fail (or silently misread) on.
  if ((kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice) && !is_device_memory(dst, bytes))
    return cudaErrorInvalidValue;
  if ((kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice) && !is_device_memory(src, bytes))
    return cudaErrorInvalidValue;
  if (kind == cudaMemcpyHostToDevice && is_device_memory(src, bytes)) return cudaErrorInvalidValue;
  if (kind == cudaMemcpyDeviceToHost && is_device_memory(dst, bytes)) return cudaErrorInvalidValue;
  std::memmove(dst, src, bytes);
  return cudaSuccess;
}
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t) {
  return cudaMemcpy(dst, src, bytes, kind);
}
cudaError_t cudaMemsetAsync(void* ptr, int value, size_t bytes, cudaStream_t) {
  if (bytes == 0) return cudaSuccess;
  if (!cxr::emu::is_device_memory(ptr, bytes)) return cudaErrorInvalidValue;
  std::memset(ptr, value, bytes);
  return cudaSuccess;
}
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned) {
  static char token;
  *stream = reinterpret_cast<cudaStream_t>(&token);
  return cudaSuccess;
}
cudaError_t cudaStreamDestroy(cudaStream_t) { return cudaSuccess; }
cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
cudaError_t cudaStreamWaitEvent(cudaStream_t, cudaEvent_t, unsigned) { return cudaSuccess; }
cudaError_t cudaDeviceSynchronize() { return cudaSuccess; }

struct CUevent_st {
  std::chrono::steady_clock::time_point at;
};
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned) {
  *event = new CUevent_st;
  return cudaSuccess;
}
cudaError_t cudaEventDestroy(cudaEvent_t event) {
  delete event;
  return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t) {
  event->at = std::chrono::steady_clock::now();
  return cudaSuccess;
}
cudaError_t cudaEventSynchronize(cudaEvent_t) { return cudaSuccess; }
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end) {
  *ms = std::chrono::duration<float, std::milli>(end->at - start->at).count();
  return cudaSuccess;
}
cudaError_t cudaGetLastError() { return cudaSuccess; }
const char* cudaGetErrorString(cudaError_t error) {
  switch (error) {
    case cudaSuccess: return "no error";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidValue: return "invalid argument (in the emulator: a transfer whose device side is not "
                                       "device memory, or whose host side is)";
    default: return "unknown error";
  }
}
const char* cudaGetErrorName(cudaError_t error) {
  switch (error) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    default: return "cudaErrorUnknown";
  }
}
