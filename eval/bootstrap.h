// bootstrap.h — nonparametric bootstrap percentile intervals for a set of metrics.
//
// A replicate resamples the n samples with replacement. Replicate r draws its i-th index from
// Philox: index_i = Generator(seed).integer(counter = r * n + i, 0, n), so every replicate is its
// own stream and the draws depend on (seed, n, r, i) only: not on thread count or on which
// replicates run first. A metric set is evaluated under integer sample weights (weights[s] = how
// often sample s was drawn), which is exactly the metric on the resample and lets each metric work
// from precomputed orders instead of re-sorting.
//
// For each metric, replicates where it is undefined (NaN, e.g. an AUC whose resample has one
// class) are skipped; the interval is numpy.quantile(values, [alpha/2, 1 - alpha/2]) with the
// default linear interpolation, alpha = 1 - level, over the replicates used.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <vector>

namespace cxr::eval {

struct BootstrapOptions {
  int64_t replicates = 1000;  // 0: no intervals (point estimates only)
  double level = 0.95;        // two-sided interval coverage, in (0, 1)
  uint64_t seed = 0;
};

// The sample indices of replicate `replicate` (n of them, each in [0, n)).
std::vector<int64_t> bootstrap_sample(int64_t n, int64_t replicate, uint64_t seed);

// numpy.quantile(sorted, q) with method='linear' (bit for bit, including numpy's two-sided lerp).
// `sorted` must be ascending and non-empty; q in [0, 1].
double quantile_linear(const std::vector<double>& sorted, double q);

struct MetricEstimate {
  double value = std::numeric_limits<double>::quiet_NaN();   // on the full sample (all weights 1)
  double ci_low = std::numeric_limits<double>::quiet_NaN();  // NaN when no replicate was usable
  double ci_high = std::numeric_limits<double>::quiet_NaN();
  int64_t replicates_used = 0;  // replicates where the metric was defined
};

// The metrics (a fixed number, NaN = undefined) of the sample under integer weights, one per sample.
// Called concurrently from several threads: it must not modify shared state.
using WeightedMetrics = std::function<std::vector<double>(const std::vector<int32_t>& weights)>;

// Point estimates and percentile intervals of every metric of `metrics` over n samples. A metric
// that is undefined on the full sample gets no interval either. Throws cxr::Error on n < 1,
// replicates < 0 or a level outside (0, 1).
std::vector<MetricEstimate> bootstrap_metrics(int64_t n, const WeightedMetrics& metrics, const BootstrapOptions& b);

}  // namespace cxr::eval
