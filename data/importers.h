// importers.h — manifests (data/manifest.h) from public datasets in their native layouts
// (docs/DATA-PIPELINE.md):
//   import_covid  the COVID-19 image collection's metadata.csv (images, clinical notes as reports,
//                 severity scores as extra targets); the same image filed under two patient ids
//                 merges those ids into one patient, so that no split can leak it
//   import_iu     the Indiana University reports CSV (+ projections): one row per report
//   import_mimic  MIMIC-CXR / MIMIC-CXR-JPG image trees or the reference's flat {mimic_id}.png
//                 folder, with the edema label files, the CheXpert label CSV, view metadata and
//                 report files
// Image and report paths in the manifest are written relative to `manifest_dir` (where the
// manifest will be saved) when they lie below it, absolute otherwise; the returned manifest's
// path is manifest_dir/manifest.csv so that its paths resolve before it is written. Splits are not assigned here (assign_splits).
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "data/manifest.h"

namespace cxr::data {

// What an importer kept and dropped, for the command's summary line.
struct ImportReport {
  int64_t rows_read = 0, rows_kept = 0;
  std::map<std::string, int64_t> dropped;  // reason -> count
  std::vector<std::string> notes;
};

struct CovidImportOptions {
  std::string metadata = "";                  // path to metadata.csv (images are relative to its directory)
  std::string manifest_dir = ".";
  std::set<std::string> views = {"PA", "AP", "AP Supine", "AP Erect", "AP erect"};  // frontal views kept
  bool require_image = true;             // drop rows whose image file is missing
};
Manifest import_covid(const CovidImportOptions& options, ImportReport* report = nullptr);

struct IuImportOptions {
  std::string reports = "";      // indiana_reports.csv
  std::string projections = "";  // indiana_projections.csv ("" to skip images)
  std::string images_dir = "";   // where the PNGs would be ("" -> "images" next to the reports CSV)
  std::string manifest_dir = ".";
};
Manifest import_iu(const IuImportOptions& options, ImportReport* report = nullptr);

struct MimicImportOptions {
  std::string images = "";        // a directory searched recursively for .png/.jpg/.jpeg/.dcm
  std::string edema_labels = "";  // directory with regex_/expert_report_edema_severity.csv, consensus_image_...csv ("" none)
  std::string chexpert = "";      // mimic-cxr-2.0.0-chexpert.csv (subject_id, study_id, ...) or mimic_id-keyed ("" none)
  std::string metadata = "";      // mimic-cxr-2.0.0-metadata.csv (dicom_id, ViewPosition or view) ("" keeps all views)
  std::string reports = "";       // a directory searched for s{study_id}.txt ("" none)
  std::string manifest_dir = ".";
  std::set<std::string> views = {"PA", "AP"};
  bool labelled_only = false;  // keep only images with an edema label
};
Manifest import_mimic(const MimicImportOptions& options, ImportReport* report = nullptr);

// Parses a MIMIC image path: a file named p{subject}_s{study}_{dicom}.ext, or .../p{subject}/s{study}/{dicom}.ext.
// Returns false if the path has neither form.
bool parse_mimic_path(const std::string& path, std::string& subject, std::string& study, std::string& dicom);

}  // namespace cxr::data
