// importers.cpp — see importers.h.
#include "data/importers.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <functional>

#include "tensor/error.h"
#include "text/csv.h"

namespace cxr::data {

namespace fs = std::filesystem;

namespace {

// `target` as written in a manifest saved in `manifest_dir`: relative when it lies below that
// directory, absolute otherwise.
std::string path_for_manifest(const fs::path& target, const std::string& manifest_dir) {
  std::error_code ec;
  fs::path abs = fs::absolute(target, ec).lexically_normal();
  fs::path base = fs::absolute(manifest_dir.empty() ? "." : manifest_dir, ec).lexically_normal();
  fs::path rel = abs.lexically_relative(base);
  // Relative only below the manifest's directory; elsewhere absolute (no ../../ chains).
  if (rel.empty() || *rel.begin() == "..") return abs.string();
  return rel.string();
}

void drop(ImportReport* r, const std::string& reason) {
  if (r) r->dropped[reason]++;
}

std::string trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}

// A label cell: "", "nan", "NaN" -> -2 (absent); "-1", "-1.0", "0", "1.0" ... -> the integer.
int chexpert_value(const std::string& cell, const std::string& where, const std::string& column) {
  std::string s = trim(cell);
  if (s.empty() || s == "nan" || s == "NaN" || s == "NA") return -2;
  double v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v != std::floor(v) || v < -2 || v > 1)
    fail(where, ": ", column, " must be empty/NaN, -2, -1, 0 or 1, got '", cell, "'");
  return int(v);
}

std::string no_spaces(std::string s) {
  s.erase(std::remove(s.begin(), s.end(), ' '), s.end());
  return s;
}

// Union-find over patient ids.
struct Groups {
  std::map<std::string, std::string> parent;
  std::string find(const std::string& x) {
    auto it = parent.find(x);
    if (it == parent.end()) return parent[x] = x;
    if (it->second == x) return x;
    return it->second = find(it->second);
  }
  void unite(const std::string& a, const std::string& b) {
    std::string ra = find(a), rb = find(b);
    if (ra == rb) return;
    if (rb < ra) std::swap(ra, rb);
    parent[rb] = ra;
  }
};

}  // namespace

// ---- covid ----

Manifest import_covid(const CovidImportOptions& o, ImportReport* report) {
  text::CsvTable t = text::read_csv(o.metadata);
  const fs::path base = fs::path(o.metadata).has_parent_path() ? fs::path(o.metadata).parent_path() : fs::path(".");
  const int64_t c_id = t.require_column("image_id"), c_file = t.require_column("file"), c_patient = t.require_column("patientid");
  const int64_t c_view = t.require_column("view"), c_notes = t.require_column("clinical_notes");
  const std::vector<std::string> extras = {"offset", "sex", "age", "view", "finding", "geographic_extent", "opacity", "license"};
  for (const auto& e : extras) t.require_column(e);
  if (report) report->rows_read = int64_t(t.rows.size());

  // Patients that share an image are one patient.
  Groups groups;
  std::map<std::string, std::string> first_patient_of_image;
  for (const auto& row : t.rows) {
    const std::string& img = row[size_t(c_id)];
    const std::string& pat = row[size_t(c_patient)];
    groups.find(pat);
    auto [it, inserted] = first_patient_of_image.emplace(img, pat);
    if (!inserted && it->second != pat) groups.unite(it->second, pat);
  }
  std::map<std::string, std::set<std::string>> members;
  for (const auto& [p, _] : groups.parent) members[groups.find(p)].insert(p);

  Manifest m;
  m.path = (fs::path(o.manifest_dir.empty() ? "." : o.manifest_dir) / "manifest.csv").string();
  m.extra_columns = extras;
  m.extra_columns.push_back("patient_aliases");
  std::set<std::string> seen;
  for (size_t r = 0; r < t.rows.size(); ++r) {
    const auto& row = t.rows[r];
    const std::string id = row[size_t(c_id)];
    if (id.empty()) fail(t.where(r), ": empty image_id");
    if (!seen.insert(id).second) {
      drop(report, "duplicate image_id (kept the first row)");
      continue;
    }
    const std::string view = row[size_t(c_view)];
    if (!o.views.count(view)) {
      drop(report, "view '" + view + "' not frontal");
      continue;
    }
    const fs::path image = base / row[size_t(c_file)];
    std::error_code ec;
    if (o.require_image && !fs::is_regular_file(image, ec)) {
      drop(report, "image file missing");
      continue;
    }
    ManifestRow mr;
    mr.line = t.lines[r];
    mr.id = id;
    mr.image = path_for_manifest(image, o.manifest_dir);
    mr.report = row[size_t(c_notes)];
    const std::string group = groups.find(row[size_t(c_patient)]);
    std::string aliases;
    for (const auto& p : members[group]) aliases += (aliases.empty() ? "" : ";") + p;
    mr.patient_id = group;
    mr.study_id = group + "_" + row[size_t(t.column("offset"))];
    for (const auto& e : extras) mr.extra[e] = row[size_t(t.column(e))];
    mr.extra["patient_aliases"] = members[group].size() > 1 ? aliases : "";
    m.rows.push_back(std::move(mr));
  }
  if (report) {
    report->rows_kept = int64_t(m.rows.size());
    for (const auto& [g, s] : members)
      if (s.size() > 1) {
        std::string ids;
        for (const auto& p : s) ids += (ids.empty() ? "" : ", ") + p;
        report->notes.push_back("patients " + ids + " share images: merged into patient " + g);
      }
  }
  return m;
}

