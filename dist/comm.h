// comm.h — the process group of data-parallel training (docs/DISTRIBUTED.md): which rank this
// process is, how many there are, and the collectives the trainer needs. We write no transport:
// the MPI communicator (mpi_comm.cpp, OpenMPI) carries CPU buffers and every host-side exchange;
// the NCCL one (nccl_comm.cpp) carries CUDA buffers, MPI only launching the ranks and passing
// NCCL's unique id. A build without MPI has neither; init() then says "built without MPI".
// Every wait is a watchdog: no progress for timeout seconds (another rank died or hangs) throws
// dist::Timeout naming the collective, and the caller aborts the job (abort_job) instead of hanging.
//   buffers: 1-D contiguous float32 tensors (sum_start), host doubles (sum), bytes (gather)
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tensor/error.h"
#include "tensor/tensor.h"

namespace cxr::dist {

struct Timeout : Error {
  using Error::Error;
};

// An in-place sum started by Communicator::sum_start; finished by wait().
class PendingSum {
 public:
  virtual ~PendingSum() = default;
  virtual bool test() = 0;  // true once done (also lets the transport progress)
  virtual void wait() = 0;  // blocks (watchdog); throws Timeout
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual std::string backend() const = 0;  // "mpi", "nccl", or a test double's name
  // Starts summing `buffer` (1-D contiguous float32, on the device the backend serves) over the
  // ranks, in place; every rank must start the same sums in the same order. `what` names it in errors.
  virtual std::unique_ptr<PendingSum> sum_start(const Tensor& buffer, const std::string& what) = 0;
  // Blocking sum of host doubles over the ranks, in place (small control values: losses, counts).
  virtual void sum(double* values, int64_t count, const std::string& what) = 0;
  // Every rank's `mine`, in rank order, at rank 0; the other ranks get an empty list.
  virtual std::vector<std::string> gather(const std::string& mine, const std::string& what) = 0;
  // Every rank's `mine`, in rank order, at every rank.
  virtual std::vector<std::string> all_gather(const std::string& mine, const std::string& what) = 0;
};

// True when this build has MPI (CMake found it); with_nccl(): the NCCL path is compiled too.
bool mpi_built();
bool nccl_built();

// MPI's world, initialized on first call (MPI_Init_thread, funneled: only the calling thread talks
// MPI); timeout_s bounds every wait. Throws "built without MPI" in a build without it, and a clear
// error when MPI cannot start. Collectives on CPU buffers.
Communicator& world(double timeout_s = 300);
// A communicator for CUDA buffers over NCCL, one GPU per rank (the rank's CXR_CUDA_DEVICE, set from
// OMPI_COMM_WORLD_LOCAL_RANK when unset); host-side collectives go through world(). Throws in a
// build without NCCL or without a device.
Communicator& nccl_world(double timeout_s = 300);
// Whether world() was initialized in this process (and MPI not yet finalized).
bool initialized();
// MPI_Finalize, when initialized (at the normal end of a distributed run).
void finalize();
// Ends the whole job: prints `message` (prefixed with the rank) on stderr, then MPI_Abort, so the
// other ranks do not wait forever. Without MPI initialized: prints and exits with `code`.
[[noreturn]] void abort_job(const std::string& message, int code);

// The rank and size MPI's launcher gives this process (OMPI_COMM_WORLD_RANK / _SIZE, PMI_RANK /
// PMI_SIZE, SLURM_PROCID / SLURM_NTASKS), without initializing MPI: -1 when not launched by one.
int launcher_rank();
int launcher_size();
// One GPU per rank on a node: sets CXR_CUDA_DEVICE (cuda/runtime.h) to the launcher's local rank
// (OMPI_COMM_WORLD_LOCAL_RANK, SLURM_LOCALID, MPI_LOCALRANKID) unless it is set already. Call it
// before the first CUDA call.
void assign_local_device();

}  // namespace cxr::dist
