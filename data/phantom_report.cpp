// phantom_report.cpp — the free-text report of a phantom study, written from its findings (and the
// prior visit's, for comparisons) in MIMIC-CXR style: EXAMINATION / INDICATION / COMPARISON /
// FINDINGS / IMPRESSION, with varied phrasing, negations ("No pleural effusion."), uncertainty
// ("Possible ..."), comparisons ("Interval improvement ..."), de-identification blanks (___),
// hard line wraps in some reports and the occasional typo. The edema statements use the phrases of
// the regex labeler's keyword lists (METHODS.md §2) most of the time, so that the labeler can
// recover the level; a minority use other wordings, as real reports do (docs/PHANTOM.md).
#include <algorithm>
#include <cctype>
#include <cmath>
#include <initializer_list>

#include "data/phantom.h"
#include "tensor/random.h"

namespace cxr::data {

namespace {

uint64_t mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

class Words {
 public:
  explicit Words(uint64_t key) : gen_(key) {}
  double u() { return gen_.uniform(gen_.reserve(1)); }
  bool p(double prob) { return u() < prob; }
  int64_t i(int64_t lo, int64_t hi) { return gen_.integer(gen_.reserve(1), lo, hi); }
  std::string pick(std::initializer_list<const char*> options) {
    auto it = options.begin();
    std::advance(it, i(0, int64_t(options.size())));
    return *it;
  }

