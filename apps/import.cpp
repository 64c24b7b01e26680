// import.cpp — `cxr import {covid,iu,mimic}`: a dataset in its native layout -> a manifest
// (data/importers.h, docs/DATA-PIPELINE.md) with patient-level splits.
//   cxr import covid --metadata ../shared/data/covid-cxr/metadata.csv --out covid.csv
//   cxr import iu --reports .../indiana_reports.csv --projections .../indiana_projections.csv --out iu.csv
//   cxr import mimic --images DIR [--edema-labels DIR] [--chexpert CSV] [--metadata CSV] [--reports DIR]
//                    [--labelled-only] [--consensus-test] --out mimic.csv
// Common: --seed S --test-fraction F --val-fraction F --folds K. Prints what was kept and dropped.
// Exit code 0, or 2 on a missing or malformed input (the message names the file and line).
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <set>

#include "apps/command.h"
#include "tensor/error.h"
#include "text/findings.h"
#include "data/importers.h"
#include "data/manifest.h"

namespace cxr::apps {
namespace {

struct ImportCliOptions {
  std::string out;
  data::SplitOptions split;
  bool consensus_test = false;
  bool label_findings = false;
  bool unmentioned_negative = false;
  data::CovidImportOptions covid;
  data::IuImportOptions iu;
  data::MimicImportOptions mimic;
};

// --label-findings: the CheXpert columns of every row from the findings labeler run on its report
// (covid-cxr's clinical notes, IU reports): for data whose only findings labels are in its text.
// With unmentioned_negative, a finding the text does not mention counts as absent (0) for rows that
// have a report: clinical notes name what is there, rarely what is not.
void label_findings(data::Manifest& m, bool unmentioned_negative) {
  text::FindingsLabeler labeler(text::FindingsPhrases::project_default(), text::Negex::project_default(), {});
  std::array<int, text::kNumObservations> to_manifest{};  // labeler observation -> manifest column
  for (int o = 0; o < text::kNumObservations; ++o) {
    std::string name;
    for (char c : text::kObservationNames[size_t(o)])
      if (c != ' ') name += c;
    to_manifest[size_t(o)] = -1;
    for (size_t c = 0; c < data::kChexpertNames.size(); ++c)
      if (name == data::kChexpertNames[c]) to_manifest[size_t(o)] = int(c);
    CXR_CHECK(to_manifest[size_t(o)] >= 0, "label-findings: no manifest column for ", name);
  }
  for (auto& row : m.rows) {
    text::FindingsResult r = labeler.label(m.report_text(row));
    const bool has_text = !m.report_text(row).empty();
    for (int o = 0; o < text::kNumObservations; ++o) {
      int v = r.labels[size_t(o)];
      if (v == text::kNotMentioned && unmentioned_negative && has_text) v = text::kNegative;
      row.chexpert[size_t(to_manifest[size_t(o)])] = v;
    }
  }
}

int finish(const std::string& kind, data::Manifest m, const data::ImportReport& rep, const ImportCliOptions& o) {
  if (o.label_findings) label_findings(m, o.unmentioned_negative);
  data::SplitOptions split = o.split;
  if (o.consensus_test)
    for (const auto& r : m.rows)
      if (r.extra.count("edema_consensus") && r.extra.at("edema_consensus") != "-1") split.test_patients.insert(r.patient_id);
  data::assign_splits(m, split);
  const auto parent = std::filesystem::path(o.out).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent);
  data::write_manifest(o.out, m);
  std::map<std::string, int64_t> per_split;
  std::set<std::string> patients;
  for (const auto& r : m.rows) per_split[r.split]++, patients.insert(r.patient_id);
  std::printf("cxr import %s: %lld rows read, %zu kept (%zu patients) -> %s\n", kind.c_str(), (long long)rep.rows_read, m.rows.size(),
              patients.size(), o.out.c_str());
  for (const auto& [reason, n] : rep.dropped) std::printf("  dropped %lld: %s\n", (long long)n, reason.c_str());
  for (const auto& note : rep.notes) std::printf("  note: %s\n", note.c_str());
  std::string s;
  for (const auto& [name, n] : per_split) s += " " + name + "=" + std::to_string(n);
  std::printf("  splits (images):%s\n", s.c_str());
  return kExitOk;
}

void add_common(CLI::App* app, ImportCliOptions& o) {
  app->add_option("--out", o.out, "the manifest to write")->required();
  app->add_option("--seed", o.split.seed, "seed of the patient-level split");
  app->add_option("--test-fraction", o.split.test_fraction, "fraction of patients in test")->check(CLI::Range(0.0, 1.0));
  app->add_option("--val-fraction", o.split.val_fraction, "fraction of patients in val")->check(CLI::Range(0.0, 1.0));
  app->add_flag("--label-findings", o.label_findings,
                "fill the 14 CheXpert columns from the findings labeler run on each row's report text");
  app->add_flag("--unmentioned-negative", o.unmentioned_negative,
                "with --label-findings: a finding the report does not mention is 0 (absent), not blank");
  app->add_option("--folds", o.split.folds, "K > 0: test + fold1..foldK instead of train/val/test")->check(CLI::Range(0, 100));
}

CommandRegistration registration("import", "build a manifest from a dataset in its native layout (covid, iu, mimic)",
                                 [](CLI::App& sub) {
                                   auto o = std::make_shared<ImportCliOptions>();
                                   sub.require_subcommand(1);
                                   CLI::App* covid = sub.add_subcommand("covid", "the COVID-19 image collection (metadata.csv)");
                                   covid->add_option("--metadata", o->covid.metadata, "metadata.csv")->required();
                                   add_common(covid, *o);
                                   CLI::App* iu = sub.add_subcommand("iu", "the Indiana University reports (indiana_reports.csv)");
                                   iu->add_option("--reports", o->iu.reports, "indiana_reports.csv")->required();
                                   iu->add_option("--projections", o->iu.projections, "indiana_projections.csv (frontal image names)");
                                   iu->add_option("--images", o->iu.images_dir, "the image directory (default: images/ next to the reports)");
                                   add_common(iu, *o);
                                   CLI::App* mimic = sub.add_subcommand("mimic", "MIMIC-CXR(-JPG) trees or flat {mimic_id}.png folders");
                                   mimic->add_option("--images", o->mimic.images, "directory searched for .png/.jpg/.dcm")->required();
                                   mimic->add_option("--edema-labels", o->mimic.edema_labels, "directory of the edema label CSVs");
                                   mimic->add_option("--chexpert", o->mimic.chexpert, "CheXpert label CSV (by study_id or mimic_id)");
                                   mimic->add_option("--metadata", o->mimic.metadata, "view metadata CSV (dicom_id, ViewPosition/view)");
                                   mimic->add_option("--reports", o->mimic.reports, "directory searched for s{study}.txt reports");
                                   mimic->add_flag("--labelled-only", o->mimic.labelled_only, "keep only images with an edema label");
                                   mimic->add_flag("--consensus-test", o->consensus_test,
                                                   "patients with consensus-labelled images go to test (as the reference)");
                                   add_common(mimic, *o);
                                   return [o, covid, iu, mimic]() -> int {
                                     const std::string dir = std::filesystem::path(o->out).has_parent_path()
                                                                 ? std::filesystem::path(o->out).parent_path().string()
                                                                 : ".";
                                     data::ImportReport rep;
                                     if (covid->parsed()) {
                                       o->covid.manifest_dir = dir;
                                       return finish("covid", data::import_covid(o->covid, &rep), rep, *o);
                                     }
                                     if (iu->parsed()) {
                                       o->iu.manifest_dir = dir;
                                       return finish("iu", data::import_iu(o->iu, &rep), rep, *o);
                                     }
                                     o->mimic.manifest_dir = dir;
                                     return finish("mimic", data::import_mimic(o->mimic, &rep), rep, *o);
                                   };
                                 });

}  // namespace
}  // namespace cxr::apps
