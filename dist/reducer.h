// reducer.h — data-parallel gradient averaging in buckets that start while the backward still runs
// (docs/DISTRIBUTED.md), as PyTorch DDP's Reducer:
//   buckets: the trainable parameters in reverse registration order (about the order the backward
//            finishes them), cut into runs of at most bucket_bytes, one flat float32 buffer each
//   hooks:   a gradient-ready hook per parameter (autograd/grad_hooks.h) copies its .grad into its
//            bucket's slot; a bucket whose slots are all filled starts its sum (Communicator::
//            sum_start) once every bucket before it has started, so all ranks start the same sums
//            in the same order whatever their backward did
//   finish:  buckets not started yet (a parameter the loss did not reach: zeros) start; all are
//            waited; every parameter's .grad becomes sum / contributors (the mean over the ranks
//            that had a loss this step, usually all of them); a parameter that no rank's backward
//            reached keeps an undefined .grad, as in a single process
// The time finish() spends waiting is the communication the backward did not hide (stats()).
// Parameters must be float32 and on one device; the buffers live on that device.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "autograd/grad_hooks.h"
#include "dist/comm.h"
#include "nn/module.h"

namespace cxr::dist {

struct ReducerStats {
  int64_t steps = 0;
  int64_t buckets_started_in_backward = 0;  // by a hook, overlapping the rest of the backward
  int64_t buckets_started_at_finish = 0;
  double wait_s = 0;    // in finish(), waiting for sums to complete
  double finish_s = 0;  // all of finish(): waits, zero fills, copies back, scaling
  int64_t bytes = 0;    // summed per step (each rank's buffers)
};

class GradientReducer {
 public:
  // `params`: named trainable parameters (e.g. Module::named_parameters() filtered on requires_grad).
  GradientReducer(Communicator& comm, nn::NamedTensors params, int64_t bucket_bytes = int64_t(4) << 20);
  GradientReducer(const GradientReducer&) = delete;
  GradientReducer& operator=(const GradientReducer&) = delete;

  // Before the backward: arms the hooks for one step.
  void prepare();
  // After the backward (or instead of it, on a rank without a loss this step: its gradient counts
  // as zero): starts the buckets left, waits for all, writes the mean into every .grad. `contributors`
  // is the number of ranks whose loss was backpropagated (all ranks: comm.size()).
  void finish(int contributors);

  int64_t num_buckets() const { return int64_t(buckets_.size()); }
  // The parameter names of bucket b, in buffer order.
  std::vector<std::string> bucket_names(int64_t b) const;
  const ReducerStats& stats() const { return stats_; }
  void reset_stats() {
    const int64_t bytes = stats_.bytes;
    stats_ = {};
    stats_.bytes = bytes;
  }

 private:
  struct Slot {
    std::string name;
    Tensor param;
    int64_t bucket = 0, offset = 0, numel = 0;
    int64_t index = 0;  // position in its bucket (its flag's)
    bool ready = false;
  };
  struct Bucket {
    std::vector<size_t> slots;
    int64_t numel = 0;
    Tensor buffer;        // (numel) float32 on the parameters' device
    int64_t pending = 0;  // slots not ready yet this step
    std::unique_ptr<PendingSum> sum;
  };
  void on_grad_ready(size_t slot, const Tensor& grad);
  Tensor flag_of(size_t slot) const;  // the slot's "reached" flag in its bucket's buffer
  void start_ready_buckets(bool at_finish);
  void start(size_t b, bool at_finish);

  Communicator& comm_;
  std::vector<Slot> slots_;
  std::vector<Bucket> buckets_;
  std::vector<GradHookHandle> hooks_;
  size_t next_to_start_ = 0;
  bool armed_ = false;
  ReducerStats stats_;
};

}  // namespace cxr::dist
