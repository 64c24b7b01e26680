// test_importers.cpp — data/importers on the real public data in ../shared/data (DATA.md; each
// test skips visibly when it is absent) and on MIMIC-style trees the test writes itself: frontal
// views kept, duplicate images merged into one patient, labels joined, patient-level splits.
#include <filesystem>
#include <map>
#include <set>

#include "data/image.h"
#include "data/importers.h"
#include "data/manifest.h"
#include "tensor/file_io.h"
#include "testing.h"

using namespace cxr;
using namespace cxr::data;
using namespace cxr::testing;
namespace fs = std::filesystem;

namespace {

std::string shared(const std::string& rel) { return source_path("../shared/data/" + rel); }
bool have(const std::string& rel) { return fs::exists(shared(rel)); }

void touch(const fs::path& p, const std::string& text = "") {
  fs::create_directories(p.parent_path());
  write_file_atomic(p.string(), text);
}

// Every patient in exactly one split.
void check_patient_level(const Manifest& m) {
  std::map<std::string, std::set<std::string>> s;
  for (const auto& r : m.rows) s[r.patient_id].insert(r.split);
  for (const auto& [p, splits] : s) {
    INFO("patient ", p);
    CHECK(splits.size() == 1);
  }
}

}  // namespace

TEST_CASE("import covid: frontal images, notes as reports, severity targets, shared images merge patients") {
  if (!have("covid-cxr/metadata.csv")) return skip_test("../shared/data/covid-cxr is absent");
  ImportReport rep;
  Manifest m = import_covid({.metadata = shared("covid-cxr/metadata.csv"), .manifest_dir = "/"}, &rep);
  CHECK(rep.rows_read == 525);
  CHECK(m.rows.size() == 446);                                       // 522 unique images minus 76 non-frontal
  CHECK(rep.dropped["duplicate image_id (kept the first row)"] == 3);  // DATA.md: 3 images appear twice
  CHECK(rep.dropped["view 'L' not frontal"] == 47);
  std::set<std::string> views, ids;
  int severity = 0, notes = 0;
  for (const auto& r : m.rows) {
    views.insert(r.extra.at("view"));
    ids.insert(r.id);
    severity += !r.extra.at("geographic_extent").empty();
    notes += !r.report.empty();
    CHECK(r.edema == -1);
    CHECK(fs::exists(m.image_path(r)));
  }
  CHECK(ids.size() == m.rows.size());
  CHECK(views == std::set<std::string>{"AP", "AP Supine", "PA"});
  CHECK(severity > 60);
  CHECK(notes > 350);
  // The three shared images made patients 285 and 339 one patient.
  std::set<std::string> p339;
  for (const auto& r : m.rows)
    if (r.extra.at("patient_aliases") == "285;339") p339.insert(r.patient_id);
  CHECK(p339 == std::set<std::string>{"285"});
  for (const auto& r : m.rows) CHECK(r.patient_id != "339");
  // Patient-level split, reproducible.
  assign_splits(m, {.seed = 3, .test_fraction = 0.2, .val_fraction = 0.1});
  check_patient_level(m);
  Manifest again = import_covid({.metadata = shared("covid-cxr/metadata.csv"), .manifest_dir = "/"});
  assign_splits(again, {.seed = 3, .test_fraction = 0.2, .val_fraction = 0.1});
  for (size_t i = 0; i < m.rows.size(); ++i) CHECK(m.rows[i].split == again.rows[i].split);
  // Written elsewhere, the manifest holds absolute image paths (relative ones only below its directory).
  const fs::path dir = fresh_temp_dir("import_covid");
  Manifest elsewhere = import_covid({.metadata = shared("covid-cxr/metadata.csv"), .manifest_dir = dir.string()});
  CHECK(fs::path(elsewhere.rows[0].image).is_absolute());
  CHECK(fs::path(m.rows[0].image).is_relative());  // below "/"
  write_manifest((dir / "covid.csv").string(), elsewhere);
  Manifest back = read_manifest((dir / "covid.csv").string());
  CHECK(back.rows.size() == m.rows.size());
  CHECK(load_image(back.image_path(back.rows[0])).pixels.dim() == 2);
  fs::remove_all(dir);
}