// ---- IU ----

Manifest import_iu(const IuImportOptions& o, ImportReport* report) {
  text::CsvTable t = text::read_csv(o.reports);
  const int64_t c_uid = t.require_column("uid"), c_find = t.require_column("findings"), c_imp = t.require_column("impression");
  const std::vector<std::string> extras = {"MeSH", "Problems", "indication", "comparison"};
  for (const auto& e : extras) t.require_column(e);
  std::map<std::string, std::string> frontal;
  if (!o.projections.empty()) {
    text::CsvTable p = text::read_csv(o.projections);
    const int64_t pu = p.require_column("uid"), pf = p.require_column("filename"), pp = p.require_column("projection");
    for (const auto& row : p.rows)
      if (row[size_t(pp)] == "Frontal") frontal.emplace(row[size_t(pu)], row[size_t(pf)]);  // the first frontal image
  }
  const fs::path base = fs::path(o.reports).has_parent_path() ? fs::path(o.reports).parent_path() : fs::path(".");
  const fs::path images = o.images_dir.empty() ? base / "images" : fs::path(o.images_dir);
  Manifest m;
  m.path = (fs::path(o.manifest_dir.empty() ? "." : o.manifest_dir) / "manifest.csv").string();
  m.extra_columns = extras;
  m.extra_columns.push_back("image_available");
  if (report) report->rows_read = int64_t(t.rows.size());
  std::set<std::string> seen;
  for (size_t r = 0; r < t.rows.size(); ++r) {
    const auto& row = t.rows[r];
    ManifestRow mr;
    mr.line = t.lines[r];
    mr.id = "iu" + row[size_t(c_uid)];
    if (row[size_t(c_uid)].empty()) fail(t.where(r), ": empty uid");
    if (!seen.insert(mr.id).second) fail(t.where(r), ": duplicate uid ", row[size_t(c_uid)]);
    // The text the reference labeler saw (DATA.md): "FINDINGS: " + findings + "\nIMPRESSION: " + impression + "\n".
    mr.report = "FINDINGS: " + row[size_t(c_find)] + "\nIMPRESSION: " + row[size_t(c_imp)] + "\n";
    mr.patient_id = row[size_t(c_uid)];  // the collection has one study per patient id
    mr.study_id = row[size_t(c_uid)];
    auto it = frontal.find(row[size_t(c_uid)]);
    std::error_code ec;
    if (it != frontal.end()) {
      mr.image = path_for_manifest(images / it->second, o.manifest_dir);
      mr.extra["image_available"] = fs::is_regular_file(images / it->second, ec) ? "1" : "0";
    } else {
      mr.extra["image_available"] = "0";
      if (!o.projections.empty()) drop(report, "no frontal image listed (kept, image empty)");
    }
    for (const auto& e : extras) mr.extra[e] = row[size_t(t.column(e))];
    m.rows.push_back(std::move(mr));
  }
  if (report) report->rows_kept = int64_t(m.rows.size());
  return m;
}

// ---- MIMIC ----

