// findings_eval.h — measures the findings labeler against the manual MeSH annotations of the IU
// chest X-ray collection (indiana_reports.csv: uid, MeSH, ..., findings, impression). Each
// observation is mapped to MeSH terms (iu_mesh_mapping(); docs/LABELER.md lists it); a report is a
// reference positive when one of its MeSH terms maps to the observation ("normal" for No
// Finding). A prediction is positive when the label is 1; uncertain (−1) predictions count as
// negative (the indexers record findings stated as present; scores with uncertain counted as
// positive are reported alongside). Reports indexed "No Indexing" are left out.
#pragma once

#include <array>
#include <string>
#include <vector>

#include "text/csv.h"
#include "text/findings.h"

namespace cxr::text {

// One mapping rule: MeSH heading (the part before the first '/'), and optionally a qualifier that
// must be among the term's '/'-separated qualifiers ("Thickening" + "pleura").
struct MeshRule {
  std::string heading;
  std::string qualifier;  // empty: any
};
const std::array<std::vector<MeshRule>, kNumObservations>& iu_mesh_mapping();

// The reference labels of one report: whether each observation is annotated.
std::array<bool, kNumObservations> iu_reference_positives(const std::string& mesh);

struct ObservationMetrics {
  int positives = 0;  // reference positives
  int tp = 0, fp = 0, fn = 0;
  int uncertain = 0;     // uncertain predictions (counted as negative)
  int uncertain_tp = 0;  // of those, reference positives
  // F1 when uncertain predictions count as positive instead.
  double f1_uncertain_positive() const {
    int tp1 = tp + uncertain_tp, fp1 = fp + (uncertain - uncertain_tp), fn1 = fn - uncertain_tp;
    return 2.0 * tp1 + fp1 + fn1 ? 2.0 * tp1 / (2.0 * tp1 + fp1 + fn1) : 0.0;
  }
  double precision() const { return tp + fp ? double(tp) / (tp + fp) : 0.0; }
  double recall() const { return tp + fn ? double(tp) / (tp + fn) : 0.0; }
  double f1() const { return 2.0 * tp + fp + fn ? 2.0 * tp / (2.0 * tp + fp + fn) : 0.0; }
};

struct FindingsError {
  std::string uid;
  int observation;
  bool false_positive;  // else a false negative
  std::string mesh, text;
};

struct FindingsEvaluation {
  int reports = 0;   // evaluated
  int excluded = 0;  // "No Indexing"
  std::array<ObservationMetrics, kNumObservations> metrics;
  std::vector<FindingsError> errors;
};

// Labels every row's "FINDINGS: <findings>\nIMPRESSION: <impression>\n" (DATA.md's composition).
FindingsEvaluation evaluate_findings_on_iu(const CsvTable& iu, const FindingsLabeler& labeler);

// The Markdown table of docs/LABELER.md (observation, MeSH terms, positives, precision, recall,
// F1, uncertain predictions).
std::string findings_evaluation_markdown(const FindingsEvaluation& e);

}  // namespace cxr::text
