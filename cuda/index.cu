// index.cu — index_select, gather and scatter_add on CUDA tensors (tensor/kernels/index.h;
// reference: ops/index.cpp). Every index is checked before anything is written, with the
// reference's message for the first bad one in row-major order (index_check.cuh); so a bad index
// leaves scatter_add's destination untouched. The reads give x a copy of its strides with the
// indexed dim's set to 0 and add index * stride by hand (the reference's trick).
// scatter_add has no float atomics and adds in the reference's order (each destination slot
// receives its sources in increasing position along dim, in the destination's dtype), so its
// results equal the CPU's bit for bit:
//   index constant along the other dims (index_select and embedding backward: a stride-0
//     expansion of a 1-D index): the J indices are read back to the host, checked there, and
//     grouped by destination (a stable counting sort); one thread per destination slot then adds
//     its sources in order. Costs one synchronizing read-back of 8 J bytes and an upload of
//     8 (J + size + 1) bytes.
//   otherwise (gather's backward): one thread per line along dim (the other coordinates fixed)
//     walks j = 0..J-1 and adds src[j] to dst[index[j]]; lines write disjoint slots.
//
// Cost (H100 3.35 TB/s), memory-bound: index_select/gather move out's bytes twice (read x
// scattered, write out) plus the index: (65536, 768) float32 rows selected, 403 MB, >= 120 us;
// the check reads the index once more and waits for one round trip (~10 us). scatter_add reads
// src and index and rewrites the touched dst slots: embedding backward of 16384 tokens x 768
// float32, 50 MB + the (30522, 768) destination, >= 43 us beyond the read-back.
#include <vector>

#include "cuda/index_check.cuh"
#include "cuda/kernels.h"

