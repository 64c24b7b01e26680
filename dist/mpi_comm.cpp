// mpi_comm.cpp — comm.h over MPI (OpenMPI on these machines): MPI_COMM_WORLD duplicated twice, one
// communicator for the gradient sums (started from the backward, waited before the optimizer step)
// and one for the control exchanges (losses, counts, gathers), so that neither's order can be
// confused with the other's. Every collective is non-blocking (MPI_Iallreduce, MPI_Igatherv, ...)
// and waited by polling MPI_Test with a short back-off: the poll is the watchdog (comm.h) and the
// MPI_Test calls are what lets OpenMPI progress a sum while the backward still computes.
// Without MPI (CMake did not find it) every entry point says so.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "dist/comm.h"

#if defined(CXR_HAS_MPI)
#include <mpi.h>
#endif

namespace cxr::dist {

namespace {

int env_int(const char* name) {
  const char* v = std::getenv(name);
  return (v && *v) ? std::atoi(v) : -1;
}

bool g_initialized = false;
bool g_finalized = false;

}  // namespace

int launcher_rank() {
  for (const char* n : {"OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK", "SLURM_PROCID"})
    if (int v = env_int(n); v >= 0) return v;
  return -1;
}

int launcher_size() {
  for (const char* n : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_NTASKS"})
    if (int v = env_int(n); v >= 0) return v;
  return -1;
}

void assign_local_device() {
  if (const char* set = std::getenv("CXR_CUDA_DEVICE"); set && *set) return;
  for (const char* n : {"OMPI_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID", "MPI_LOCALRANKID"})
    if (int v = env_int(n); v >= 0) {
      ::setenv("CXR_CUDA_DEVICE", std::to_string(v).c_str(), 0);
      return;
    }
}

bool initialized() { return g_initialized && !g_finalized; }

#if defined(CXR_HAS_MPI)

bool mpi_built() { return true; }

namespace {

std::string mpi_error(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(code, text, &len);
  return std::string(text, size_t(len));
}

#define CXR_MPI_CHECK(call, what)                                                                                   \
  do {                                                                                                              \
    const int cxr_mpi_status_ = (call);                                                                             \
    if (cxr_mpi_status_ != MPI_SUCCESS) fail("dist: ", what, ": ", #call, " failed: ", mpi_error(cxr_mpi_status_)); \
  } while (0)

// Polls `request` until done; no completion for timeout_s seconds throws Timeout.
void wait_request(MPI_Request& request, const std::string& what, double timeout_s, int /*rank*/, int /*size*/) {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  int pause_us = 0;
  for (;;) {
    int done = 0;
    CXR_MPI_CHECK(MPI_Test(&request, &done, MPI_STATUS_IGNORE), what);
    if (done) return;
    const double waited = std::chrono::duration<double>(Clock::now() - start).count();
    if (waited > timeout_s)
      throw Timeout(detail::concat("dist: '", what, "' made no progress for ", timeout_s,
                                   " s (another rank died, hangs or stopped calling it); aborting the job"));
    // Spin briefly (a sum of a small bucket completes in microseconds), then back off to 1 ms so
    // that a rank waiting for a slower one leaves the cores to it.
    if (pause_us > 0) std::this_thread::sleep_for(std::chrono::microseconds(pause_us));
    pause_us = pause_us == 0 ? 1 : std::min(pause_us * 2, 1000);
  }
}

class MpiPendingSum final : public PendingSum {
 public:
  MpiPendingSum(MPI_Request r, std::string what, double timeout_s, int rank, int size)
      : request_(r), what_(std::move(what)), timeout_s_(timeout_s), rank_(rank), size_(size) {}
  ~MpiPendingSum() override {
    // An abandoned sum (an exception unwound past it): the job is being aborted; leave it.
  }
  bool test() override {
    if (done_) return true;
    int flag = 0;
    CXR_MPI_CHECK(MPI_Test(&request_, &flag, MPI_STATUS_IGNORE), what_);
    done_ = flag != 0;
    return done_;
  }
  void wait() override {
    if (done_) return;
    wait_request(request_, what_, timeout_s_, rank_, size_);
    done_ = true;
  }

 private:
  MPI_Request request_;
  std::string what_;
  double timeout_s_;
  int rank_, size_;
  bool done_ = false;
};

class MpiCommunicator final : public Communicator {
 public:
  explicit MpiCommunicator(double timeout_s) : timeout_s_(timeout_s) {
    int provided = 0;
    const int rc = MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
    CXR_CHECK(rc == MPI_SUCCESS, "dist: MPI_Init_thread failed: ", mpi_error(rc));
    g_initialized = true;
    CXR_CHECK(provided >= MPI_THREAD_FUNNELED, "dist: this MPI offers no MPI_THREAD_FUNNELED support");
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    CXR_MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &rank_), "MPI_Comm_rank");
    CXR_MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &size_), "MPI_Comm_size");
    CXR_MPI_CHECK(MPI_Comm_dup(MPI_COMM_WORLD, &grads_), "MPI_Comm_dup");
    CXR_MPI_CHECK(MPI_Comm_dup(MPI_COMM_WORLD, &control_), "MPI_Comm_dup");
    MPI_Comm_set_errhandler(grads_, MPI_ERRORS_RETURN);
    MPI_Comm_set_errhandler(control_, MPI_ERRORS_RETURN);
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string backend() const override { return "mpi"; }
  void set_timeout(double t) { timeout_s_ = t; }
  double timeout() const { return timeout_s_; }
  MPI_Comm control() const { return control_; }

  std::unique_ptr<PendingSum> sum_start(const Tensor& buffer, const std::string& what) override {
    CXR_CHECK(buffer.device() == Device::CPU, "dist: ", what,
              ": the MPI communicator sums CPU buffers; CUDA ones go "
              "through NCCL (a build with the CUDA backend and NCCL)");
    CXR_CHECK(buffer.dtype() == DType::Float32 && buffer.dim() == 1 && buffer.is_contiguous(), "dist: ", what,
              ": expected a 1-D contiguous float32 buffer, got ", shape_str(buffer.shape()));
    CXR_CHECK(buffer.numel() <= INT32_MAX, "dist: ", what, ": ", buffer.numel(), " elements exceed one MPI count");
    MPI_Request r;
    CXR_MPI_CHECK(
        MPI_Iallreduce(MPI_IN_PLACE, buffer.data<float>(), int(buffer.numel()), MPI_FLOAT, MPI_SUM, grads_, &r), what);
    return std::make_unique<MpiPendingSum>(r, what, timeout_s_, rank_, size_);
  }

  void sum(double* values, int64_t count, const std::string& what) override {
    CXR_CHECK(count >= 0 && count <= INT32_MAX, "dist: ", what, ": bad count ", count);
    MPI_Request r;
    CXR_MPI_CHECK(MPI_Iallreduce(MPI_IN_PLACE, values, int(count), MPI_DOUBLE, MPI_SUM, control_, &r), what);
    wait_request(r, what, timeout_s_, rank_, size_);
  }

  std::vector<std::string> gather(const std::string& mine, const std::string& what) override {
    return gather_impl(mine, what, /*everyone=*/false);
  }
  std::vector<std::string> all_gather(const std::string& mine, const std::string& what) override {
    return gather_impl(mine, what, /*everyone=*/true);
  }

 private:
  std::vector<std::string> gather_impl(const std::string& mine, const std::string& what, bool everyone) {
    CXR_CHECK(mine.size() <= size_t(INT32_MAX), "dist: ", what, ": ", mine.size(), " bytes exceed one MPI count");
    int len = int(mine.size());
    std::vector<int> lengths(size_t(size_), 0), offsets(size_t(size_), 0);
    MPI_Request r;
    if (everyone) {
      CXR_MPI_CHECK(MPI_Iallgather(&len, 1, MPI_INT, lengths.data(), 1, MPI_INT, control_, &r), what);
    } else {
      CXR_MPI_CHECK(MPI_Igather(&len, 1, MPI_INT, lengths.data(), 1, MPI_INT, 0, control_, &r), what);
    }
    wait_request(r, what + " (sizes)", timeout_s_, rank_, size_);
    int64_t total = 0;
    for (int i = 0; i < size_; ++i) {
      offsets[size_t(i)] = int(total);
      total += lengths[size_t(i)];
    }
    const bool receives = everyone || rank_ == 0;
    CXR_CHECK(!receives || total <= INT32_MAX, "dist: ", what, ": ", total, " bytes exceed one MPI count");
    std::string all(receives ? size_t(total) : 0, '\0');
    if (everyone) {
      CXR_MPI_CHECK(MPI_Iallgatherv(mine.data(), len, MPI_CHAR, all.data(), lengths.data(), offsets.data(), MPI_CHAR,
                                    control_, &r),
                    what);
    } else {
      CXR_MPI_CHECK(MPI_Igatherv(mine.data(), len, MPI_CHAR, all.data(), lengths.data(), offsets.data(), MPI_CHAR, 0,
                                 control_, &r),
                    what);
    }
    wait_request(r, what, timeout_s_, rank_, size_);
    std::vector<std::string> out;
    if (!receives) return out;
    for (int i = 0; i < size_; ++i) out.push_back(all.substr(size_t(offsets[size_t(i)]), size_t(lengths[size_t(i)])));
    return out;
  }

  double timeout_s_;
  int rank_ = 0, size_ = 1;
  MPI_Comm grads_ = MPI_COMM_NULL, control_ = MPI_COMM_NULL;
};

MpiCommunicator* g_world = nullptr;

}  // namespace