bool parse_mimic_path(const std::string& path, std::string& subject, std::string& study, std::string& dicom) {
  auto digits = [](const std::string& s, size_t from) {
    return s.size() > from && std::all_of(s.begin() + long(from), s.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
  };
  fs::path p(path);
  const std::string stem = p.stem().string();
  // Flat: p{subject}_s{study}_{dicom}
  if (stem.size() > 4 && stem[0] == 'p') {
    size_t a = stem.find('_'), b = a == std::string::npos ? a : stem.find('_', a + 1);
    if (b != std::string::npos && stem.compare(a + 1, 1, "s") == 0) {
      std::string s1 = stem.substr(1, a - 1), s2 = stem.substr(a + 2, b - a - 2), d = stem.substr(b + 1);
      if (digits(s1, 0) && digits(s2, 0) && !d.empty()) {
        subject = s1, study = s2, dicom = d;
        return true;
      }
    }
  }
  // Tree: .../p{subject}/s{study}/{dicom}.ext
  const std::string sdir = p.parent_path().filename().string(), pdir = p.parent_path().parent_path().filename().string();
  if (sdir.size() > 1 && sdir[0] == 's' && digits(sdir, 1) && pdir.size() > 1 && pdir[0] == 'p' && digits(pdir, 1) && !stem.empty()) {
    subject = pdir.substr(1), study = sdir.substr(1), dicom = stem;
    return true;
  }
  return false;
}

Manifest import_mimic(const MimicImportOptions& o, ImportReport* report) {
  // 1. Images.
  struct Found {
    std::string subject, study, dicom;
    fs::path path;
  };
  std::map<std::string, Found> images;  // by dicom id
  std::error_code ec;
  if (!fs::is_directory(o.images, ec)) fail(o.images, ": not a directory");
  std::vector<fs::path> files;
  for (auto it = fs::recursive_directory_iterator(o.images, fs::directory_options::skip_permission_denied, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    if (!it->is_regular_file(ec)) continue;
    std::string ext = it->path().extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    if (ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".dcm") files.push_back(it->path());
  }
  std::sort(files.begin(), files.end());
  if (report) report->rows_read = int64_t(files.size());
  for (const auto& f : files) {
    Found x;
    if (!parse_mimic_path(f.string(), x.subject, x.study, x.dicom)) {
      drop(report, "file name is not a MIMIC id");
      continue;
    }
    x.path = f;
    auto [it, inserted] = images.emplace(x.dicom, x);
    if (!inserted) {
      // The same image in several formats: prefer PNG, then JPEG, then DICOM.
      auto rank = [](const fs::path& p) {
        std::string e = p.extension().string();
        return e == ".png" ? 0 : (e == ".jpg" || e == ".jpeg") ? 1 : 2;
      };
      if (rank(f) < rank(it->second.path)) it->second = x;
      drop(report, "same dicom id in another format");
    }
  }

  // 2. Views.
  std::map<std::string, std::string> view_of;
  if (!o.metadata.empty()) {
    text::CsvTable t = text::read_csv(o.metadata);
    const int64_t c_d = t.require_column("dicom_id");
    int64_t c_v = t.column("ViewPosition");
    if (c_v < 0) c_v = t.require_column("view");
    for (const auto& row : t.rows) view_of[row[size_t(c_d)]] = row[size_t(c_v)];
  }

  // 3. Edema labels: report-level regex and expert, image-level consensus.
  std::map<std::string, int> regex, expert, consensus;  // study / study / dicom
  auto read_labels = [&](const std::string& file, bool by_image, std::map<std::string, int>& out) {
    const fs::path p = fs::path(o.edema_labels) / file;
    if (!fs::is_regular_file(p, ec)) {
      if (report) report->notes.push_back(p.string() + " not found: no such labels");
      return;
    }
    text::CsvTable t = text::read_csv(p.string());
    const int64_t c_s = t.require_column("study_id"), c_e = t.require_column("edema_severity");
    const int64_t c_d = by_image ? t.require_column("dicom_id") : -1;
    for (size_t r = 0; r < t.rows.size(); ++r) {
      double d = 0;
      const std::string& cell = t.rows[r][size_t(c_e)];
      auto [q, e2] = std::from_chars(cell.data(), cell.data() + cell.size(), d);
      if (e2 != std::errc() || q != cell.data() + cell.size() || d != std::floor(d) || d < 0 || d > 3) fail(t.where(r), ": edema_severity must be 0..3, got '", cell, "'");
      out[by_image ? t.rows[r][size_t(c_d)] : t.rows[r][size_t(c_s)]] = int(d);
    }
  };
  if (!o.edema_labels.empty()) {
    read_labels("regex_report_edema_severity.csv", false, regex);
    read_labels("expert_report_edema_severity.csv", false, expert);
    read_labels("consensus_image_edema_severity.csv", true, consensus);
  }

  // 4. CheXpert labels: by study (official file) or by mimic_id (the reference's files).
  std::map<std::string, std::array<int, 14>> chex_study, chex_image;
  if (!o.chexpert.empty()) {
    text::CsvTable t = text::read_csv(o.chexpert);
    std::array<int64_t, 14> cols;
    for (size_t c = 0; c < 14; ++c) {
      cols[c] = -1;
      for (size_t h = 0; h < t.header.size(); ++h)
        if (no_spaces(t.header[h]) == kChexpertNames[c]) cols[c] = int64_t(h);
      if (cols[c] < 0) fail(o.chexpert, ": missing column '", kChexpertNames[c], "'");
    }
    const int64_t c_mimic = t.column("mimic_id"), c_study = t.column("study_id");
    if (c_mimic < 0 && c_study < 0) fail(o.chexpert, ": needs a mimic_id or a study_id column");
    for (size_t r = 0; r < t.rows.size(); ++r) {
      std::array<int, 14> v;
      for (size_t c = 0; c < 14; ++c) v[c] = chexpert_value(t.rows[r][size_t(cols[c])], t.where(r), kChexpertNames[c]);
      if (c_mimic >= 0) {
        std::string s, st, d;
        if (!parse_mimic_path(t.rows[r][size_t(c_mimic)], s, st, d)) fail(t.where(r), ": mimic_id '", t.rows[r][size_t(c_mimic)], "' is not p{subject}_s{study}_{dicom}");
        chex_image[d] = v;
      } else {
        chex_study[t.rows[r][size_t(c_study)]] = v;
      }
    }
  }

  // 5. Reports s{study}.txt.
  std::map<std::string, fs::path> report_of;
  if (!o.reports.empty()) {
    for (auto it = fs::recursive_directory_iterator(o.reports, ec); it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (ec) break;
      const std::string name = it->path().filename().string();
      if (name.size() > 5 && name[0] == 's' && it->path().extension() == ".txt") report_of[it->path().stem().string().substr(1)] = it->path();
    }
  }

  Manifest m;
  m.path = (fs::path(o.manifest_dir.empty() ? "." : o.manifest_dir) / "manifest.csv").string();
  m.extra_columns = {"view", "edema_regex", "edema_expert", "edema_consensus", "edema_source"};
  for (const auto& [dicom, x] : images) {
    std::string view;
    if (!o.metadata.empty()) {
      auto v = view_of.find(dicom);
      if (v == view_of.end()) {
        drop(report, "no view metadata");
        continue;
      }
      view = v->second;
      if (!o.views.count(view)) {
        drop(report, "view '" + view + "' not frontal");
        continue;
      }
    }
    ManifestRow r;
    r.id = "p" + x.subject + "_s" + x.study + "_" + x.dicom;
    r.image = path_for_manifest(x.path, o.manifest_dir);
    r.patient_id = x.subject;
    r.study_id = x.study;
    auto rp = report_of.find(x.study);
    if (rp != report_of.end()) r.report = path_for_manifest(rp->second, o.manifest_dir);
    auto label = [](const std::map<std::string, int>& mm, const std::string& k) {
      auto it = mm.find(k);
      return it == mm.end() ? -1 : it->second;
    };
    const int ec_ = label(consensus, dicom), ee = label(expert, x.study), er = label(regex, x.study);
    // The best label available: the image's consensus, then the expert report label, then regex.
    r.edema = ec_ >= 0 ? ec_ : ee >= 0 ? ee : er;
    r.extra = {{"view", view},
               {"edema_regex", std::to_string(er)},
               {"edema_expert", std::to_string(ee)},
               {"edema_consensus", std::to_string(ec_)},
               {"edema_source", ec_ >= 0 ? "consensus" : ee >= 0 ? "expert" : er >= 0 ? "regex" : ""}};
    if (o.labelled_only && r.edema < 0) {
      drop(report, "no edema label");
      continue;
    }
    auto ci = chex_image.find(dicom);
    if (ci != chex_image.end()) {
      r.chexpert = ci->second;
    } else {
      auto cs = chex_study.find(x.study);
      if (cs != chex_study.end()) r.chexpert = cs->second;
    }
    m.rows.push_back(std::move(r));
  }
  if (report) report->rows_kept = int64_t(m.rows.size());
  return m;
}

}  // namespace cxr::data