namespace cxr::cuda {
namespace {

__global__ void check_indices_kernel(StridedIter<1> it, int64_t n, const int64_t* index, int64_t size,
                                     unsigned long long* bad) {
  CXR_GRID_STRIDE_LOOP(i, n) {
    int64_t off[1];
    it.offsets(i, off);
    const int64_t v = index[off[0]];
    if (v < 0 || v >= size) flag_bad_position(bad, i);
  }
}

[[noreturn]] void fail_index(const char* op, int64_t value, int64_t dim, int64_t size) {
  fail(op, ": index ", value, " is out of range for dim ", dim, " of size ", size);
}

// Every value of index (any strides) in [0, size), else throws naming the first bad one in
// row-major order, as the reference does. Waits for the device.
void check_indices(const char* op, const Tensor& index, int64_t size, int64_t dim) {
  const int64_t n = index.numel();
  if (n == 0) return;
  const auto it = make_iter<1>(op, index.shape(), {index.strides()});
  const BadPositionFlag bad;
  launch(op, check_indices_kernel, blocks_for(n), kBlock, it, n, device_data<int64_t>(index), size, bad.device());
  if (const int64_t p = bad.first(); p >= 0) fail_index(op, int64_at(index, p), dim, size);
}

// x's strides with dim's set to 0.
Strides without_dim(const Strides& s, int64_t dim) {
  Strides out = s;
  out[size_t(dim)] = 0;
  return out;
}

// out[o0] = x[o1 + index[o2] * step]: index_select (o2 from the index's stride along dim) and
// gather (o2 from the index's own strides); offsets {out, x with dim's stride 0, index}.
template <typename T>
__global__ void gather_kernel(StridedIter<3> it, int64_t n, T* out, const T* x, const int64_t* index, int64_t step) {
  CXR_GRID_STRIDE_LOOP(i, n) {
    int64_t off[3];
    it.offsets(i, off);
    out[off[0]] = x[off[1] + index[off[2]] * step];
  }
}

void gather_through(const char* op, const Tensor& x, int64_t dim, const Tensor& index, const Shape& shape,
                    const Strides& index_strides, const Tensor& out) {
  const int64_t n = shape_numel(shape);
  if (n == 0) return;
  const auto it = make_iter<3>(op, shape, {out.strides(), without_dim(x.strides(), dim), index_strides});
  visit_dtype(x.dtype(), [&]<typename T>() {
    launch(op, gather_kernel<T>, blocks_for(n), kBlock, it, n, device_data<T>(out), device_data<T>(x),
           device_data<int64_t>(index), x.strides()[size_t(dim)]);
  });
}

// scatter_add, the index a function of j alone: thread per destination slot (offsets {dst, src
// with dim's stride 0, the slot's position k along dim}) adds src[order[q]] for q in
// [starts[k], starts[k + 1]), the sources of k in increasing j.
template <typename T>
__global__ void scatter_add_grouped_kernel(StridedIter<3> it, int64_t n, T* dst, const T* src, int64_t src_step,
                                           const int64_t* starts, const int64_t* order) {
  CXR_GRID_STRIDE_LOOP(i, n) {
    int64_t off[3];
    it.offsets(i, off);
    const int64_t begin = starts[off[2]], end = starts[off[2] + 1];
    if (begin == end) continue;
    T acc = dst[off[0]];
    for (int64_t q = begin; q < end; ++q) acc = T(acc + src[off[1] + order[q] * src_step]);
    dst[off[0]] = acc;
  }
}

// scatter_add, any index: thread per line (offsets {dst, index, src} of the line's first element).
template <typename T>
__global__ void scatter_add_lines_kernel(StridedIter<3> it, int64_t lines, int64_t length, T* dst, int64_t dst_step,
                                         const int64_t* index, int64_t index_step, const T* src, int64_t src_step) {
  CXR_GRID_STRIDE_LOOP(l, lines) {
    int64_t off[3];
    it.offsets(l, off);
    for (int64_t j = 0; j < length; ++j) {
      T& slot = dst[off[0] + index[off[1] + j * index_step] * dst_step];
      slot = T(slot + src[off[2] + j * src_step]);
    }
  }
}

// True when index's values depend on the position along dim only (stride 0 or size 1 elsewhere).
bool depends_on_dim_only(const Tensor& index, int64_t dim) {
  for (int64_t d = 0; d < index.dim(); ++d)
    if (d != dim && index.shape()[size_t(d)] != 1 && index.strides()[size_t(d)] != 0) return false;
  return true;
}

// The grouped path's host side: the J indices along dim, checked, then their positions grouped by
// value (starts: size + 1 offsets; order: the positions j, increasing within each group).
struct IndexGroups {
  Tensor starts, order;  // on the device
};
IndexGroups group_indices(const char* op, const Tensor& index, int64_t dim, int64_t size) {
  Tensor line = index;
  for (int64_t d = 0; d < index.dim(); ++d)
    if (d != dim) line = line.narrow(d, 0, 1);
  const Tensor host = copy_to(line, Device::CPU);  // contiguous: the J values in order
  const int64_t J = host.numel();
  const int64_t* values = host.data<int64_t>();
  for (int64_t j = 0; j < J; ++j)
    if (values[j] < 0 || values[j] >= size) fail_index(op, values[j], dim, size);
  Tensor starts = zeros({size + 1}, {DType::Int64, Device::CPU, false}), order = empty({J}, {DType::Int64, Device::CPU, false});
  int64_t* ps = starts.data<int64_t>();
  int64_t* po = order.data<int64_t>();
  for (int64_t j = 0; j < J; ++j) ++ps[values[j] + 1];
  for (int64_t k = 0; k < size; ++k) ps[k + 1] += ps[k];
  std::vector<int64_t> next(ps, ps + size);
  for (int64_t j = 0; j < J; ++j) po[next[size_t(values[j])]++] = j;
  return {copy_to(starts, Device::CUDA), copy_to(order, Device::CUDA)};
}

}  // namespace

void index_select(const char* op, const Tensor& x, int64_t dim, const Tensor& index, const Tensor& out) {
  CXR_CHECK(index.dim() == 1, op, ": index must be 1-D, got shape ", shape_str(index.shape()));
  check_indices(op, index, x.shape()[size_t(dim)], dim);
  Strides position_to_index(size_t(x.dim()), 0);  // position j along dim -> index element j
  position_to_index[size_t(dim)] = index.strides()[0];
  gather_through(op, x, dim, index, out.shape(), position_to_index, out);
}

void gather(const char* op, const Tensor& x, int64_t dim, const Tensor& index, const Tensor& out) {
  check_indices(op, index, x.shape()[size_t(dim)], dim);
  gather_through(op, x, dim, index, index.shape(), index.strides(), out);
}

void scatter_add(const char* op, const Tensor& dst, int64_t dim, const Tensor& index, const Tensor& src) {
  CXR_CHECK(index.shape() == src.shape(), op, ": index shape ", shape_str(index.shape()), " differs from source shape ",
            shape_str(src.shape()));
  if (src.numel() == 0) return;
  const int64_t size = dst.shape()[size_t(dim)];
  visit_numeric(dst.dtype(), op, [&]<typename T>() {
    if (depends_on_dim_only(index, dim)) {
      const IndexGroups groups = group_indices(op, index, dim, size);
      Shape slots_shape = src.shape();  // the destination slots within src's extents
      slots_shape[size_t(dim)] = size;
      Strides slot(size_t(dst.dim()), 0);
      slot[size_t(dim)] = 1;
      const int64_t n = shape_numel(slots_shape);
      if (n == 0) return;
      const auto it = make_iter<3>(op, slots_shape, {dst.strides(), without_dim(src.strides(), dim), slot});
      launch(op, scatter_add_grouped_kernel<T>, blocks_for(n), kBlock, it, n, device_data<T>(dst), device_data<T>(src),
             src.strides()[size_t(dim)], device_data<int64_t>(groups.starts), device_data<int64_t>(groups.order));
      return;
    }
    check_indices(op, index, size, dim);
    Shape lines_shape = src.shape();
    lines_shape[size_t(dim)] = 1;
    const int64_t lines = shape_numel(lines_shape);
    const auto it = make_iter<3>(op, lines_shape, {dst.strides(), index.strides(), src.strides()});
    launch(op, scatter_add_lines_kernel<T>, blocks_for(lines), kBlock, it, lines, src.shape()[size_t(dim)],
           device_data<T>(dst), dst.strides()[size_t(dim)], device_data<int64_t>(index), index.strides()[size_t(dim)],
           device_data<T>(src), src.strides()[size_t(dim)]);
  });
}

}  // namespace cxr::cuda