TEST_CASE("import iu: one row per report with the labeler's text layout") {
  if (!have("iu-reports/indiana_reports.csv")) return skip_test("../shared/data/iu-reports is absent");
  ImportReport rep;
  Manifest m = import_iu({.reports = shared("iu-reports/indiana_reports.csv"),
                          .projections = shared("iu-reports/indiana_projections.csv")},
                         &rep);
  CHECK(m.rows.size() == 3851);
  CHECK(m.rows[0].id == "iu1");
  CHECK(m.rows[0].report.rfind("FINDINGS: The cardiac silhouette", 0) == 0);
  CHECK(m.rows[0].report.find("\nIMPRESSION: Normal chest x-XXXX.\n") != std::string::npos);
  CHECK(m.rows[0].extra.at("MeSH") == "normal");
  CHECK(m.rows[0].image.find("1_IM-0001-4001.dcm.png") != std::string::npos);
  CHECK(m.rows[0].extra.at("image_available") == "0");  // the images are not distributed
  assign_splits(m, {.seed = 1, .test_fraction = 0.2, .folds = 5});
  check_patient_level(m);
}

TEST_CASE("import mimic: the reference's flat PNG folder with CheXpert labels") {
  if (!have("mimic-examples/images")) return skip_test("../shared/data/mimic-examples is absent");
  ImportReport rep;
  Manifest m = import_mimic({.images = shared("mimic-examples/images"),
                             .edema_labels = shared("edema-labels"),
                             .chexpert = shared("mimic-examples/chexpert_labels.csv")},
                            &rep);
  REQUIRE(m.rows.size() == 16);
  std::set<std::string> patients;
  for (const auto& r : m.rows) {
    patients.insert(r.patient_id);
    CHECK(r.id.rfind("p" + r.patient_id + "_s" + r.study_id + "_", 0) == 0);
    CHECK(fs::exists(m.image_path(r)));
  }
  CHECK(patients.size() == 5);
  // The first image's CheXpert row: No Finding = 1, the rest absent.
  const auto& r0 = m.rows[0];
  CHECK(r0.id == "p10000032_s50414267_02aa804e-bde0afdd-112c0b34-7bc16630-4e384014");
  CHECK(r0.chexpert[8] == 1);
  CHECK(r0.chexpert[0] == -2);
  assign_splits(m, {.seed = 2, .test_fraction = 0.4, .val_fraction = 0.2});
  check_patient_level(m);
}

