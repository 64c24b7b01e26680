// print.cpp — Tensor::to_string and operator<<: values (a tensor on another device is printed from
// a host copy), shape, dtype and, for a tensor in a graph, the name of its grad_fn. Above autograd
// because it names the node.
#include <cstdio>
#include <ostream>
#include <sstream>

#include "autograd/node.h"
#include "tensor/tensor.h"

namespace cxr {

std::string Tensor::to_string() const {
  if (!defined()) return "tensor(undefined)";
  std::vector<double> v = to_vector();
  const Shape& s = shape();
  std::ostringstream os;
  os << "tensor(";
  auto format = [&](double x) {
    char buf[32];
    if (dtype() == DType::Int64 || dtype() == DType::Bool) std::snprintf(buf, sizeof buf, "%lld", (long long)x);
    else std::snprintf(buf, sizeof buf, "%.4f", x);
    return std::string(buf);
  };
  const int64_t kMaxShown = 1000;
  if (s.empty()) {
    os << format(v[0]);
  } else if (numel() > kMaxShown) {
    os << "[" << format(v[0]) << ", " << format(v[1]) << ", ..., " << format(v.back()) << "]";
  } else {
    // Nested brackets: open one '[' per dim whose index is 0, close per dim whose index wraps.
    std::vector<int64_t> idx(s.size(), 0);
    for (size_t i = 0; i < v.size(); ++i) {
      size_t opens = 0;
      for (size_t d = s.size(); d-- > 0 && idx[d] == 0;) ++opens;
      if (i > 0) os << (opens > 0 ? ",\n" + std::string(s.size() - opens + 7, ' ') : ", ");
      os << std::string(opens, '[') << format(v[i]);
      size_t closes = 0;
      for (size_t d = s.size(); d-- > 0;) {
        if (++idx[d] < s[d]) break;
        idx[d] = 0;
        ++closes;
      }
      os << std::string(closes, ']');
    }
    if (v.empty()) os << std::string(s.size(), '[') << std::string(s.size(), ']');
  }
  os << ", shape=" << shape_str(s) << ", dtype=" << dtype_name(dtype());
  if (requires_grad()) os << (grad_fn() ? std::string(", grad_fn=") + grad_fn()->name() : ", requires_grad=true");
  os << ")";
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << t.to_string(); }

}  // namespace cxr
