// nccl_comm.cpp — comm.h's communicator for CUDA buffers: NCCL's ring/tree all-reduce on device
// memory, one GPU per rank. MPI launches the ranks and carries NCCL's unique id (rank 0 creates it,
// MPI_Ibcast sends it); host-side exchanges (losses, counts, gathers) stay on MPI's world().
// A sum is queued on a stream of its own after an event on the backend's stream (so the buffer's
// copies are done) and the backend's stream waits for it before the gradients are read back: the
// all-reduce overlaps the rest of the backward's kernels. The watchdog polls the sum's event and
// aborts the NCCL communicator (ncclCommAbort) when it makes no progress for the timeout.
// Compiled when the CUDA backend is built by nvcc and nccl.h / libnccl were found (CMakeLists.txt).
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include "dist/comm.h"

#if defined(CXR_HAS_NCCL)
#include <nccl.h>

#include "cuda/common.cuh"
#endif

namespace cxr::dist {

void mpi_broadcast_bytes(void* data, int64_t bytes, const std::string& what);  // mpi_comm.cpp

#if defined(CXR_HAS_NCCL)

bool nccl_built() { return true; }

namespace {

#define CXR_NCCL_CHECK(call, what)                                                                              \
  do {                                                                                                          \
    const ncclResult_t cxr_nccl_status_ = (call);                                                               \
    if (cxr_nccl_status_ != ncclSuccess)                                                                        \
      fail("dist: ", what, ": ", #call, " failed: ", ncclGetErrorString(cxr_nccl_status_), " (", __FILE__, ":", \
           __LINE__, ")");                                                                                      \
  } while (0)

class NcclPendingSum final : public PendingSum {
 public:
  NcclPendingSum(ncclComm_t comm, cudaEvent_t done, std::string what, double timeout_s, int rank, int size)
      : comm_(comm), done_(done), what_(std::move(what)), timeout_s_(timeout_s), rank_(rank), size_(size) {}
  ~NcclPendingSum() override { cudaEventDestroy(done_); }
  bool test() override {
    const cudaError_t e = cudaEventQuery(done_);
    if (e == cudaErrorNotReady) return false;
    CXR_CUDA_CHECK(e);
    return true;
  }
  void wait() override {
    const auto start = std::chrono::steady_clock::now();
    while (!test()) {
      ncclResult_t async = ncclSuccess;
      ncclCommGetAsyncError(comm_, &async);
      CXR_CHECK(async == ncclSuccess, "dist: ", what_, ": NCCL: ", ncclGetErrorString(async));
      if (std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() > timeout_s_) {
        ncclCommAbort(comm_);
        throw Timeout(detail::concat("dist: rank ", rank_, " of ", size_, ": '", what_, "' made no progress for ",
                                     timeout_s_, " s (another rank died or hangs); NCCL communicator aborted"));
      }
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
    // The backend's stream reads the sum next (the gradients): order it after the NCCL stream.
    CXR_CUDA_CHECK(cudaStreamWaitEvent(cuda::stream(), done_, 0));
  }

 private:
  ncclComm_t comm_;
  cudaEvent_t done_;
  std::string what_;
  double timeout_s_;
  int rank_, size_;
};

class NcclCommunicator final : public Communicator {
 public:
  explicit NcclCommunicator(double timeout_s) : host_(world(timeout_s)), timeout_s_(timeout_s) {
    cuda::require("dist (NCCL)");
    ncclUniqueId id;
    if (host_.rank() == 0) CXR_NCCL_CHECK(ncclGetUniqueId(&id), "NCCL unique id");
    mpi_broadcast_bytes(&id, sizeof id, "NCCL unique id broadcast");
    CXR_NCCL_CHECK(ncclCommInitRank(&comm_, host_.size(), id, host_.rank()), "ncclCommInitRank");
    CXR_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  }
  int rank() const override { return host_.rank(); }
  int size() const override { return host_.size(); }
  std::string backend() const override { return "nccl"; }

  std::unique_ptr<PendingSum> sum_start(const Tensor& buffer, const std::string& what) override {
    CXR_CHECK(buffer.device() == Device::CUDA, "dist: ", what, ": the NCCL communicator sums CUDA buffers");
    CXR_CHECK(buffer.dtype() == DType::Float32 && buffer.dim() == 1 && buffer.is_contiguous(), "dist: ", what,
              ": expected a 1-D contiguous float32 buffer, got ", shape_str(buffer.shape()));
    cudaEvent_t ready, done;
    CXR_CUDA_CHECK(cudaEventCreateWithFlags(&ready, cudaEventDisableTiming));
    CXR_CUDA_CHECK(cudaEventCreateWithFlags(&done, cudaEventDisableTiming));
    CXR_CUDA_CHECK(cudaEventRecord(ready, cuda::stream()));  // the copies into the buffer
    CXR_CUDA_CHECK(cudaStreamWaitEvent(stream_, ready, 0));
    cudaEventDestroy(ready);  // (destroying a recorded event is safe: it completes first)
    float* data = static_cast<float*>(buffer.data_ptr());
    CXR_NCCL_CHECK(ncclAllReduce(data, data, size_t(buffer.numel()), ncclFloat, ncclSum, comm_, stream_), what);
    CXR_CUDA_CHECK(cudaEventRecord(done, stream_));
    return std::make_unique<NcclPendingSum>(comm_, done, what, timeout_s_, rank(), size());
  }
  void sum(double* values, int64_t count, const std::string& what) override { host_.sum(values, count, what); }
  std::vector<std::string> gather(const std::string& mine, const std::string& what) override {
    return host_.gather(mine, what);
  }
  std::vector<std::string> all_gather(const std::string& mine, const std::string& what) override {
    return host_.all_gather(mine, what);
  }

 private:
  Communicator& host_;
  double timeout_s_;
  ncclComm_t comm_ = nullptr;
  cudaStream_t stream_ = nullptr;
};

}  // namespace

Communicator& nccl_world(double timeout_s) {
  static NcclCommunicator* comm = nullptr;  // lives until the process ends
  if (!comm) comm = new NcclCommunicator(timeout_s);
  return *comm;
}

#else

bool nccl_built() { return false; }

Communicator& nccl_world(double) {
  fail("dist: --distributed with --device cuda needs NCCL: this cxr was built without ",
       mpi_built() ? "the CUDA backend and NCCL (nvcc and nccl.h / libnccl under /usr/local/cuda)" : "MPI and NCCL");
}

#endif

}  // namespace cxr::dist