TEST_CASE("import mimic: a MIMIC-CXR-JPG tree with views, edema label precedence, reports and study CheXpert labels") {
  const fs::path dir = fresh_temp_dir("import_mimic_tree");
  const fs::path files = dir / "files" / "p10";
  touch(files / "p10000001" / "s50000001" / "aaaa-1111.jpg");
  touch(files / "p10000001" / "s50000001" / "bbbb-2222.jpg");  // lateral
  touch(files / "p10000001" / "s50000002" / "cccc-3333.jpg");
  touch(files / "p10000002" / "s50000003" / "dddd-4444.jpg");
  touch(files / "p10000002" / "s50000003" / "dddd-4444.dcm");  // the same image as DICOM: the JPEG is kept
  touch(files / "p10000002" / "notes.png");                    // not a MIMIC name: ignored
  touch(dir / "reports" / "p10" / "p10000001" / "s50000001.txt", "FINDINGS: Mild pulmonary vascular congestion.\n");
  touch(dir / "meta.csv",
        "dicom_id,subject_id,study_id,ViewPosition\naaaa-1111,10000001,50000001,PA\nbbbb-2222,10000001,50000001,LATERAL\n"
        "cccc-3333,10000001,50000002,AP\ndddd-4444,10000002,50000003,AP\n");
  touch(dir / "labels" / "regex_report_edema_severity.csv", "subject_id,study_id,edema_severity\n10000001,50000001,1\n10000001,50000002,2\n");
  touch(dir / "labels" / "expert_report_edema_severity.csv", "subject_id,study_id,edema_severity\n10000001,50000002,3\n");
  touch(dir / "labels" / "consensus_image_edema_severity.csv", "subject_id,study_id,dicom_id,edema_severity\n10000001,50000002,cccc-3333,0\n");
  touch(dir / "chexpert.csv",
        "subject_id,study_id,Atelectasis,Cardiomegaly,Consolidation,Edema,Enlarged Cardiomediastinum,Fracture,Lung Lesion,"
        "Lung Opacity,No Finding,Pleural Effusion,Pleural Other,Pneumonia,Pneumothorax,Support Devices\n"
        "10000001,50000001,,1.0,,1.0,,,,,,-1.0,,,0.0,\n");
  ImportReport rep;
  Manifest m = import_mimic({.images = (dir / "files").string(),
                             .edema_labels = (dir / "labels").string(),
                             .chexpert = (dir / "chexpert.csv").string(),
                             .metadata = (dir / "meta.csv").string(),
                             .reports = (dir / "reports").string(),
                             .manifest_dir = dir.string()},
                            &rep);
  REQUIRE(m.rows.size() == 3);
  CHECK(rep.dropped["view 'LATERAL' not frontal"] == 1);
  CHECK(rep.dropped["file name is not a MIMIC id"] == 1);
  CHECK(rep.dropped["same dicom id in another format"] == 1);
  std::map<std::string, ManifestRow> by;
  for (const auto& r : m.rows) by[r.id] = r;
  const auto& a = by.at("p10000001_s50000001_aaaa-1111");
  CHECK(a.image == "files/p10/p10000001/s50000001/aaaa-1111.jpg");
  CHECK(a.edema == 1);
  CHECK(a.extra.at("edema_source") == "regex");
  CHECK(a.chexpert[1] == 1);
  CHECK(a.chexpert[9] == -1);
  CHECK(a.chexpert[12] == 0);
  CHECK(a.chexpert[0] == -2);
  m.path = (dir / "m.csv").string();
  CHECK(m.report_text(a) == "FINDINGS: Mild pulmonary vascular congestion.\n");
  const auto& c = by.at("p10000001_s50000002_cccc-3333");
  CHECK(c.edema == 0);  // the image's consensus label wins over the expert (3) and regex (2) report labels
  CHECK(c.extra.at("edema_expert") == "3");
  CHECK(c.extra.at("edema_regex") == "2");
  const auto& d = by.at("p10000002_s50000003_dddd-4444");
  CHECK(d.image.size() > 4);
  CHECK(d.image.substr(d.image.size() - 4) == ".jpg");
  CHECK(d.edema == -1);
  // Consensus patients forced into test.
  SplitOptions so;
  so.test_fraction = 0;
  so.val_fraction = 0;
  so.test_patients = {"10000001"};
  assign_splits(m, so);
  for (const auto& r : m.rows) CHECK(r.split == (r.patient_id == "10000001" ? "test" : "train"));
  // --labelled-only
  Manifest lab = import_mimic({.images = (dir / "files").string(), .edema_labels = (dir / "labels").string(), .labelled_only = true});
  CHECK(lab.rows.size() == 3);  // no view filter: the lateral is kept; dddd has no label
  fs::remove_all(dir);
}

TEST_CASE("parse_mimic_path reads both layouts") {
  std::string s, st, d;
  CHECK(parse_mimic_path("/x/p10000032_s50414267_02aa804e-bde0afdd.png", s, st, d));
  CHECK((s == "10000032" && st == "50414267" && d == "02aa804e-bde0afdd"));
  CHECK(parse_mimic_path("files/p10/p10000032/s50414267/02aa804e.jpg", s, st, d));
  CHECK((s == "10000032" && st == "50414267" && d == "02aa804e"));
  CHECK(!parse_mimic_path("files/p10/p10000032/notes.png", s, st, d));
  CHECK(!parse_mimic_path("pXX_s1_2.png", s, st, d));
}