Communicator& world(double timeout_s) {
  CXR_CHECK(timeout_s > 0, "dist: the collective timeout must be positive, got ", timeout_s);
  CXR_CHECK(!g_finalized, "dist: MPI was already finalized in this process");
  if (!g_world) g_world = new MpiCommunicator(timeout_s);  // lives until the process ends
  g_world->set_timeout(timeout_s);
  return *g_world;
}

// For nccl_comm.cpp: a broadcast of bytes from rank 0 over the control communicator.
void mpi_broadcast_bytes(void* data, int64_t bytes, const std::string& what) {
  CXR_CHECK(g_world, "dist: ", what, ": MPI is not initialized");
  MPI_Request r;
  CXR_MPI_CHECK(MPI_Ibcast(data, int(bytes), MPI_BYTE, 0, g_world->control(), &r), what);
  wait_request(r, what, g_world->timeout(), g_world->rank(), g_world->size());
}

void finalize() {
  if (!initialized()) return;
  MPI_Finalize();
  g_finalized = true;
}

void abort_job(const std::string& message, int code) {
  std::fflush(nullptr);
  if (initialized()) {
    std::fprintf(stderr, "cxr: rank %d of %d: %s\n", g_world->rank(), g_world->size(), message.c_str());
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, code);
  }
  std::fprintf(stderr, "cxr: %s\n", message.c_str());
  std::fflush(stderr);
  std::_Exit(code);
}

#else  // no MPI

bool mpi_built() { return false; }

Communicator& world(double) {
  fail(
      "dist: --distributed: this cxr was built without MPI (install libopenmpi-dev and rebuild; CMake finds it "
      "with find_package(MPI))");
}

void mpi_broadcast_bytes(void*, int64_t, const std::string& what) { fail("dist: ", what, ": built without MPI"); }

void finalize() {}

void abort_job(const std::string& message, int code) {
  std::fprintf(stderr, "cxr: %s\n", message.c_str());
  std::fflush(stderr);
  std::_Exit(code);
}

#endif

}  // namespace cxr::dist
