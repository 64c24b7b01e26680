// bootstrap.cpp — Philox resampling, numpy's linear quantile, the replicate loop. See bootstrap.h.
#include "eval/bootstrap.h"

#include <algorithm>
#include <atomic>
#include <cmath>

#include "tensor/cpu/runtime.h"
#include "tensor/error.h"
#include "tensor/random.h"

namespace cxr::eval {

std::vector<int64_t> bootstrap_sample(int64_t n, int64_t replicate, uint64_t seed) {
  CXR_CHECK(n >= 1, "bootstrap_sample: n must be at least 1, got ", n);
  CXR_CHECK(replicate >= 0, "bootstrap_sample: replicate must be >= 0, got ", replicate);
  Generator gen(seed);
  std::vector<int64_t> indices(static_cast<size_t>(n));
  uint64_t first = uint64_t(replicate) * uint64_t(n);
  for (int64_t i = 0; i < n; ++i) indices[size_t(i)] = gen.integer(first + uint64_t(i), 0, n);
  return indices;
}

// numpy 1.24 _quantile with method 'linear': virtual index h = (n - 1) q, neighbours floor(h) and
// floor(h) + 1 (both the last element when h >= n - 1), gamma = h - floor(h), and
// _lerp(a, b, gamma) = a + (b - a) gamma, or b - (b - a)(1 - gamma) when gamma >= 0.5.
double quantile_linear(const std::vector<double>& sorted, double q) {
  CXR_CHECK(!sorted.empty(), "quantile_linear: no values");
  CXR_CHECK(q >= 0 && q <= 1, "quantile_linear: q must be in [0, 1], got ", q);
  const int64_t n = int64_t(sorted.size());
  double h = double(n - 1) * q;
  if (h >= double(n - 1)) return sorted.back();
  double below = std::floor(h);
  double gamma = h - below;
  double a = sorted[size_t(below)], b = sorted[size_t(below) + 1];
  double diff = b - a;
  return gamma >= 0.5 ? b - diff * (1 - gamma) : a + diff * gamma;
}

std::vector<MetricEstimate> bootstrap_metrics(int64_t n, const WeightedMetrics& metrics, const BootstrapOptions& b) {
  CXR_CHECK(n >= 1, "bootstrap: no samples");
  CXR_CHECK(n <= int64_t(1) << 30, "bootstrap: ", n, " samples is more than supported (2^30)");
  CXR_CHECK(b.replicates >= 0, "bootstrap: replicates must be >= 0, got ", b.replicates);
  CXR_CHECK(b.level > 0 && b.level < 1, "bootstrap: level must be in (0, 1), got ", b.level);

  const std::vector<double> point = metrics(std::vector<int32_t>(size_t(n), 1));
  const size_t num_metrics = point.size();
  std::vector<MetricEstimate> out(num_metrics);
  for (size_t m = 0; m < num_metrics; ++m) out[m].value = point[m];
  if (b.replicates == 0) return out;

  // draws[r * num_metrics + m]: metric m on replicate r. Each replicate writes only its own row, so
  // the result does not depend on the threads or the chunking.
  const int64_t replicates = b.replicates;
  std::vector<double> draws(size_t(replicates) * num_metrics);
  std::atomic<bool> wrong_size{false};
  cpu::parallel_for(replicates, 8, [&](int64_t begin, int64_t end) {
    Generator gen(b.seed);
    std::vector<int32_t> weights(static_cast<size_t>(n));
    for (int64_t r = begin; r < end; ++r) {
      std::fill(weights.begin(), weights.end(), 0);
      const uint64_t first = uint64_t(r) * uint64_t(n);
      for (int64_t i = 0; i < n; ++i) ++weights[size_t(gen.integer(first + uint64_t(i), 0, n))];
      std::vector<double> values = metrics(weights);
      if (values.size() != num_metrics) {
        wrong_size = true;
        continue;
      }
      std::copy(values.begin(), values.end(), draws.begin() + r * int64_t(num_metrics));
    }
  });
  CXR_CHECK(!wrong_size, "bootstrap: the metric function returned a different number of metrics on a replicate");

  const double alpha = 1.0 - b.level;
  const double q_low = alpha / 2.0, q_high = 1.0 - alpha / 2.0;
  std::vector<double> values;
  for (size_t m = 0; m < num_metrics; ++m) {
    if (std::isnan(point[m])) continue;  // undefined on the full sample: no interval
    values.clear();
    for (int64_t r = 0; r < replicates; ++r) {
      double v = draws[size_t(r) * num_metrics + m];
      if (!std::isnan(v)) values.push_back(v);
    }
    out[m].replicates_used = int64_t(values.size());
    if (values.empty()) continue;
    std::sort(values.begin(), values.end());
    out[m].ci_low = quantile_linear(values, q_low);
    out[m].ci_high = quantile_linear(values, q_high);
  }
  return out;
}

}  // namespace cxr::eval
