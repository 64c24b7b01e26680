// reduce.cuh — the backend's one reduction engine (reduce.cu, norm.cu): each output o combines the
// elements of its reduced set in a fixed order that depends only on the shapes, never on the
// device or the grid size. The input's dims split into kept ones (the output index o, row-major)
// and reduced ones (the index r within one output's set, row-major); N operands share the walk.
//   group G threads per output (1, 32 or 256, from the shapes): thread `lane` folds r = lane,
//   lane + G, ... of its part in order, then the group combines its G values in a fixed tree;
//   parts P > 1 (few outputs, many elements each): P blocks per output write partial results, a
//   second kernel folds them, p = 0..P-1, in a fixed order.
// An Op says what is folded: Acc (trivial, <= 16 bytes), identity(), combine(a, b),
// load(offsets, o, r) (the element's value as an Acc) and write(o, acc) (the finished output).
#pragma once

#include <algorithm>
#include <array>

#include "cuda/indexing.cuh"

namespace cxr::cuda {

inline constexpr int kMaxParts = 64;           // partial results per output, at most
inline constexpr int64_t kPartElements = 8192;  // elements per part, at least (when split)

// The element offsets of index i; a single strided dim costs a multiply, not a division.
template <int N>
__device__ __forceinline__ void offsets_of(const StridedIter<N>& it, int64_t i, int64_t (&off)[N]) {
  if (it.ndim == 1 && !it.contiguous) {
    for (int k = 0; k < N; ++k) off[k] = i * it.strides[k][0];
    return;
  }
  it.offsets(i, off);
}

// Combines the values of each group of G consecutive threads of the block in a fixed tree (G a
// power of two dividing kBlock; lane 0 of the group folds lanes 0 and G/2 first, and so on).
// Every thread of the block must call it; each gets its group's result.
template <int G, typename A, typename Combine>
__device__ A group_reduce(A v, const Combine& combine) {
  if constexpr (G == 1) {
    return v;
  } else {
    __shared__ A slots[kBlock];
    const int t = int(threadIdx.x), lane = t % G;
    slots[t] = v;
    __syncthreads();
    for (int s = G / 2; s > 0; s /= 2) {
      if (lane < s) slots[t] = combine(slots[t], slots[t + s]);
      __syncthreads();
    }
    const A result = slots[t - lane];
    __syncthreads();  // the slots are free again for the next call
    return result;
  }
}

template <int N>
struct ReduceGeometry {
  StridedIter<N> kept;     // o -> the offsets of output o's first element
  StridedIter<N> reduced;  // r -> offsets from there
  int64_t outputs = 0, count = 0;
  int group = 1, parts = 1;
};

// Threads per output: one thread walks a short set, or a long one when neighbouring outputs are
// neighbours in memory and the set is strided (a column sum: the loads coalesce across outputs);
// a warp a medium set; a whole block a long one.
inline int group_size(int64_t outputs, int64_t count, bool outputs_adjacent) {
  if (count <= 16 || (outputs_adjacent && outputs >= 1024)) return 1;
  if (count <= 2048) return 32;
  return kBlock;
}

// The geometry of reducing `shape` (operand strides `strides`) to `keep` (shape with the reduced
// dims set to 1; a size-1 dim counts as kept). `split`: long reductions into few outputs may be
// split into parts (every Op may; softmax's lines may not).
template <int N>
ReduceGeometry<N> reduce_geometry(const char* op, const Shape& shape, const Shape& keep,
                                  const std::array<Strides, N>& strides, bool split = true) {
  CXR_CHECK(keep.size() == shape.size(), op, ": output rank ", keep.size(), " differs from the input's ", shape.size());
  Shape kept = keep, reduced = shape;
  for (size_t d = 0; d < shape.size(); ++d) {
    CXR_CHECK(keep[d] == shape[d] || keep[d] == 1, op, ": output shape ", shape_str(keep),
              " is not a reduction of ", shape_str(shape));
    if (keep[d] == shape[d]) reduced[d] = 1;
  }
  ReduceGeometry<N> g;
  g.kept = make_iter<N>(op, kept, strides);
  g.reduced = make_iter<N>(op, reduced, strides);
  g.outputs = shape_numel(kept);
  g.count = shape_numel(reduced);
  const bool outputs_adjacent = g.kept.ndim > 0 && g.kept.strides[0][g.kept.ndim - 1] == 1 &&
                                !(g.reduced.ndim > 0 && g.reduced.strides[0][g.reduced.ndim - 1] == 1);
  g.group = group_size(g.outputs, g.count, outputs_adjacent);
  if (split && g.group == kBlock) {
    const int64_t by_count = (g.count + kPartElements - 1) / kPartElements;
    const int64_t by_outputs = (4 * kBlock + g.outputs - 1) / g.outputs;  // ~4 blocks' worth in total
    g.parts = int(std::max<int64_t>(1, std::min<int64_t>({by_count, by_outputs, int64_t(kMaxParts)})));
  }
  return g;
}

// One pass: each group folds one output's part (blockIdx.y) and writes it, or its partial.
template <int G, int N, typename Op>
__global__ void __launch_bounds__(kBlock) reduce_kernel(ReduceGeometry<N> g, Op op, typename Op::Acc* partials) {
  using A = typename Op::Acc;
  constexpr int kGroups = kBlock / G;
  const int lane = int(threadIdx.x) % G;
  const int64_t part = blockIdx.y, chunk = (g.count + g.parts - 1) / g.parts;
  const int64_t begin = part * chunk < g.count ? part * chunk : g.count;
  const int64_t end = begin + chunk < g.count ? begin + chunk : g.count;
  // The loop bound depends on the block alone: every thread reaches group_reduce's barriers.
  for (int64_t first = int64_t(blockIdx.x) * kGroups; first < g.outputs; first += int64_t(gridDim.x) * kGroups) {
    const int64_t o = first + int64_t(threadIdx.x) / G;
    A acc = op.identity();
    if (o < g.outputs) {
      int64_t base[N];
      offsets_of(g.kept, o, base);
      for (int64_t r = begin + lane; r < end; r += G) {
        int64_t off[N];
        offsets_of(g.reduced, r, off);
        for (int k = 0; k < N; ++k) off[k] += base[k];
        acc = op.combine(acc, op.load(off, o, r));
      }
    }
    acc = group_reduce<G>(acc, [&](const A& a, const A& b) { return op.combine(a, b); });
    if (o < g.outputs && lane == 0) {
      if (g.parts == 1) op.write(o, acc);
      else partials[o * g.parts + part] = acc;
    }
  }
}

// The second pass of a split reduction: a warp per output folds its parts in a fixed order.
template <typename Op>
__global__ void __launch_bounds__(kBlock) fold_parts_kernel(int64_t outputs, int parts, Op op,
                                                           const typename Op::Acc* partials) {
  using A = typename Op::Acc;
  constexpr int G = 32, kGroups = kBlock / G;
  const int lane = int(threadIdx.x) % G;
  for (int64_t first = int64_t(blockIdx.x) * kGroups; first < outputs; first += int64_t(gridDim.x) * kGroups) {
    const int64_t o = first + int64_t(threadIdx.x) / G;
    A acc = op.identity();
    if (o < outputs)
      for (int p = lane; p < parts; p += G) acc = op.combine(acc, partials[o * parts + p]);
    acc = group_reduce<G>(acc, [&](const A& a, const A& b) { return op.combine(a, b); });
    if (o < outputs && lane == 0) op.write(o, acc);
  }
}

// Runs the reduction `g` with `op` (one kernel, or two when split); `name` names the kernel.
template <int N, typename Op>
void run_reduction(const char* name, const ReduceGeometry<N>& g, const Op& op) {
  using A = typename Op::Acc;
  static_assert(sizeof(A) <= 16, "a reduction's accumulator is at most 16 bytes (the shared slots)");
  if (g.outputs == 0) return;
  Tensor partials;  // raw bytes for the parts (lives until the stream is done with it: stream order)
  A* partial_data = nullptr;
  if (g.parts > 1) {
    const int64_t bytes = g.outputs * g.parts * int64_t(sizeof(A));
    partials = empty({(bytes + 7) / 8}, {DType::Int64, Device::CUDA, false});
    partial_data = reinterpret_cast<A*>(partials.data_ptr());
  }
  const dim3 grid(blocks_for(g.outputs, kBlock / g.group), unsigned(g.parts));
  switch (g.group) {
    case 1: launch(name, reduce_kernel<1, N, Op>, grid, kBlock, g, op, partial_data); break;
    case 32: launch(name, reduce_kernel<32, N, Op>, grid, kBlock, g, op, partial_data); break;
    default: launch(name, reduce_kernel<kBlock, N, Op>, grid, kBlock, g, op, partial_data); break;
  }
  if (g.parts > 1)
    launch(name, fold_parts_kernel<Op>, blocks_for(g.outputs, kBlock / 32), kBlock, g.outputs, g.parts, op,
           static_cast<const A*>(partial_data));
}

// A device buffer of `n` doubles (per-output statistics between passes).
inline Tensor device_doubles(int64_t n) { return empty({n}, {DType::Float64, Device::CUDA, false}); }

// ---- the Ops the reductions share (sum, mean, squared deviations) ----
// sum (double for floating T, int64 for int64), written as T.
template <typename T>
struct SumOp {
  using Acc = acc_t<T>;
  const T* x;
  T* out;
  __device__ Acc identity() const { return Acc(0); }
  __device__ Acc combine(Acc a, Acc b) const { return a + b; }
  __device__ Acc load(const int64_t (&off)[1], int64_t, int64_t) const { return Acc(x[off[0]]); }
  __device__ void write(int64_t o, Acc a) const { out[o] = T(a); }
};

// mean[o] = sum / count, in double (the first pass of var and of the norms).
template <typename T>
struct MeanOp {
  using Acc = double;
  const T* x;
  double* mean;
  double count;
  __device__ Acc identity() const { return 0.0; }
  __device__ Acc combine(Acc a, Acc b) const { return a + b; }
  __device__ Acc load(const int64_t (&off)[1], int64_t, int64_t) const { return double(x[off[0]]); }
  __device__ void write(int64_t o, Acc a) const { mean[o] = a / count; }
};

// sum (x - mean[o])^2 in double, handed to finish(o, mean[o], ss) (var, batch and layer norm).
template <typename T, typename Finish>
struct SquaredDeviationOp {
  using Acc = double;
  const T* x;
  const double* mean;
  Finish finish;
  __device__ Acc identity() const { return 0.0; }
  __device__ Acc combine(Acc a, Acc b) const { return a + b; }
  __device__ Acc load(const int64_t (&off)[1], int64_t o, int64_t) const {
    const double d = double(x[off[0]]) - mean[o];
    return d * d;
  }
  __device__ void write(int64_t o, Acc a) const { finish(o, mean[o], a); }
};

// The two passes of mean and squared deviations of x over `g` (one operand); mean is a buffer of
// g.outputs doubles that the first pass fills and the second reads.
template <typename T, typename Finish>
void mean_and_squared_deviations(const char* name, const ReduceGeometry<1>& g, const T* x, double* mean,
                                 const Finish& finish) {
  run_reduction(name, g, MeanOp<T>{x, mean, double(g.count)});
  run_reduction(name, g, SquaredDeviationOp<T, Finish>{x, mean, finish});
}

}  // namespace cxr::cuda
