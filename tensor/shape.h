// shape.h — shapes, strides and the index arithmetic shared by every op:
// row-major contiguous strides, dim wrapping (-1 = last), PyTorch broadcasting.
// Strides are in elements, not bytes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace cxr {

using Shape = std::vector<int64_t>;
using Strides = std::vector<int64_t>;
using Dims = std::vector<int64_t>;

int64_t shape_numel(const Shape& shape);
Strides contiguous_strides(const Shape& shape);
std::string shape_str(const Shape& shape);  // "[2, 3]"

// Wraps a possibly negative dim into [0, ndim); throws naming `op` when out of range.
// For ops that insert a dim (unsqueeze, stack) pass ndim+1.
int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op);

// Wraps and validates a list of dims (no duplicates). Empty `dims` means all dims.
Dims wrap_dims(const Dims& dims, int64_t ndim, const char* op);

// The broadcast shape of a and b by PyTorch's rules (align right; sizes equal or one of them 1).
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

}  // namespace cxr
