// roc.h — binary ROC curves and AUC with scikit-learn's semantics.
//
// Inputs are one score per sample (any finite double; higher = more positive) and a 0/1 target per
// sample. roc_curve is sklearn 1.2's roc_curve(drop_intermediate=True): one point per distinct score
// (descending), collinear intermediate points dropped, and a first point (0, 0) at threshold
// max(score) + 1. roc_auc is the area under that curve, i.e. the Mann-Whitney statistic
//   AUC = P(s+ > s-) + 1/2 P(s+ = s-)   over all (positive, negative) pairs,
// ties getting half credit. With only one class present the AUC is NaN (sklearn raises) and the
// curve's fpr (no negatives) or tpr (no positives) is all NaN, as sklearn returns it.
//
// RankedScores is the fast path the bootstrap uses: the scores are sorted once; the AUC of any
// resample is then one O(n) pass with per-sample integer weights (how often each sample was drawn).
#pragma once

#include <cstdint>
#include <vector>

namespace cxr::eval {

struct RocCurve {
  std::vector<double> fpr, tpr, thresholds;  // same length; thresholds decreasing
};

// Throws cxr::Error on mismatched lengths, no samples, a non-finite score or a target not in {0, 1}.
RocCurve roc_curve(const std::vector<double>& scores, const std::vector<int>& targets);
// NaN when fewer than two classes are present (also for no samples).
double roc_auc(const std::vector<double>& scores, const std::vector<int>& targets);

// The samples of one binary task sorted by descending score with tie groups marked, so that the AUC
// under any integer sample weights costs one pass. Each entry refers to a sample id (an index into
// the weight vector given to auc()), which lets a task use a subset of the samples (pairwise AUCs).
class RankedScores {
 public:
  RankedScores() = default;
  // scores[j], targets[j] (0/1) belong to sample ids[j]. Inputs must already be validated.
  RankedScores(const std::vector<double>& scores, const std::vector<int>& targets, const std::vector<int32_t>& ids);

  // AUC with sample id s counted weights[s] times; NaN when the weighted positives or negatives are 0.
  // Computed as an exact integer count of correctly ordered pairs (ties counted twice as half), so
  // the result is the correctly rounded rational value.
  double auc(const std::vector<int32_t>& weights) const;
  // auc() with every weight 1.
  double auc() const;

 private:
  std::vector<int32_t> id_;         // sample ids in descending score order
  std::vector<uint8_t> positive_;   // target of each sorted entry
  std::vector<int32_t> group_end_;  // exclusive end of each tie group, in sorted order
};

}  // namespace cxr::eval
