// test_manifest.cpp — data/manifest: write/read round trip with inline multi-line reports and
// extra columns, validation errors with file:line, report paths vs inline text, and patient-level
// splits (no patient in two splits, reproducible by seed, independent of row order, folds).
#include <filesystem>
#include <map>
#include <set>

#include "data/manifest.h"
#include "tensor/file_io.h"
#include "testing.h"

using namespace cxr;
using namespace cxr::data;
using namespace cxr::testing;

namespace {

Manifest sample(int patients, int images_per_patient) {
  Manifest m;
  for (int p = 0; p < patients; ++p)
    for (int i = 0; i < images_per_patient; ++i) {
      ManifestRow r;
      r.id = "p" + std::to_string(p) + "_i" + std::to_string(i);
      r.patient_id = "P" + std::to_string(1000 + p);
      r.study_id = r.patient_id + "s" + std::to_string(i);
      r.image = "images/" + r.id + ".png";
      m.rows.push_back(r);
    }
  return m;
}

}  // namespace

TEST_CASE("manifest: write and read back, with inline reports and extra targets") {
  const std::string dir = fresh_temp_dir("manifest_rt");
  Manifest m;
  m.extra_columns = {"severity", "view"};
  ManifestRow a;
  a.id = "a1";
  a.image = "images/a1.png";
  a.report = "FINDINGS: Mild pulmonary vascular congestion, \"new\".\nIMPRESSION: CHF.";
  a.patient_id = "7";
  a.study_id = "s1";
  a.split = "train";
  a.edema = 1;
  a.chexpert[3] = 1;
  a.chexpert[8] = 0;
  a.chexpert[13] = -1;
  a.extra = {{"severity", "2.5"}, {"view", "PA"}};
  ManifestRow b;
  b.id = "b2";
  b.image = "/abs/b2.png";
  b.report = "reports/b2.txt";
  m.rows = {a, b};
  const std::string path = dir + "/manifest.csv";
  write_manifest(path, m);
  std::filesystem::create_directories(dir + "/reports");
  write_file_atomic(dir + "/reports/b2.txt", "IMPRESSION: No acute process.\n");

  Manifest r = read_manifest(path);
  REQUIRE(r.rows.size() == 2);
  CHECK(r.extra_columns == m.extra_columns);
  CHECK(r.rows[0].report == a.report);
  CHECK(r.rows[0].edema == 1);
  CHECK(r.rows[0].chexpert == a.chexpert);
  CHECK(r.rows[0].extra == a.extra);
  CHECK(r.rows[0].line == 2);
  CHECK(r.rows[1].line == 4);  // row a's report spans two lines
  CHECK(r.rows[1].edema == -1);
  CHECK(r.rows[1].chexpert[0] == -2);
  CHECK(r.image_path(r.rows[0]) == dir + "/images/a1.png");
  CHECK(r.image_path(r.rows[1]) == "/abs/b2.png");
  CHECK(r.report_text(r.rows[0]) == a.report);                        // inline text
  CHECK(r.report_text(r.rows[1]) == "IMPRESSION: No acute process.\n");  // a file next to the manifest
  std::filesystem::remove_all(dir);
}