 private:
  Generator gen_;
};

std::string capitalize(std::string s) {
  if (!s.empty()) s[0] = char(std::toupper(static_cast<unsigned char>(s[0])));
  return s;
}

const char* side_word(bool right) { return right ? "right" : "left"; }
const char* grade_word(int g) { return g == 1 ? "small" : g == 2 ? "moderate" : "large"; }

// ---- edema ----

// A sentence stating edema level e (1..3), mostly with a keyword of the labeler's lists.
std::string edema_statement(Words& w, int e, bool impression) {
  if (e == 1) {
    if (w.p(0.1))  // off the RadiologyAI list ("mild" not before the phrase)
      return w.pick({"Pulmonary vascular congestion is mild.", "Pulmonary vascular engorgement is noted.",
                     "There is mild prominence of the pulmonary vasculature."});
    if (impression)
      return w.pick({"Mild pulmonary vascular congestion.", "Mild pulmonary vascular congestion.",
                     "Findings consistent with mild pulmonary vascular congestion.", "Cephalization, compatible with mild pulmonary vascular congestion."});
    return w.pick({"There is mild pulmonary vascular congestion.", "Mild pulmonary vascular congestion is present.",
                   "There is cephalization of the pulmonary vasculature, suggesting mild pulmonary vascular congestion.",
                   "Mild hilar engorgement and upper zone vascular redistribution are noted.",
                   "There is mild vascular plethora with cephalization.", "Possible mild pulmonary vascular congestion.",
                   "The upper lobe vessels are prominent, consistent with cephalization."});
  }
  if (e == 2) {
    if (w.p(0.1))
      return w.pick({"Moderate pulmonary edema.", "There is interstitial pulmonary edema.",
                     "Increased interstitial markings likely reflect edema."});
    if (impression)
      return w.pick({"Moderate interstitial edema.", "Interstitial edema.", "Findings consistent with interstitial edema.",
                     "Moderate pulmonary edema with Kerley B lines."});
    return w.pick({"There is moderate interstitial edema with Kerley B lines at the lung bases.",
                   "Hazy hila, peribronchial cuffing and Kerley B lines are consistent with interstitial edema.",
                   "Interstitial opacities with peribronchial cuffing, compatible with moderate pulmonary edema.",
                   "There is interstitial thickening with septal lines, in keeping with interstitial edema.",
                   "Kerley B lines are seen at both lung bases.",
                   "The hila are indistinct and there are bilateral interstitial opacities, likely interstitial edema."});
  }
  if (w.p(0.08))
    return w.pick({"Bilateral perihilar airspace opacities in a bat-wing distribution are consistent with alveolar edema.",
                   "Diffuse bilateral alveolar opacities."});
  if (impression)
    return w.pick({"Severe pulmonary edema.", "Severe pulmonary edema.", "Bilateral perihilar infiltrates consistent with severe pulmonary edema.",
                   "Alveolar infiltrates, compatible with severe pulmonary edema."});
  return w.pick({"There are bilateral perihilar infiltrates consistent with severe pulmonary edema.",
                 "Diffuse alveolar infiltrates in a perihilar distribution, compatible with alveolar edema.",
                 "Severe pulmonary edema with bilateral perihilar airspace opacities.",
                 "Confluent bilateral perihilar infiltrates with air bronchograms, likely severe pulmonary edema.",
                 "There is severe pulmonary edema."});
}

std::string no_edema(Words& w) {
  return w.pick({"No pulmonary edema.", "There is no pulmonary edema.", "No evidence of pulmonary edema.",
                 "No vascular congestion or pulmonary edema.", "There is no vascular congestion.", "No signs of fluid overload.",
                 "The pulmonary vasculature is normal without pulmonary edema."});
}

const char* level_name(int e) { return e == 1 ? "vascular congestion" : e == 2 ? "interstitial edema" : "pulmonary edema"; }

void edema_findings(Words& w, const PhantomImage& im, std::vector<std::string>& out) {
  const int e = im.findings.edema;
  if (!im.has_prior || (im.prior.edema == 0 && e == 0)) {
    if (e == 0) {
      if (w.p(0.8)) out.push_back(no_edema(w));
      return;
    }
    if (im.has_prior && w.p(0.5)) out.push_back(w.pick({"New ", "Interval development of "}) + std::string(e == 1 ? "pulmonary vascular congestion." : "pulmonary edema."));
    out.push_back(edema_statement(w, e, false));
    return;
  }
  const int pe = im.prior.edema;
  if (e == pe) {
    out.push_back(w.pick({"Compared to the prior study, ", "As compared to the previous radiograph, ", ""}) +
                  w.pick({"there is little change.", "findings are similar.", "no substantial change is seen."}));
    out.push_back(edema_statement(w, e, false));
    if (w.p(0.5)) out.push_back(capitalize(level_name(e)) + " is " + w.pick({"unchanged.", "stable.", "persistent."}));
  } else if (e < pe) {
    // Naming the prior level ("improving interstitial edema") would read as that level to a keyword
    // labeler; radiologists do write it, so a fifth of the reports do.
    const std::string prior_name = w.p(0.2) ? level_name(pe) : "pulmonary edema";
    out.push_back(w.pick({"Interval improvement in ", "Improving ", "Compared to the prior study, there is decreased "}) + prior_name + ".");
    if (e == 0) {
      out.push_back("Previously seen " + prior_name + w.pick({" has resolved.", " has cleared."}));
      if (w.p(0.75)) out.push_back(w.pick({"No residual pulmonary edema.", "No pulmonary edema.", "There is no vascular congestion."}));
    } else {
      out.push_back(edema_statement(w, e, false));
    }
  } else {
    out.push_back(w.pick({"Interval worsening of ", "Increasing ", "Compared to the prior study, there is worsening "}) +
                  std::string(level_name(e)) + ".");
    out.push_back(edema_statement(w, e, false));
  }
}

// ---- other findings ----

std::string lobe_name(Lobe l) {
  switch (l) {
    case Lobe::RUL: return "right upper lobe";
    case Lobe::RML: return "right middle lobe";
    case Lobe::RLL: return "right lower lobe";
    case Lobe::LUL: return "left upper lobe";
    case Lobe::LLL: return "left lower lobe";
    default: return "";
  }
}

std::string effusion_sentence(Words& w, const PhantomFindings& f) {
  const int r = f.effusion_right, l = f.effusion_left;
  if (r && l) {
    if (r == l) return capitalize(grade_word(r)) + std::string(" bilateral pleural effusions.");
    return capitalize(grade_word(std::max(r, l))) + std::string(" bilateral pleural effusions, ") + side_word(r > l) + " greater than " +
           side_word(r < l) + ".";
  }
  const bool right = r > 0;
  const int g = std::max(r, l);
  if (g == 1 && w.p(0.4))
    return std::string("Blunting of the ") + side_word(right) + " costophrenic angle " +
           w.pick({"may represent a small pleural effusion.", "suggests a small effusion.", "is consistent with a small pleural effusion."});
  return capitalize(w.pick({"There is a ", "", "Interval development of a "}) + std::string(grade_word(g)) + " " + side_word(right) +
                    " pleural effusion" + (g >= 2 ? w.pick({" with a meniscus.", ".", " layering at the base."}) : std::string(".")));
}

std::string heart_sentence(Words& w, const PhantomImage& im) {
  const double ctr = im.anatomy.heart_ctr;
  if (!im.findings.cardiomegaly)
    return w.pick({"Heart size is normal.", "The cardiomediastinal silhouette is within normal limits.", "Normal heart size.",
                   "The heart is not enlarged.", "Cardiac and mediastinal contours are normal."});
  const char* deg = ctr < 0.6 ? "mild" : ctr < 0.65 ? "moderate" : "severe";
  const char* adv = ctr < 0.6 ? "mildly" : ctr < 0.65 ? "moderately" : "severely";
  if (im.has_prior && im.prior.cardiomegaly && w.p(0.5))
    return w.pick({"Stable ", "Unchanged ", "Persistent "}) + std::string(deg) + " cardiomegaly.";
  switch (w.i(0, 4)) {
    case 0: return std::string("The heart is ") + adv + " enlarged.";
    case 1: return capitalize(deg) + " cardiomegaly.";
    case 2: return capitalize(deg) + std::string(" enlargement of the cardiac silhouette.");
    default: return std::string("The cardiac silhouette is ") + adv + " enlarged.";
  }
}

void device_sentences(Words& w, const PhantomImage& im, std::vector<std::string>& out) {
  const PhantomDevices& d = im.findings.devices;
  const PhantomDevices* p = im.has_prior ? &im.prior.devices : nullptr;
  if (d.endotracheal_tube)
    out.push_back(std::string(p && !p->endotracheal_tube ? "Interval intubation: the " : "") +
                  (p && !p->endotracheal_tube ? "endotracheal tube" : w.pick({"Endotracheal tube", "ET tube", "The endotracheal tube"})) +
                  " terminates " + std::to_string(w.i(3, 7)) + " cm above the carina.");
  else if (p && p->endotracheal_tube)
    out.push_back("Interval extubation.");
  if (d.enteric_tube)
    out.push_back(w.pick({"Enteric tube courses below the diaphragm with the tip in the stomach.", "An NG tube is seen with tip in the stomach.",
                          "Nasogastric tube terminates in the stomach."}));
  if (d.central_line)
    out.push_back(std::string("Right subclavian central venous catheter terminates in the ") +
                  w.pick({"mid SVC.", "lower SVC.", "cavoatrial junction."}));
  if (d.pacemaker)
    out.push_back(w.pick({"Left-sided pacemaker with leads in the right atrium and right ventricle.",
                          "A left chest wall dual-lead pacemaker is in place, leads terminating in the right atrium and right ventricle.",
                          "Left pectoral pacemaker device with leads in standard position."}));
}

// One or two typos in words of 5+ letters: swap, drop or double a letter.
std::string add_typos(Words& w, std::string text) {
  const int n = 1 + int(w.i(0, 2));
  for (int t = 0; t < n; ++t) {
    std::vector<size_t> starts;
    for (size_t i = 0; i < text.size(); ++i) {
      if (!std::isalpha(static_cast<unsigned char>(text[i])) || (i && std::isalpha(static_cast<unsigned char>(text[i - 1])))) continue;
      size_t j = i;
      while (j < text.size() && std::isalpha(static_cast<unsigned char>(text[j]))) ++j;
      const bool upper = std::isupper(static_cast<unsigned char>(text[i + 1]));  // section names stay intact
      if (j - i >= 5 && !upper) starts.push_back(i);
    }
    if (starts.empty()) break;
    size_t s = starts[size_t(w.i(0, int64_t(starts.size())))];
    size_t len = 0;
    while (s + len < text.size() && std::isalpha(static_cast<unsigned char>(text[s + len]))) ++len;
    size_t k = s + 1 + size_t(w.i(0, int64_t(len - 2)));
    switch (w.i(0, 3)) {
      case 0: std::swap(text[k], text[k + 1]); break;
      case 1: text.erase(k, 1); break;
      default: text.insert(k, 1, text[k]); break;
    }
  }
  return text;
}

std::string wrap(const std::string& text, size_t width) {
  std::string out, line;
  size_t i = 0;
  while (i <= text.size()) {
    size_t j = text.find(' ', i);
    if (j == std::string::npos) j = text.size();
    std::string word = text.substr(i, j - i);
    if (!line.empty() && line.size() + 1 + word.size() > width) {
      out += line + "\n ";
      line.clear();
    }
    line += (line.empty() ? "" : " ") + word;
    i = j + 1;
  }
  return out + line;
}

std::string join(const std::vector<std::string>& s) {
  std::string out;
  for (const auto& x : s) out += (out.empty() ? "" : "  ") + x;
  return out;
}

}  // namespace

std::string write_phantom_report(const PhantomImage& im, double typo_rate) {
  // One stream per study, so that the images of a study share their report.
  uint64_t h = 1469598103934665603ull;
  for (char c : im.study_id) h = (h ^ uint64_t(static_cast<unsigned char>(c))) * 1099511628211ull;
  Words w(mix(mix(im.seed ^ 0x7e9047ull) ^ h));
  const PhantomFindings& f = im.findings;
  const bool consolidation = f.consolidation != Lobe::None;
  const bool ptx = f.pneumothorax != Side::None;

  // INDICATION
  std::string reason;
  if (f.devices.endotracheal_tube && w.p(0.6)) reason = w.pick({"intubated patient", "s/p intubation", "respiratory failure"});
  else if (f.edema > 0 || f.cardiomegaly) reason = w.pick({"dyspnea", "shortness of breath", "CHF exacerbation", "hypoxia", "lower extremity edema and dyspnea"});
  else if (consolidation) reason = w.pick({"fever and cough", "productive cough", "leukocytosis"});
  else if (ptx) reason = w.pick({"chest pain", "s/p line placement", "s/p fall"});
  else reason = w.pick({"chest pain", "cough", "weakness", "history of smoking", "palpitations"});
  std::string question = w.pick({"evaluate for ", "assess for ", "r/o ", "? "}) +
                         w.pick({"pneumonia", "pulmonary edema", "interval change", "effusion", "acute process"});
  std::string indication = "___-year-old " + std::string(im.anatomy.male ? "man" : "woman") + " with " + reason + ", " + question + ".";

  // FINDINGS
  std::vector<std::string> fs;
  if (im.has_prior && w.p(0.4)) fs.push_back(std::string(w.pick({"PA and lateral", "AP portable", "Frontal"})) + " views of the chest are compared to the prior study from ___.");
  device_sentences(w, im, fs);
  edema_findings(w, im, fs);
  if (consolidation) {
    const std::string lobe = lobe_name(f.consolidation);
    switch (w.i(0, 4)) {
      case 0: fs.push_back("Focal consolidation in the " + lobe + ", concerning for pneumonia."); break;
      case 1: fs.push_back("There is airspace consolidation in the " + lobe + "."); break;
      case 2: fs.push_back("Patchy opacity in the " + lobe + " may reflect pneumonia or aspiration."); break;
      default:
        fs.push_back(f.consolidation == Lobe::RML ? "Right middle lobe opacity obscures the right heart border, consistent with pneumonia."
                     : f.consolidation == Lobe::LLL ? "Retrocardiac opacity is consistent with left lower lobe consolidation."
                                                    : "New consolidation in the " + lobe + ".");
    }
  } else if (f.edema <= 1 && w.p(0.7)) {
    fs.push_back(f.edema == 0 && w.p(0.3) ? "The lungs are clear without focal consolidation."
                                          : w.pick({"No focal consolidation.", "There is no focal consolidation.", "No focal airspace consolidation is seen."}));
  }
  if (f.effusion()) fs.push_back(effusion_sentence(w, f));
  if (ptx) {
    const bool right = f.pneumothorax == Side::Right;
    fs.push_back(f.pneumothorax_size == 1 ? w.pick({"Small ", "There is a small ", "Tiny "}) + std::string(side_word(right)) + " apical pneumothorax."
                                          : w.pick({"Large ", "There is a large ", "Moderate to large "}) + std::string(side_word(right)) +
                                                " pneumothorax" + w.pick({".", " without mediastinal shift.", " with a visible pleural line."}));
  }
  if (!f.effusion() && !ptx) fs.push_back(w.pick({"No pleural effusion or pneumothorax.", "There is no pleural effusion or pneumothorax.",
                                                  "No effusion or pneumothorax.", "No pneumothorax.  No pleural effusion."}));
  else if (!f.effusion()) fs.push_back(w.pick({"No pleural effusion.", "There is no pleural effusion."}));
  else if (!ptx) fs.push_back(w.pick({"No pneumothorax.", "There is no pneumothorax."}));
  fs.push_back(heart_sentence(w, im));
  if (w.p(0.3)) fs.push_back(w.pick({"No acute osseous abnormality.", "Degenerative changes of the thoracic spine.", "The osseous structures are intact."}));

  // IMPRESSION: the positives, the edema statement restated with its keywords most of the time.
  std::vector<std::string> imp;
  if (f.edema > 0) imp.push_back(w.p(0.85) ? edema_statement(w, f.edema, true) : capitalize(level_name(f.edema)) + ".");
  if (f.cardiomegaly && w.p(0.6))
    imp.push_back(im.has_prior && im.prior.cardiomegaly ? w.pick({"Stable cardiomegaly.", "Cardiomegaly, unchanged."})
                                                        : w.pick({"Cardiomegaly.", "Enlarged heart."}));
  if (consolidation) imp.push_back(capitalize(lobe_name(f.consolidation)) + " " + w.pick({"pneumonia.", "consolidation, likely pneumonia.", "opacity, possibly pneumonia."}));
  if (f.effusion()) imp.push_back(effusion_sentence(w, f));
  if (ptx) imp.push_back(capitalize(side_word(f.pneumothorax == Side::Right)) + " pneumothorax" + (f.pneumothorax_size == 2 ? ", large." : ", small."));
  if (f.devices.any() && w.p(0.4)) imp.push_back("Support devices in standard position.");
  if (imp.empty() || (f.edema == 0 && !consolidation && !f.effusion() && !ptx && w.p(0.6)))
    imp.push_back(w.pick({"No acute cardiopulmonary process.", "No acute cardiopulmonary process.", "No acute intrathoracic process.",
                          "Normal chest radiograph."}));
  if (imp.size() >= 3 && w.p(0.4))
    for (size_t i = 0; i < imp.size(); ++i) imp[i] = std::to_string(i + 1) + ". " + imp[i];

  // Assemble: MIMIC-like layout; some reports only have an impression, some are hard-wrapped.
  const bool wrapped = w.p(0.25);
  auto section = [&](const std::string& name, const std::string& body) {
    std::string text = name + ":  " + body;
    return " " + (wrapped ? wrap(text, 77) : text) + "\n";
  };
  std::string report;
  if (w.p(0.5)) report += "                                 FINAL REPORT\n";
  const bool impression_only = w.p(0.1);
  if (!impression_only) {
    report += section("EXAMINATION", im.acquisition.portable_ap ? "CHEST (PORTABLE AP)" : "CHEST (PA AND LAT)");
    report += " \n" + section("INDICATION", indication);
    report += " \n" + section("COMPARISON", im.has_prior ? "___." : w.pick({"None.", "None available."}));
    report += " \n" + section("FINDINGS", join(fs));
  }
  if (!report.empty() && !impression_only) report += " \n";
  report += section("IMPRESSION", impression_only ? join(fs) + "  " + join(imp) : join(imp));
  if (w.u() < typo_rate) report = add_typos(w, report);
  return report;
}

}  // namespace cxr::data
