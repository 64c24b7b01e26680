// manifest.cpp — see manifest.h.
#include "data/manifest.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <set>

#include "tensor/error.h"
#include "tensor/file_io.h"
#include "tensor/random.h"
#include "text/csv.h"

namespace cxr::data {

const std::array<const char*, 14> kChexpertNames = {
    "Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "EnlargedCardiomediastinum", "Fracture", "LungLesion",
    "LungOpacity", "NoFinding",    "PleuralEffusion", "PleuralOther", "Pneumonia", "Pneumothorax", "SupportDevices"};

const std::array<const char*, 7> kManifestColumns = {"id", "image", "report", "patient_id", "study_id", "split", "edema"};

namespace {

// An integer written as "2", "-1", "1.0", "-2.0"; nullopt-like false for anything else.
bool parse_label(const std::string& s, int& out) {
  if (s.empty()) return false;
  double v = 0;
  const char* b = s.data();
  const char* e = s.data() + s.size();
  auto [p, ec] = std::from_chars(b, e, v);
  // (the range check before the cast: a huge value such as -3e32 does not fit an int; found by
  // tests/fuzz/fuzz_manifest.cpp under UBSan)
  if (ec != std::errc() || p != e || !std::isfinite(v) || v != std::floor(v) || std::fabs(v) > 1e6) return false;
  out = int(v);
  return true;
}

}  // namespace

std::string Manifest::directory() const {
  if (path.empty()) return ".";
  std::filesystem::path p(path);
  return p.has_parent_path() ? p.parent_path().string() : ".";
}

std::string Manifest::image_path(const ManifestRow& row) const {
  std::filesystem::path p(row.image);
  if (p.is_absolute()) return row.image;
  return (std::filesystem::path(directory()) / p).string();
}

std::string Manifest::report_text(const ManifestRow& row) const {
  if (row.report.empty() || row.report.find('\n') != std::string::npos || row.report.size() > 4096) return row.report;
  std::filesystem::path p(row.report);
  if (!p.is_absolute()) p = std::filesystem::path(directory()) / p;
  std::error_code ec;
  if (std::filesystem::is_regular_file(p, ec)) return read_file(p.string());
  return row.report;
}

std::string Manifest::where(const ManifestRow& row) const {
  return (path.empty() ? std::string("<manifest>") : path) + ":" + std::to_string(row.line);
}

Manifest read_manifest(const std::string& path) {
  text::CsvTable t = text::read_csv(path);
  Manifest m;
  m.path = path;
  // A column named twice is ambiguous (which one is the image?); extra columns are kept by name,
  // so a repeated one would silently lose values (found by tests/fuzz/fuzz_manifest.cpp).
  for (size_t c = 0; c < t.header.size(); ++c)
    for (size_t d = 0; d < c; ++d)
      if (t.header[d] == t.header[c])
        fail(path, ": column '", t.header[c], "' appears twice (columns ", d + 1, " and ", c + 1, ")");
  std::array<int64_t, 7> fixed;
  for (size_t c = 0; c < fixed.size(); ++c) fixed[c] = t.require_column(kManifestColumns[c]);
  std::array<int64_t, 14> chex;
  for (size_t c = 0; c < chex.size(); ++c) chex[c] = t.column(kChexpertNames[c]);
  std::set<int64_t> known(fixed.begin(), fixed.end());
  for (int64_t c : chex)
    if (c >= 0) known.insert(c);
  std::vector<int64_t> extras;
  for (size_t c = 0; c < t.header.size(); ++c)
    if (!known.count(int64_t(c))) extras.push_back(int64_t(c)), m.extra_columns.push_back(t.header[c]);
  std::set<std::string> ids;
  m.rows.reserve(t.rows.size());
  for (size_t r = 0; r < t.rows.size(); ++r) {
    const auto& rec = t.rows[r];
    ManifestRow row;
    row.line = t.lines[r];
    row.id = rec[size_t(fixed[0])];
    row.image = rec[size_t(fixed[1])];
    row.report = rec[size_t(fixed[2])];
    row.patient_id = rec[size_t(fixed[3])];
    row.study_id = rec[size_t(fixed[4])];
    row.split = rec[size_t(fixed[5])];
    if (row.id.empty()) fail(t.where(r), ": empty id");
    if (!ids.insert(row.id).second) fail(t.where(r), ": duplicate id '", row.id, "'");
    const std::string& e = rec[size_t(fixed[6])];
    if (!e.empty() && (!parse_label(e, row.edema) || row.edema < -1 || row.edema > 3))
      fail(t.where(r), ": edema must be -1 (unlabelled) or 0..3, got '", e, "'");
    for (size_t c = 0; c < chex.size(); ++c) {
      if (chex[c] < 0) continue;
      const std::string& v = rec[size_t(chex[c])];
      if (v.empty()) continue;
      int x = 0;
      if (!parse_label(v, x) || x < -2 || x > 1)
        fail(t.where(r), ": ", kChexpertNames[c], " must be -2, -1, 0 or 1, got '", v, "'");
      row.chexpert[c] = x;
    }
    for (size_t k = 0; k < extras.size(); ++k) row.extra[m.extra_columns[k]] = rec[size_t(extras[k])];
    m.rows.push_back(std::move(row));
  }
  return m;
}

void write_manifest(const std::string& path, const Manifest& m) {
  std::vector<std::string> header(kManifestColumns.begin(), kManifestColumns.end());
  header.insert(header.end(), kChexpertNames.begin(), kChexpertNames.end());
  for (const auto& x : m.extra_columns) {
    CXR_CHECK(std::find(header.begin(), header.end(), x) == header.end(), path, ": extra column '", x,
              "' duplicates a fixed column");
    header.push_back(x);
  }
  std::vector<std::vector<std::string>> rows;
  rows.reserve(m.rows.size());
  std::set<std::string> ids;
  for (const auto& r : m.rows) {
    CXR_CHECK(!r.id.empty() && ids.insert(r.id).second, path, ": empty or duplicate id '", r.id, "'");
    CXR_CHECK(r.edema >= -1 && r.edema <= 3, path, ": row ", r.id, " has edema ", r.edema);
    std::vector<std::string> rec = {r.id, r.image, r.report, r.patient_id, r.study_id, r.split, std::to_string(r.edema)};
    for (int v : r.chexpert) {
      CXR_CHECK(v >= -2 && v <= 1, path, ": row ", r.id, " has a CheXpert value ", v);
      rec.push_back(std::to_string(v));
    }
    for (const auto& x : m.extra_columns) {
      auto it = r.extra.find(x);
      rec.push_back(it == r.extra.end() ? "" : it->second);
    }
    rows.push_back(std::move(rec));
  }
  text::write_csv(path, header, rows);
}

void assign_splits(Manifest& m, const SplitOptions& o) {
  CXR_CHECK(o.test_fraction >= 0 && o.val_fraction >= 0 && o.test_fraction + (o.folds > 0 ? 0 : o.val_fraction) <= 1,
            "assign_splits: invalid fractions test ", o.test_fraction, ", val ", o.val_fraction);
  CXR_CHECK(o.folds >= 0 && o.folds <= 100, "assign_splits: folds must be in 0..100, got ", o.folds);
  auto key = [](const ManifestRow& r) { return r.patient_id.empty() ? "\x01" + r.id : r.patient_id; };
  std::set<std::string> unique;
  for (const auto& r : m.rows) unique.insert(key(r));
  std::map<std::string, std::string> split;
  std::vector<std::string> patients;  // sorted
  for (const auto& p : unique) {
    if (o.test_patients.count(p)) {
      split[p] = "test";
    } else {
      patients.push_back(p);
    }
  }
  // Fisher-Yates with Philox draws: patient order depends only on (seed, the set of patients).
  Generator gen(o.seed);
  for (size_t i = patients.size(); i > 1; --i) {
    size_t j = size_t(gen.integer(gen.reserve(1), 0, int64_t(i)));
    std::swap(patients[i - 1], patients[j]);
  }
  const size_t P = patients.size();
  const size_t n_test = size_t(std::llround(o.test_fraction * double(P)));
  const size_t n_val = o.folds > 0 ? 0 : size_t(std::llround(o.val_fraction * double(P)));
  for (size_t i = 0; i < P; ++i) {
    if (i < n_test) {
      split[patients[i]] = "test";
    } else if (o.folds > 0) {
      split[patients[i]] = "fold" + std::to_string((i - n_test) % size_t(o.folds) + 1);
    } else {
      split[patients[i]] = i < n_test + n_val ? "val" : "train";
    }
  }
  for (auto& r : m.rows) r.split = split[key(r)];
}

}  // namespace cxr::data