TEST_CASE("manifest: validation errors name the file and the line") {
  const std::string dir = fresh_temp_dir("manifest_bad");
  const std::string head =
      "id,image,report,patient_id,study_id,split,edema,Atelectasis,Cardiomegaly,Consolidation,Edema,EnlargedCardiomediastinum,"
      "Fracture,LungLesion,LungOpacity,NoFinding,PleuralEffusion,PleuralOther,Pneumonia,Pneumothorax,SupportDevices\n";
  const std::string ok = "x,x.png,,1,1,train,2,-2.0,1.0,0,,,,,,,,,,,\n";
  auto write = [&](const std::string& name, const std::string& body) {
    write_file_atomic(dir + "/" + name, body);
    return dir + "/" + name;
  };
  CHECK(read_manifest(write("ok.csv", head + ok)).rows[0].chexpert[1] == 1);
  CHECK(contains(error_of([&] { read_manifest(write("e.csv", head + ok + "y,y.png,,1,1,train,4,,,,,,,,,,,,,,\n")); }),
                 "e.csv:3: edema must be -1 (unlabelled) or 0..3, got '4'"));
  CHECK(contains(error_of([&] { read_manifest(write("d.csv", head + ok + ok)); }), "d.csv:3: duplicate id 'x'"));
  CHECK(contains(error_of([&] { read_manifest(write("c.csv", head + "z,z.png,,1,1,train,0,,2,,,,,,,,,,,,\n")); }),
                 "c.csv:2: Cardiomegaly must be -2, -1, 0 or 1, got '2'"));
  CHECK(contains(error_of([&] { read_manifest(write("n.csv", head + ",z.png,,1,1,train,0,,,,,,,,,,,,,,\n")); }), "n.csv:2: empty id"));
  CHECK(contains(error_of([&] { read_manifest(write("m.csv", "id,image\nx,y\n")); }), "m.csv: missing column 'report'"));
  std::filesystem::remove_all(dir);
}

TEST_CASE("assign_splits keeps patients whole, is reproducible by seed and independent of row order") {
  Manifest m = sample(200, 3);
  assign_splits(m, {.seed = 5, .test_fraction = 0.2, .val_fraction = 0.1});
  std::map<std::string, std::set<std::string>> splits_of;
  std::map<std::string, int> patients_in;
  for (const auto& r : m.rows) splits_of[r.patient_id].insert(r.split);
  for (const auto& [p, s] : splits_of) {
    CHECK(s.size() == 1);
    patients_in[*s.begin()]++;
  }
  CHECK(patients_in["test"] == 40);
  CHECK(patients_in["val"] == 20);
  CHECK(patients_in["train"] == 140);
  // Same seed and patients in another order: the same assignment. Another seed: a different one.
  Manifest shuffled = m;
  std::reverse(shuffled.rows.begin(), shuffled.rows.end());
  assign_splits(shuffled, {.seed = 5, .test_fraction = 0.2, .val_fraction = 0.1});
  std::map<std::string, std::string> a, b;
  for (const auto& r : m.rows) a[r.id] = r.split;
  for (const auto& r : shuffled.rows) b[r.id] = r.split;
  CHECK(a == b);
  Manifest other = m;
  assign_splits(other, {.seed = 6, .test_fraction = 0.2, .val_fraction = 0.1});
  int differ = 0;
  for (size_t i = 0; i < m.rows.size(); ++i) differ += m.rows[i].split != other.rows[i].split;
  CHECK(differ > 100);
}

TEST_CASE("assign_splits with folds, rows without a patient id are their own patient") {
  Manifest m = sample(103, 2);
  m.rows[0].patient_id = "";
  assign_splits(m, {.seed = 1, .test_fraction = 0.15, .folds = 5});
  std::map<std::string, int> count;
  std::map<std::string, std::set<std::string>> splits_of;
  for (const auto& r : m.rows) {
    count[r.split]++;
    splits_of[r.patient_id.empty() ? r.id : r.patient_id].insert(r.split);
  }
  for (const auto& [p, s] : splits_of) CHECK(s.size() == 1);
  CHECK(count.size() == 6);  // test + fold1..fold5
  CHECK(count.count("fold5") == 1);
  CHECK(count.count("train") == 0);
  // 104 patients: 16 test, 88 in 5 folds of 17 or 18 patients
  int fold_patients = 0;
  for (const auto& [p, s] : splits_of) fold_patients += s.begin()->rfind("fold", 0) == 0;
  CHECK(fold_patients == 88);
  CHECK_THROWS_AS(assign_splits(m, {.test_fraction = 0.8, .val_fraction = 0.5}), Error);
}
