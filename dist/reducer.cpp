// reducer.cpp — see reducer.h. The scale 1/contributors is applied after the sum, in float32: for
// two ranks it is exact (x 0.5), and every rank applies the same rounding to the same sum, so the
// ranks' gradients (and then their parameters) stay bit-identical.
#include "dist/reducer.h"

#include <chrono>

#include "autograd/node.h"
#include "ops/ops.h"

namespace cxr::dist {

namespace {
using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }
}  // namespace

GradientReducer::GradientReducer(Communicator& comm, nn::NamedTensors params, int64_t bucket_bytes) : comm_(comm) {
  CXR_CHECK(bucket_bytes > 0, "GradientReducer: bucket_bytes must be positive, got ", bucket_bytes);
  CXR_CHECK(!params.empty(), "GradientReducer: no trainable parameters");
  const Device device = params.front().second.device();
  // Reverse registration order: the backward finishes the last layers first.
  for (auto it = params.rbegin(); it != params.rend(); ++it) {
    const auto& [name, p] = *it;
    CXR_CHECK(p.requires_grad() && p.is_leaf(), "GradientReducer: parameter '", name, "' is not a trainable leaf");
    CXR_CHECK(p.dtype() == DType::Float32, "GradientReducer: parameter '", name, "' is ", dtype_name(p.dtype()),
              "; data-parallel training reduces float32 gradients");
    CXR_CHECK(p.device() == device, "GradientReducer: parameter '", name, "' is on ", device_name(p.device()),
              ", the first one on ", device_name(device));
    Slot s;
    s.name = name, s.param = p, s.numel = p.numel();
    const int64_t bytes = s.numel * int64_t(sizeof(float));
    // A new bucket when this parameter would overflow the current one (a parameter larger than
    // bucket_bytes gets a bucket of its own).
    if (buckets_.empty() ||
        (buckets_.back().numel > 0 && (buckets_.back().numel * int64_t(sizeof(float)) + bytes > bucket_bytes)))
      buckets_.emplace_back();
    Bucket& b = buckets_.back();
    s.bucket = int64_t(buckets_.size()) - 1;
    s.offset = b.numel;
    s.index = int64_t(b.slots.size());
    b.numel += s.numel;
    b.slots.push_back(slots_.size());
    slots_.push_back(std::move(s));
  }
  for (auto& b : buckets_) {
    // The gradients, then one flag per parameter: 1 where this rank's backward reached it. Summed
    // with the gradients, the flags tell which parameters no rank reached (their .grad stays
    // undefined, as in a single process, so the optimizer skips them).
    b.buffer = zeros({b.numel + int64_t(b.slots.size())}, {.dtype = DType::Float32, .device = device});
    stats_.bytes += b.buffer.numel() * int64_t(sizeof(float));
  }
  for (size_t i = 0; i < slots_.size(); ++i)
    hooks_.push_back(add_grad_ready_hook(slots_[i].param, [this, i](const Tensor& g) { on_grad_ready(i, g); }));
}

std::vector<std::string> GradientReducer::bucket_names(int64_t b) const {
  CXR_CHECK(b >= 0 && b < num_buckets(), "GradientReducer: no bucket ", b);
  std::vector<std::string> out;
  for (size_t s : buckets_[size_t(b)].slots) out.push_back(slots_[s].name);
  return out;
}

void GradientReducer::prepare() {
  CXR_CHECK(!armed_, "GradientReducer::prepare: the previous step was not finished");
  for (auto& s : slots_) {
    s.ready = false;
    s.param.zero_grad();  // this step's gradient is this backward's alone
  }
  for (auto& b : buckets_) {
    b.pending = int64_t(b.slots.size());
    b.sum.reset();
  }
  next_to_start_ = 0;
  armed_ = true;
}

void GradientReducer::on_grad_ready(size_t i, const Tensor& grad) {
  if (!armed_) return;  // a backward outside a training step (e.g. Grad-CAM): not ours
  Slot& s = slots_[i];
  CXR_CHECK(!s.ready, "GradientReducer: parameter '", s.name,
            "' received a second gradient in one step (two backward passes per step are not supported)");
  Bucket& b = buckets_[size_t(s.bucket)];
  const Tensor slot = b.buffer.narrow(0, s.offset, s.numel).view(s.param.shape());
  copy_(slot, grad);
  fill_(flag_of(i), 1.0);
  s.ready = true;
  if (--b.pending == 0) start_ready_buckets(/*at_finish=*/false);
  // Let the transport move the sums already started while the backward goes on.
  for (size_t k = 0; k < next_to_start_; ++k) buckets_[k].sum->test();
}

Tensor GradientReducer::flag_of(size_t slot) const {
  const Slot& s = slots_[slot];
  const Bucket& b = buckets_[size_t(s.bucket)];
  return b.buffer.narrow(0, b.numel + s.index, 1);
}

void GradientReducer::start(size_t b, bool at_finish) {
  buckets_[b].sum = comm_.sum_start(buckets_[b].buffer, "gradient sum, bucket " + std::to_string(b));
  ++(at_finish ? stats_.buckets_started_at_finish : stats_.buckets_started_in_backward);
}

void GradientReducer::start_ready_buckets(bool at_finish) {
  // In bucket order only: every rank must start the same sums in the same order.
  while (next_to_start_ < buckets_.size() && buckets_[next_to_start_].pending == 0) start(next_to_start_++, at_finish);
}

void GradientReducer::finish(int contributors) {
  CXR_CHECK(armed_, "GradientReducer::finish without prepare");
  CXR_CHECK(contributors >= 1 && contributors <= comm_.size(), "GradientReducer::finish: ", contributors,
            " contributors for ", comm_.size(), " ranks");
  const auto t0 = Clock::now();
  NoGradGuard no_grad;
  // Parameters the backward did not reach (or no backward at all on this rank): zeros.
  for (auto& s : slots_) {
    if (s.ready) continue;
    Bucket& b = buckets_[size_t(s.bucket)];
    fill_(b.buffer.narrow(0, s.offset, s.numel), 0.0);
    fill_(flag_of(size_t(&s - slots_.data())), 0.0);
    s.ready = true;
    --b.pending;
  }
  start_ready_buckets(/*at_finish=*/true);
  const auto tw = Clock::now();
  for (auto& b : buckets_) b.sum->wait();
  stats_.wait_s += seconds_since(tw);
  // The mean, in place in each buffer; every .grad then views its slot (no copy, as DDP's
  // gradient_as_bucket_view). Safe: the next prepare() drops these views before the next backward
  // fills the buffers again.
  const float scale = 1.0f / float(contributors);
  for (auto& b : buckets_) {
    const Tensor grads = b.buffer.narrow(0, 0, b.numel);
    if (contributors > 1) {
      if (grads.device() == Device::CPU) {
        float* p = grads.data<float>();
        for (int64_t i = 0; i < b.numel; ++i) p[i] *= scale;
      } else {
        copy_(grads, grads * double(scale));
      }
    }
    const std::vector<double> reached = b.buffer.narrow(0, b.numel, int64_t(b.slots.size())).to_vector();
    for (size_t k = 0; k < b.slots.size(); ++k) {
      Slot& s = slots_[b.slots[k]];
      if (reached[k] == 0) continue;  // no rank's backward reached it: .grad stays undefined
      s.param.set_grad(b.buffer.narrow(0, s.offset, s.numel).view(s.param.shape()));
    }
  }
  armed_ = false;
  ++stats_.steps;
  stats_.finish_s += seconds_since(t0);
}

}  // namespace cxr::dist
