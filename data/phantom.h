// phantom.h — the synthetic chest X-ray generator: frontal radiographs (a cartoon of the anatomy
// and of each finding's radiographic signs) with ground truth, and a free-text report per study.
//   plan_phantoms: n images -> patients, their studies (visits) and images, findings drawn per visit
//   render_phantom: one image (size, size) float32 with values 0..65535 (as the reference's PNGs:
//                   65535 * img / max)
//   write_phantom_report: the study's report, MIMIC-CXR style, from its findings and the prior's
// Everything is a pure function of (seed, index): plan_phantoms is sequential and cheap, each image
// draws from its own Philox stream, so a dataset does not depend on the number of threads.
// The drawing model and the report grammar are described in docs/PHANTOM.md.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace cxr::data {

// Prevalences (marginal probabilities per study). Cardiomegaly and effusion are correlated with
// edema (heart failure): P(x | edema e) = p * (1 + k e) / E[1 + k e], with the mean over the edema
// distribution, so that the marginal stays p (up to clipping at 1).
struct PhantomPrevalence {
  std::array<double, 4> edema = {0.42, 0.22, 0.23, 0.13};  // P(edema = 0, 1, 2, 3)
  double cardiomegaly = 0.30;
  double effusion = 0.25;
  double pneumothorax = 0.06;
  double consolidation = 0.15;
  double support_devices = 0.30;
  double edema_correlation = 0.6;  // k above; 0 makes the findings independent
};

struct PhantomOptions {
  int64_t size = 256;
  PhantomPrevalence prevalence;
  double noise = 1.0;  // multiplies the quantum noise (0: noiseless)
  double max_studies_per_patient = 4;
};

// Support devices, each drawn with its own share of P(support devices).
struct PhantomDevices {
  bool endotracheal_tube = false;
  bool enteric_tube = false;
  bool central_line = false;
  bool pacemaker = false;
  bool any() const { return endotracheal_tube || enteric_tube || central_line || pacemaker; }
};

enum class Side { None = 0, Right = 1, Left = 2, Both = 3 };  // the patient's right/left
enum class Lobe { None = 0, RUL, RML, RLL, LUL, LLL };

struct PhantomFindings {
  int edema = 0;                  // 0 none, 1 vascular congestion, 2 interstitial, 3 alveolar
  bool cardiomegaly = false;
  int effusion_right = 0;         // 0 none, 1 small, 2 moderate, 3 large
  int effusion_left = 0;
  Side pneumothorax = Side::None;  // Right or Left
  int pneumothorax_size = 0;       // 1 small (apical), 2 large
  Lobe consolidation = Lobe::None;
  PhantomDevices devices;

  bool effusion() const { return effusion_left > 0 || effusion_right > 0; }
};

// The 14 CheXpert columns in METHODS.md §1 order (kChexpertNames in manifest.h), as ground
// truth: 1 present, 0 absent (findings the generator never draws are 0).
std::array<int, 14> chexpert_labels(const PhantomFindings& f);

// Per-patient anatomy (kept across visits) and per-image acquisition.
struct PhantomAnatomy {
  double thorax_half_width = 0.37;  // lateral lung wall, fraction of the image width
  double apex_y = 0.15, dome_right_y = 0.72, dome_left_y = 0.74, costophrenic_depth = 0.08;
  double mediastinum_half_width = 0.055;
  double heart_ctr = 0.46;  // cardiothoracic ratio of the true heart
  double heart_tilt = 0.5;  // radians
  double body_margin = 0.08;
  double breast = 0;        // 0 none .. 1 prominent breast shadows
  bool male = true;
  int age = 60;
  uint64_t vessel_seed = 0;  // the patient's pulmonary vessel tree
};

struct PhantomAcquisition {
  bool portable_ap = false;  // AP portable (vs PA): magnified heart, scapulae over the lungs
  double rotation_deg = 0, scale = 1, shift_x = 0, shift_y = 0;
  double inspiration = 0;    // shifts the diaphragm, fraction of the image height
  double exposure = 1.6, gamma = 1.0, scatter = 0.0, noise = 0.012;
  bool marker = true;        // the burned-in "L" laterality marker
};

struct PhantomImage {
  std::string id;          // p{patient}_s{study}_{image}
  std::string patient_id;  // 8 digits
  std::string study_id;    // 8 digits
  int64_t patient = 0;     // index of the patient in the plan
  int64_t visit = 0;       // 0 for the first study of the patient
  int64_t index = 0;       // image index in the dataset (drives the image's random stream)
  PhantomAnatomy anatomy;
  PhantomAcquisition acquisition;
  PhantomFindings findings;
  bool has_prior = false;
  PhantomFindings prior;   // the previous visit's findings (has_prior)
  uint64_t seed = 0;       // the dataset seed
};

// The dataset plan: n images, patients with 1..max_studies_per_patient visits, one frontal image
// per study (a second, re-positioned one for 8% of studies).
std::vector<PhantomImage> plan_phantoms(int64_t n, uint64_t seed, const PhantomOptions& options = {});

// The radiograph, (size, size) float32 in [0, 65535] with max 65535.
Tensor render_phantom(const PhantomImage& image, const PhantomOptions& options = {});

// The report for the image's study (deterministic from the plan: images of one study share it).
// A fraction typo_rate of reports gets one or two typos (swapped, dropped or doubled letters).
std::string write_phantom_report(const PhantomImage& image, double typo_rate = 0.1);

}  // namespace cxr::data
