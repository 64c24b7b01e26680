// findings_eval.cpp — see findings_eval.h.
#include "text/findings_eval.h"

#include <cstdio>
#include <sstream>

#include "tensor/error.h"
#include "text/chars.h"

namespace cxr::text {

const std::array<std::vector<MeshRule>, kNumObservations>& iu_mesh_mapping() {
  // Index by observation (kObservationNames order). No Finding is handled separately: "normal".
  static const std::array<std::vector<MeshRule>, kNumObservations> mapping = {{
      /* No Finding */ {{"normal", ""}},
      /* Enlarged Cardiomediastinum */ {{"Mediastinum", "enlarged"}, {"Mediastinum", "prominent"}, {"Mediastinum", "widened"}},
      /* Cardiomegaly */ {{"Cardiomegaly", ""}, {"Cardiac Shadow", "enlarged"}},
      /* Lung Opacity */ {{"Opacity", ""}, {"Infiltrate", ""}, {"Airspace Disease", ""}, {"Density", "lung"}, {"Density", "retrocardiac"}},
      /* Lung Lesion */
      {{"Nodule", ""}, {"Mass", "lung"}, {"Mass", "thorax"}, {"Cavitation", ""}, {"Cysts", "lung"},
       {"Opacity", "round"}, {"Density", "round"}, {"Infiltrate", "round"}},
      /* Edema */ {{"Pulmonary Edema", ""}, {"Pulmonary Congestion", ""}, {"Heart Failure", ""}},
      /* Consolidation */ {{"Consolidation", ""}},
      /* Pneumonia */ {{"Pneumonia", ""}},
      /* Atelectasis */ {{"Pulmonary Atelectasis", ""}},
      /* Pneumothorax */ {{"Pneumothorax", ""}, {"Hydropneumothorax", ""}, {"Hemopneumothorax", ""}},
      /* Pleural Effusion */ {{"Pleural Effusion", ""}, {"Hydropneumothorax", ""}, {"Hemothorax", ""}, {"Hemopneumothorax", ""}},
      /* Pleural Other */ {{"Thickening", "pleura"}, {"Cicatrix", "pleura"}, {"Calcinosis", "pleura"}, {"Pleura", ""}},
      /* Fracture */ {{"Fractures, Bone", ""}},
      /* Support Devices */
      {{"Catheters, Indwelling", ""}, {"Implanted Medical Device", ""}, {"Tube, Inserted", ""}, {"Medical Device", ""},
       {"Stents", ""}, {"Surgical Instruments", ""}, {"Sutures", ""}},
  }};
  return mapping;
}

namespace {
std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t b = 0;
  while (true) {
    size_t e = s.find(sep, b);
    out.emplace_back(strip(std::string_view(s).substr(b, e == std::string::npos ? std::string::npos : e - b)));
    if (e == std::string::npos) break;
    b = e + 1;
  }
  return out;
}
}  // namespace

std::array<bool, kNumObservations> iu_reference_positives(const std::string& mesh) {
  std::array<bool, kNumObservations> pos{};
  const auto& mapping = iu_mesh_mapping();
  for (const std::string& term : split(mesh, ';')) {
    std::vector<std::string> parts = split(term, '/');
    for (int o = 0; o < kNumObservations; ++o) {
      for (const MeshRule& r : mapping[o]) {
        if (parts[0] != r.heading) continue;
        bool ok = r.qualifier.empty();
        for (size_t i = 1; i < parts.size() && !ok; ++i) ok = parts[i] == r.qualifier;
        if (ok) pos[o] = true;
      }
    }
  }
  return pos;
}

FindingsEvaluation evaluate_findings_on_iu(const CsvTable& iu, const FindingsLabeler& labeler) {
  const int uid = iu.column("uid"), mesh = iu.column("MeSH"), fi = iu.column("findings"), im = iu.column("impression");
  CXR_CHECK(uid >= 0 && mesh >= 0 && fi >= 0 && im >= 0,
            "evaluate_findings_on_iu: the CSV needs the columns uid, MeSH, findings, impression");
  FindingsEvaluation e;
  for (const auto& row : iu.rows) {
    if (row[mesh] == "No Indexing") {
      ++e.excluded;
      continue;
    }
    ++e.reports;
    std::string text = "FINDINGS: " + row[fi] + "\nIMPRESSION: " + row[im] + "\n";
    FindingsResult r = labeler.label(text);
    std::array<bool, kNumObservations> ref = iu_reference_positives(row[mesh]);
    for (int o = 0; o < kNumObservations; ++o) {
      bool pred = r.labels[o] == kPositive;
      ObservationMetrics& m = e.metrics[o];
      m.positives += ref[o];
      m.uncertain += r.labels[o] == kUncertain;
      m.uncertain_tp += r.labels[o] == kUncertain && ref[o];
      if (pred && ref[o]) ++m.tp;
      if (pred && !ref[o]) ++m.fp;
      if (!pred && ref[o]) ++m.fn;
      if (pred != ref[o]) e.errors.push_back({row[uid], o, pred, row[mesh], row[fi] + " || " + row[im]});
    }
  }
  return e;
}

std::string findings_evaluation_markdown(const FindingsEvaluation& e) {
  std::ostringstream out;
  out << "| observation | MeSH terms mapped to it | positives | precision | recall | F1 | uncertain | F1, uncertain as positive |\n";
  out << "|---|---|---:|---:|---:|---:|---:|---:|\n";
  const auto& mapping = iu_mesh_mapping();
  for (int o = 0; o < kNumObservations; ++o) {
    const ObservationMetrics& m = e.metrics[o];
    std::string terms;
    for (const MeshRule& r : mapping[o]) {
      if (!terms.empty()) terms += "; ";
      terms += r.qualifier.empty() ? r.heading : r.heading + "/…" + r.qualifier;
    }
    char nums[160];
    std::snprintf(nums, sizeof nums, "%d | %.3f | %.3f | %.3f | %d | %.3f", m.positives, m.precision(), m.recall(),
                  m.f1(), m.uncertain, m.f1_uncertain_positive());
    out << "| " << kObservationNames[o] << " | " << terms << " | " << nums << " |\n";
  }
  return out.str();
}

}  // namespace cxr::text
