// phantom.cpp — `cxr phantom`: a synthetic chest X-ray dataset with ground truth (data/phantom.h).
//   cxr phantom --n N --seed S [--size 256] --out DIR [--threads T] [--folds K] [--p-... prevalences]
// writes DIR/images/<id>.png (16-bit), DIR/reports/s<study>.txt and DIR/manifest.csv (the manifest
// format of docs/DATA-PIPELINE.md, patient-level splits, extra ground-truth columns). The dataset
// depends only on (n, seed, size, prevalences): not on --threads.
//   cxr phantom --contact-sheet PNG [--findings-sheet PNG] [--columns 6] [--seed S]
// writes an 8-bit montage of phantoms by edema severity (rows 0..3) and/or by finding.
// Exit code 0, or 2 on bad arguments or an I/O error.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include "apps/command.h"
#include "data/image.h"
#include "data/manifest.h"
#include "data/montage.h"
#include "data/phantom.h"
#include "ops/ops.h"
#include "tensor/file_io.h"

namespace cxr::apps {
namespace {

struct PhantomCliOptions {
  int64_t n = 0;
  uint64_t seed = 0;
  int64_t size = 256;
  std::string out;
  int64_t threads = 0;
  data::SplitOptions split;
  std::string p_edema = "0.42,0.22,0.23,0.13";
  data::PhantomOptions phantom;
  std::string contact_sheet, findings_sheet;
  int64_t columns = 6;
};

const char* lobe_name(data::Lobe l) {
  static const char* names[] = {"", "RUL", "RML", "RLL", "LUL", "LLL"};
  return names[int(l)];
}

data::Manifest phantom_manifest(const std::vector<data::PhantomImage>& plan, const data::SplitOptions& split) {
  data::Manifest m;
  m.extra_columns = {"view",         "sex",         "age",          "ctr",          "effusion_right", "effusion_left",
                     "pneumothorax", "pneumothorax_size", "consolidation_lobe", "endotracheal_tube", "enteric_tube",
                     "central_line", "pacemaker",   "visit",        "prior_edema"};
  for (const auto& img : plan) {
    data::ManifestRow r;
    const auto& f = img.findings;
    r.id = img.id;
    r.image = "images/" + img.id + ".png";
    r.report = "reports/s" + img.study_id + ".txt";
    r.patient_id = img.patient_id;
    r.study_id = img.study_id;
    r.edema = f.edema;
    auto labels = data::chexpert_labels(f);
    for (size_t c = 0; c < 14; ++c) r.chexpert[c] = labels[c];
    char ctr[16];
    std::snprintf(ctr, sizeof ctr, "%.3f", img.anatomy.heart_ctr);
    r.extra = {{"view", img.acquisition.portable_ap ? "AP" : "PA"},
               {"sex", img.anatomy.male ? "M" : "F"},
               {"age", std::to_string(img.anatomy.age)},
               {"ctr", ctr},
               {"effusion_right", std::to_string(f.effusion_right)},
               {"effusion_left", std::to_string(f.effusion_left)},
               {"pneumothorax", f.pneumothorax == data::Side::Right ? "right" : f.pneumothorax == data::Side::Left ? "left" : ""},
               {"pneumothorax_size", std::to_string(f.pneumothorax_size)},
               {"consolidation_lobe", lobe_name(f.consolidation)},
               {"endotracheal_tube", f.devices.endotracheal_tube ? "1" : "0"},
               {"enteric_tube", f.devices.enteric_tube ? "1" : "0"},
               {"central_line", f.devices.central_line ? "1" : "0"},
               {"pacemaker", f.devices.pacemaker ? "1" : "0"},
               {"visit", std::to_string(img.visit)},
               {"prior_edema", img.has_prior ? std::to_string(img.prior.edema) : "-1"}};
    m.rows.push_back(std::move(r));
  }
  data::assign_splits(m, split);
  return m;
}

int write_sheets(const PhantomCliOptions& o) {
  data::PhantomOptions po = o.phantom;
  auto tile = [&](const data::PhantomImage& img) { return data::render_phantom(img, po) / 65535.0; };
  if (!o.contact_sheet.empty()) {
    auto plan = data::plan_phantoms(64 * o.columns, o.seed, po);
    std::vector<data::MontageRow> rows(4);
    const char* names[] = {"EDEMA 0: NONE", "EDEMA 1: VASCULAR CONGESTION", "EDEMA 2: INTERSTITIAL", "EDEMA 3: ALVEOLAR"};
    for (int e = 0; e < 4; ++e) rows[size_t(e)].caption = names[e];
    // The edema rows show edema alone (no other finding, no device) so that its signs read clearly.
    for (const auto& img : plan) {
      const auto& f = img.findings;
      if (f.effusion() || f.pneumothorax != data::Side::None || f.consolidation != data::Lobe::None || f.devices.any()) continue;
      auto& row = rows[size_t(f.edema)];
      if (int64_t(row.images.size()) < o.columns) row.images.push_back(tile(img));
    }
    data::write_png(o.contact_sheet, data::make_montage(rows, po.size, 4, 180) * 255.0, 8);
    std::printf("wrote %s\n", o.contact_sheet.c_str());
  }
  if (!o.findings_sheet.empty()) {
    auto plan = data::plan_phantoms(400 * o.columns, o.seed + 1, po);
    std::vector<data::MontageRow> rows(6);
    const char* names[] = {"NO FINDING", "CARDIOMEGALY", "PLEURAL EFFUSION", "PNEUMOTHORAX", "CONSOLIDATION", "SUPPORT DEVICES"};
    for (int e = 0; e < 6; ++e) rows[size_t(e)].caption = names[e];
    for (const auto& img : plan) {
      const auto& f = img.findings;
      const bool ptx = f.pneumothorax != data::Side::None, cons = f.consolidation != data::Lobe::None;
      const int others = int(f.cardiomegaly) + int(f.effusion()) + int(ptx) + int(cons) + int(f.devices.any());
      int r = -1;
      if (f.edema == 0 && others == 0) r = 0;
      else if (f.edema == 0 && others == 1) r = f.cardiomegaly ? 1 : f.effusion() ? 2 : ptx ? 3 : cons ? 4 : 5;
      if (r < 0 || int64_t(rows[size_t(r)].images.size()) >= o.columns) continue;
      rows[size_t(r)].images.push_back(tile(img));
    }
    data::write_png(o.findings_sheet, data::make_montage(rows, po.size, 4, 180) * 255.0, 8);
    std::printf("wrote %s\n", o.findings_sheet.c_str());
  }
  return kExitOk;
}

int run_phantom(PhantomCliOptions o) {
  // --p-edema: four probabilities
  {
    std::stringstream ss(o.p_edema);
    std::string item;
    std::vector<double> p;
    while (std::getline(ss, item, ',')) p.push_back(std::stod(item));
    if (p.size() != 4) throw Error("--p-edema needs four comma-separated probabilities (edema 0,1,2,3), got '" + o.p_edema + "'");
    for (size_t i = 0; i < 4; ++i) o.phantom.prevalence.edema[i] = p[i];
  }
  o.phantom.size = o.size;
  o.split.seed = o.seed;
  if (!o.contact_sheet.empty() || !o.findings_sheet.empty()) {
    write_sheets(o);
    if (o.out.empty()) return kExitOk;
  }
  if (o.out.empty() || o.n <= 0) throw Error("give --out DIR and --n N > 0 (or --contact-sheet PNG)");
  namespace fs = std::filesystem;
  fs::create_directories(fs::path(o.out) / "images");
  fs::create_directories(fs::path(o.out) / "reports");
  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<data::PhantomImage> plan = data::plan_phantoms(o.n, o.seed, o.phantom);

  // Render and write in parallel; each image is a pure function of (seed, index).
  std::atomic<int64_t> next{0};
  std::mutex error_mutex;
  std::string first_error;
  auto worker = [&] {
    for (;;) {
      const int64_t i = next.fetch_add(1);
      if (i >= int64_t(plan.size())) return;
      try {
        const auto& img = plan[size_t(i)];
        data::write_png((fs::path(o.out) / "images" / (img.id + ".png")).string(), data::render_phantom(img, o.phantom), 16);
        // The first image of a study writes the study's report.
        if (i == 0 || plan[size_t(i - 1)].study_id != img.study_id)
          write_file_atomic((fs::path(o.out) / "reports" / ("s" + img.study_id + ".txt")).string(), data::write_phantom_report(img));
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (first_error.empty()) first_error = e.what();
        next = int64_t(plan.size());
      }
    }
  };
  int64_t threads = o.threads > 0 ? o.threads : int64_t(std::max(1u, std::thread::hardware_concurrency()));
  threads = std::min<int64_t>(threads, int64_t(plan.size()));
  std::vector<std::thread> pool;
  for (int64_t t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
  if (!first_error.empty()) throw Error(first_error);

  data::Manifest m = phantom_manifest(plan, o.split);
  data::write_manifest((fs::path(o.out) / "manifest.csv").string(), m);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::set<std::string> studies;
  for (const auto& img : plan) studies.insert(img.study_id);
  std::map<int, int64_t> by_edema;
  for (const auto& img : plan) by_edema[img.findings.edema]++;
  std::printf("wrote %zu images (%lld patients, %zu studies; edema 0/1/2/3: %lld/%lld/%lld/%lld) to %s in %.2f s "
              "(%.1f images/s, %lld threads)\n",
              plan.size(), (long long)(plan.empty() ? 0 : plan.back().patient + 1), studies.size(), (long long)by_edema[0],
              (long long)by_edema[1], (long long)by_edema[2], (long long)by_edema[3], o.out.c_str(), secs, double(plan.size()) / secs,
              (long long)threads);
  return kExitOk;
}

CommandRegistration registration(
    "phantom", "synthetic frontal chest X-rays with ground-truth findings, reports and a manifest", [](CLI::App& sub) {
      auto o = std::make_shared<PhantomCliOptions>();
      sub.add_option("--n", o->n, "number of images");
      sub.add_option("--seed", o->seed, "seed: the dataset is a function of (n, seed, size, prevalences)");
      sub.add_option("--size", o->size, "image side in pixels")->check(CLI::Range(32, 4096));
      sub.add_option("--out", o->out, "output directory (images/, reports/, manifest.csv)");
      sub.add_option("--threads", o->threads, "worker threads (default: all cores); does not change the output");
      sub.add_option("--test-fraction", o->split.test_fraction, "fraction of patients in the test split")->check(CLI::Range(0.0, 1.0));
      sub.add_option("--val-fraction", o->split.val_fraction, "fraction of patients in the val split")->check(CLI::Range(0.0, 1.0));
      sub.add_option("--folds", o->split.folds, "K > 0: splits test and fold1..foldK instead of train/val/test")->check(CLI::Range(0, 100));
      sub.add_option("--p-edema", o->p_edema, "P(edema = 0,1,2,3), comma-separated");
      auto& pv = o->phantom.prevalence;
      sub.add_option("--p-cardiomegaly", pv.cardiomegaly, "prevalence of cardiomegaly (per patient)")->check(CLI::Range(0.0, 1.0));
      sub.add_option("--p-effusion", pv.effusion, "prevalence of pleural effusion")->check(CLI::Range(0.0, 1.0));
      sub.add_option("--p-pneumothorax", pv.pneumothorax, "prevalence of pneumothorax")->check(CLI::Range(0.0, 1.0));
      sub.add_option("--p-consolidation", pv.consolidation, "prevalence of consolidation")->check(CLI::Range(0.0, 1.0));
      sub.add_option("--p-devices", pv.support_devices, "prevalence of support devices")->check(CLI::Range(0.0, 1.0));
      sub.add_option("--edema-correlation", pv.edema_correlation, "k in P(x | edema e) ~ 1 + k e for cardiomegaly and effusion (0: independent)")
          ->check(CLI::Range(0.0, 10.0));
      sub.add_option("--noise", o->phantom.noise, "quantum noise multiplier (0: none)")->check(CLI::Range(0.0, 10.0));
      sub.add_option("--contact-sheet", o->contact_sheet, "write a PNG montage of phantoms by edema severity");
      sub.add_option("--findings-sheet", o->findings_sheet, "write a PNG montage of phantoms by finding");
      sub.add_option("--columns", o->columns, "images per montage row")->check(CLI::Range(1, 32));
      return [o] { return run_phantom(*o); };
    });

}  // namespace
}  // namespace cxr::apps
