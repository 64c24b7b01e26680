// test_phantom.cpp — data/phantom: the plan (prevalences, patients and studies, prefix-stable),
// deterministic rendering, each finding changing the image where its sign belongs (lung fields for
// edema, the heart region for cardiomegaly, the bases for effusion, the lateral lung for
// pneumothorax), reports that state the findings, and the `cxr phantom` CLI end to end.
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>

#include "data/image.h"
#include "data/manifest.h"
#include "data/montage.h"
#include "data/phantom.h"
#include "tensor/file_io.h"
#include "testing.h"

using namespace cxr;
using namespace cxr::data;
using namespace cxr::testing;

namespace {

std::string lower(std::string s) {
  for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Mean of x (H, W) over the box [y0, y1) x [x0, x1) given as fractions of the size.
double box_mean(const Tensor& x, double y0, double y1, double x0, double x1) {
  const int64_t S = x.size(0);
  const float* p = x.contiguous().data<float>();
  double sum = 0;
  int64_t n = 0;
  for (int64_t i = int64_t(y0 * S); i < int64_t(y1 * S); ++i)
    for (int64_t j = int64_t(x0 * S); j < int64_t(x1 * S); ++j) sum += p[i * S + j], ++n;
  return sum / double(n);
}

// A quiet, centred, upright phantom with no findings, to vary one finding at a time.
PhantomImage base_image() {
  PhantomImage im = plan_phantoms(1, 11)[0];
  im.findings = PhantomFindings{};
  im.has_prior = false;
  im.acquisition = PhantomAcquisition{};
  im.acquisition.marker = false;
  im.anatomy.heart_ctr = 0.45;
  return im;
}

PhantomOptions quiet(int64_t size = 128) {
  PhantomOptions o;
  o.size = size;
  o.noise = 0;
  return o;
}

}  // namespace

TEST_CASE("plan_phantoms: prevalences, patients with several studies, prefix-stable") {
  const auto plan = plan_phantoms(3000, 42);
  REQUIRE(plan.size() == 3000);
  std::map<int, int> edema;
  int cardiomegaly = 0, effusion = 0, ptx = 0, consolidation = 0, devices = 0, with_prior = 0;
  std::set<std::string> ids, patients, studies;
  for (const auto& im : plan) {
    edema[im.findings.edema]++;
    cardiomegaly += im.findings.cardiomegaly;
    effusion += im.findings.effusion();
    ptx += im.findings.pneumothorax != Side::None;
    consolidation += im.findings.consolidation != Lobe::None;
    devices += im.findings.devices.any();
    with_prior += im.has_prior;
    ids.insert(im.id);
    patients.insert(im.patient_id);
    studies.insert(im.study_id);
    CHECK(im.id.rfind("p" + im.patient_id + "_s" + im.study_id + "_", 0) == 0);
  }
  CHECK(ids.size() == 3000);
  CHECK(patients.size() > 900);
  CHECK(patients.size() < 1500);  // 1..4 visits per patient
  CHECK(studies.size() > 2600);   // a few studies have two images
  CHECK(studies.size() < 3000);
  CHECK(with_prior > 1000);
  const PhantomPrevalence pv;
  for (int e = 0; e < 4; ++e) CHECK(edema[e] / 3000.0 == doctest::Approx(pv.edema[size_t(e)]).epsilon(0.15));
  CHECK(effusion / 3000.0 == doctest::Approx(pv.effusion).epsilon(0.2));
  CHECK(ptx / 3000.0 == doctest::Approx(pv.pneumothorax).epsilon(0.3));
  CHECK(consolidation / 3000.0 == doctest::Approx(pv.consolidation).epsilon(0.2));
  CHECK(devices / 3000.0 == doctest::Approx(pv.support_devices).epsilon(0.25));
  CHECK(cardiomegaly / 3000.0 == doctest::Approx(pv.cardiomegaly).epsilon(0.3));  // drawn per patient
  // The first images of a longer plan are the same images.
  const auto head = plan_phantoms(500, 42);
  for (size_t i = 0; i < head.size(); ++i) {
    CHECK(head[i].id == plan[i].id);
    CHECK(head[i].findings.edema == plan[i].findings.edema);
  }
  CHECK(plan_phantoms(10, 43)[0].id != plan[0].id);
  // Prevalences are configurable; invalid ones are refused.
  PhantomOptions none;
  none.prevalence = {.edema = {1, 0, 0, 0}, .cardiomegaly = 0, .effusion = 0, .pneumothorax = 0, .consolidation = 0, .support_devices = 0};
  for (const auto& im : plan_phantoms(200, 1, none)) {
    CHECK(im.findings.edema == 0);
    CHECK(!im.findings.cardiomegaly);
    CHECK(!im.findings.devices.any());
  }
  PhantomOptions bad;
  bad.prevalence.edema = {0.5, 0.5, 0.5, 0};
  CHECK_THROWS_AS(plan_phantoms(5, 1, bad), Error);
}

TEST_CASE("render_phantom: 16-bit range, deterministic, sizes") {
  const auto plan = plan_phantoms(3, 7);
  PhantomOptions o;
  o.size = 96;
  Tensor a = render_phantom(plan[1], o), b = render_phantom(plan[1], o), c = render_phantom(plan[2], o);
  CHECK(a.shape() == Shape{96, 96});
  CHECK(max_abs_diff(a, b) == 0);
  CHECK(max_abs_diff(a, c) > 0);
  auto v = a.to_vector();
  CHECK(*std::max_element(v.begin(), v.end()) == 65535);
  CHECK(*std::min_element(v.begin(), v.end()) >= 0);
  for (double x : v) CHECK(x == std::floor(x));
  CHECK(render_phantom(plan[0], quiet(64)).shape() == Shape{64, 64});
  PhantomOptions tiny;
  tiny.size = 8;
  CHECK_THROWS_AS(render_phantom(plan[0], tiny), Error);
}

TEST_CASE("render_phantom: each finding shows where its radiographic sign belongs") {
  const PhantomOptions o = quiet(128);
  const PhantomImage base = base_image();
  const Tensor normal = render_phantom(base, o);
  // Lung fields (both mid zones) brighten with every edema grade.
  double prev = box_mean(normal, 0.35, 0.55, 0.2, 0.4) + box_mean(normal, 0.35, 0.55, 0.6, 0.8);
  for (int e = 1; e <= 3; ++e) {
    PhantomImage im = base;
    im.findings.edema = e;
    Tensor x = render_phantom(im, o);
    double lungs = box_mean(x, 0.35, 0.55, 0.2, 0.4) + box_mean(x, 0.35, 0.55, 0.6, 0.8);
    INFO("edema ", e);
    CHECK(lungs > prev);
    prev = lungs;
  }
  // Cardiomegaly: the lower left lung field (image right) is taken by the heart.
  {
    PhantomImage im = base;
    im.findings.cardiomegaly = true;
    im.anatomy.heart_ctr = 0.66;
    CHECK(box_mean(render_phantom(im, o), 0.5, 0.7, 0.62, 0.78) > box_mean(normal, 0.5, 0.7, 0.62, 0.78) + 2000);
  }
  // A large right effusion whitens the right base (image left), not the left one.
  {
    PhantomImage im = base;
    im.findings.effusion_right = 3;
    Tensor x = render_phantom(im, o);
    CHECK(box_mean(x, 0.6, 0.75, 0.15, 0.35) > box_mean(normal, 0.6, 0.75, 0.15, 0.35) + 3000);
    CHECK(std::fabs(box_mean(x, 0.6, 0.7, 0.7, 0.85) - box_mean(normal, 0.6, 0.7, 0.7, 0.85)) < 300);
  }
  // A large left pneumothorax darkens the lateral left lung (image right).
  {
    PhantomImage im = base;
    im.findings.pneumothorax = Side::Left;
    im.findings.pneumothorax_size = 2;
    CHECK(box_mean(render_phantom(im, o), 0.25, 0.45, 0.75, 0.85) < box_mean(normal, 0.25, 0.45, 0.75, 0.85) - 500);
  }
  // A pacemaker puts metal (the brightest pixels) in the upper left chest (image right).
  {
    PhantomImage im = base;
    im.findings.devices.pacemaker = true;
    Tensor x = render_phantom(im, o);
    const int64_t S = x.size(0);
    auto v = x.to_vector();
    const int64_t k = std::max_element(v.begin(), v.end()) - v.begin();
    CHECK(double(k / S) / double(S) > 0.12);
    CHECK(double(k / S) / double(S) < 0.32);
    CHECK(double(k % S) / double(S) > 0.6);
    // and the rest of the image is darker after the 65535 / max scaling
    CHECK(box_mean(x, 0.4, 0.6, 0.2, 0.4) < box_mean(normal, 0.4, 0.6, 0.2, 0.4));
  }
}

TEST_CASE("write_phantom_report states the findings, negates the absent ones, and is per study") {
  const auto plan = plan_phantoms(800, 3);
  int checked = 0, typos = 0;
  for (const auto& im : plan) {
    const std::string r = write_phantom_report(im, 0.0), l = lower(r);
    typos += write_phantom_report(im) != r;
    INFO(r);
    CHECK(contains(r, "IMPRESSION:"));
    const auto& f = im.findings;
    if (f.pneumothorax != Side::None) CHECK(contains(l, "pneumothorax"));
    if (f.pneumothorax == Side::None && !f.effusion()) CHECK((contains(l, "no pneumothorax") || contains(l, "or pneumothorax") || contains(l, "pneumotho")));
    if (f.consolidation != Lobe::None) CHECK(contains(l, "lobe"));
    if (f.edema == 0 && !im.has_prior) CHECK(!contains(l, "kerley"));
    if (f.edema == 3) CHECK((contains(l, "severe") || contains(l, "alveolar") || contains(l, "infiltrat") || contains(l, "edema")));
    if (f.edema == 2) CHECK((contains(l, "interstitial") || contains(l, "kerley") || contains(l, "edema")));
    if (f.effusion()) CHECK((contains(l, "effusion") || contains(l, "costophrenic")));
    if (f.devices.pacemaker) CHECK(contains(l, "pacemaker"));
    if (im.has_prior) CHECK(contains(r, "COMPARISON:  ___.") + contains(r, "IMPRESSION:  ") >= 1);
    ++checked;
  }
  CHECK(checked == 800);
  CHECK(typos > 40);  // about 10% of reports
  CHECK(typos < 130);
  // Images of one study share the report; the report is a pure function of the plan.
  for (size_t i = 1; i < plan.size(); ++i)
    if (plan[i].study_id == plan[i - 1].study_id) CHECK(write_phantom_report(plan[i]) == write_phantom_report(plan[i - 1]));
  CHECK(write_phantom_report(plan[5]) == write_phantom_report(plan_phantoms(800, 3)[5]));
}

TEST_CASE("chexpert_labels follow the findings") {
  PhantomFindings f;
  auto l = chexpert_labels(f);
  CHECK(l[8] == 1);  // No Finding
  f.devices.central_line = true;
  l = chexpert_labels(f);
  CHECK(l[8] == 1);   // devices do not count against No Finding
  CHECK(l[13] == 1);  // Support Devices
  f.edema = 2;
  f.cardiomegaly = true;
  l = chexpert_labels(f);
  CHECK(l[8] == 0);
  CHECK(l[3] == 1);  // Edema
  CHECK(l[1] == 1);
  CHECK(l[4] == 1);  // Enlarged Cardiomediastinum
  CHECK(l[7] == 1);  // Lung Opacity
}

TEST_CASE("make_montage lays out tiles and captions") {
  Tensor img = full({10, 10}, 0.5);
  Tensor m = make_montage({{"EDEMA 0", {img, img}}, {"X", {img}}}, 20, 2, 50, 1);
  CHECK(m.shape() == Shape{2 * 22 + 2, 50 + 2 * 22 + 2});
  CHECK(m.select(0, 3).select(0, 55).item<float>() == doctest::Approx(0.5));  // inside the first tile
  Tensor caption = m.narrow(1, 0, 50);
  CHECK(caption.to_vector() != std::vector<double>(size_t(caption.numel()), 0.0));  // some text was drawn
}

TEST_CASE("cxr phantom writes images, reports and a manifest, whatever the thread count") {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("cxr_phantom_" + std::to_string(::getpid()));
  auto run = [&](const std::string& out, int threads) {
    std::string cmd = std::string(CXR_CLI_PATH) + " phantom --n 24 --seed 9 --size 64 --folds 3 --threads " +
                      std::to_string(threads) + " --out " + (dir / out).string() + " > /dev/null";
    return std::system(cmd.c_str());
  };
  REQUIRE(run("a", 1) == 0);
  REQUIRE(run("b", 2) == 0);
  Manifest a = read_manifest((dir / "a" / "manifest.csv").string());
  Manifest b = read_manifest((dir / "b" / "manifest.csv").string());
  REQUIRE(a.rows.size() == 24);
  std::set<std::string> splits;
  for (size_t i = 0; i < a.rows.size(); ++i) {
    const auto& r = a.rows[i];
    splits.insert(r.split);
    CHECK(r.id == b.rows[i].id);
    Image x = load_image(a.image_path(r)), y = load_image(b.image_path(b.rows[i]));
    CHECK(x.bit_depth == 16);
    CHECK(x.pixels.shape() == Shape{64, 64});
    CHECK(max_abs_diff(x.pixels, y.pixels) == 0);
    CHECK(contains(a.report_text(r), "IMPRESSION:"));
    CHECK(r.edema >= 0);
    CHECK(r.extra.count("ctr") == 1);
  }
  CHECK(splits.count("test") + splits.count("fold1") >= 1);
  CHECK(std::system((std::string(CXR_CLI_PATH) + " phantom --n 0 --out " + (dir / "c").string() + " 2> /dev/null").c_str()) != 0);
  fs::remove_all(dir);
}
