// manifest.h — the dataset manifest: one CSV row per image (docs/DATA-PIPELINE.md):
//   id, image, report, patient_id, study_id, split, edema, <the 14 CheXpert columns>, [extras...]
// image and report paths are relative to the manifest's directory (or absolute); report may also
// be the report text itself. edema is -1 (unlabelled) or 0..3; CheXpert values are -2 (absent),
// -1 (uncertain), 0, 1 (an empty cell reads as -2). Further columns are kept as named extra
// targets (strings). Patient-level splits: assign_splits.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace cxr::data {

// METHODS.md §1 order (the reference's test_chexpert.csv).
extern const std::array<const char*, 14> kChexpertNames;
// The fixed columns, in order.
extern const std::array<const char*, 7> kManifestColumns;  // id .. edema

struct ManifestRow {
  std::string id, image, report, patient_id, study_id, split;
  int edema = -1;
  std::array<int, 14> chexpert;  // -2 absent
  std::map<std::string, std::string> extra;
  int64_t line = 0;  // where it was read from (0 if built in memory)

  ManifestRow() { chexpert.fill(-2); }
};

struct Manifest {
  std::string path;                       // the file (for messages and relative paths); may be empty
  std::vector<std::string> extra_columns;  // in column order
  std::vector<ManifestRow> rows;

  std::string directory() const;                    // the manifest's directory ("." if none)
  std::string image_path(const ManifestRow& row) const;  // resolved against directory()
  // The report text: the file named by `report` (resolved like images) when it names an existing
  // file, otherwise `report` itself.
  std::string report_text(const ManifestRow& row) const;
  // "path:line" of a row for messages.
  std::string where(const ManifestRow& row) const;
};

// Reads and validates: required columns present, ids non-empty and unique, edema in -1..3,
// CheXpert values in {-2, -1, 0, 1} (written as integers or floats such as "-1.0"). Throws
// cxr::Error naming the file and line.
Manifest read_manifest(const std::string& path);
// Writes m (all fixed columns, then m.extra_columns) atomically to path.
void write_manifest(const std::string& path, const Manifest& m);

// ---- patient-level splits ----

struct SplitOptions {
  uint64_t seed = 0;
  double test_fraction = 0.2;  // of patients
  double val_fraction = 0.1;   // of patients (ignored when folds > 0)
  int folds = 0;               // > 0: split = "test" or "fold1".."foldK" (the non-test patients in K folds)
  // Patients always put in the test split (e.g. those with consensus-labelled images, as the
  // reference's split_data.py); the fractions then apply to the other patients.
  std::set<std::string> test_patients = {};
};

// Sets every row's split to "train", "val" or "test" (or "test"/"foldK"), by patient: all images
// of a patient (rows with the same patient_id; a row without one is its own patient) get the same
// split. The assignment depends only on the seed and the set of patient ids (not on row order):
// patients are sorted, then shuffled by a Philox permutation.
void assign_splits(Manifest& m, const SplitOptions& options);

}  // namespace cxr::data
