// test_findings_labeler.cpp — the CheXpert-style findings labeler on sentences whose labels follow
// from its rules (negation, uncertainty, ignore and negative phrases, aggregation, No Finding,
// sections), its phrase-list reader, and its accuracy on the IU MeSH annotations, which must stay
// at or above the values documented in docs/LABELER.md.
#include <cstdlib>
#include <map>
#include <fstream>
#include <sstream>

#include "tensor/error.h"
#include "text/findings.h"
#include "text/chars.h"
#include "text/csv.h"
#include "text/findings_eval.h"
#include "text_testing.h"

using namespace cxr;
using namespace cxr::text;
using namespace cxr::testing;

namespace {
const FindingsLabeler& labeler() {
  static const FindingsLabeler l = FindingsLabeler::project_default();
  return l;
}
int label_of(const std::string& text, const char* observation) {
  int o = observation_index(observation);
  REQUIRE(o >= 0);
  return labeler().label(text).labels[o];
}
}  // namespace

TEST_CASE("findings: negation, uncertainty and plain mentions") {
  CHECK(label_of("FINDINGS: No pneumothorax.", "Pneumothorax") == kNegative);
  CHECK(label_of("FINDINGS: Small left pleural effusion.", "Pleural Effusion") == kPositive);
  CHECK(label_of("FINDINGS: Possible right lower lobe pneumonia.", "Pneumonia") == kUncertain);
  CHECK(label_of("FINDINGS: A small pneumothorax cannot be excluded.", "Pneumothorax") == kUncertain);
  CHECK(label_of("FINDINGS: Pneumothorax has resolved.", "Pneumothorax") == kNegative);
  // A list after one negation trigger is negated throughout (no reference-NegEx quirk here).
  std::string text = "FINDINGS: No focal consolidation, pleural effusion, or pneumothorax.";
  CHECK(label_of(text, "Consolidation") == kNegative);
  CHECK(label_of(text, "Pleural Effusion") == kNegative);
  CHECK(label_of(text, "Pneumothorax") == kNegative);
  // A [CONJ] trigger ends the scope.
  CHECK(label_of("FINDINGS: No effusion, but there is a small pneumothorax.", "Pneumothorax") == kPositive);
  CHECK(label_of("FINDINGS: Lungs are clear.", "Pneumothorax") == kNotMentioned);
}

TEST_CASE("findings: negative and ignore phrases, and what gives way to what") {
  CHECK(label_of("FINDINGS: Heart size is normal.", "Cardiomegaly") == kNegative);
  CHECK(label_of("FINDINGS: The heart is mildly enlarged.", "Cardiomegaly") == kPositive);
  CHECK(label_of("FINDINGS: The heart is not enlarged.", "Cardiomegaly") == kNegative);
  // "stable" is not "normal": the mention stands.
  CHECK(label_of("FINDINGS: Heart size is enlarged, stable.", "Cardiomegaly") == kPositive);
  // A negative phrase covering a plain mention replaces it.
  CHECK(label_of("FINDINGS: Heart size and pulmonary vascular engorgement appear within limits of normal.",
                 "Edema") == kNegative);
  // Ignore phrases: a pericardial effusion is not a pleural effusion.
  CHECK(label_of("FINDINGS: Small pericardial effusion.", "Pleural Effusion") == kNotMentioned);
  // Aggregation: any positive beats uncertain and negative mentions.
  CHECK(label_of("FINDINGS: No pneumothorax on the left. Small right pneumothorax.", "Pneumothorax") == kPositive);
}

TEST_CASE("findings: No Finding, support devices and empty text") {
  FindingsResult r = labeler().label("FINDINGS: Right PICC with tip in the SVC. Lungs are clear. No effusion.");
  CHECK(r.labels[observation_index("Support Devices")] == kPositive);
  CHECK(r.labels[kNoFinding] == kPositive);  // devices are not pathology (CheXpert)
  r = labeler().label("FINDINGS: Small left pleural effusion.");
  CHECK(r.labels[kNoFinding] == kNotMentioned);
  r = labeler().label("FINDINGS: Lungs are clear. Mild degenerative changes of the thoracic spine.");
  CHECK(r.labels[kNoFinding] == kNotMentioned);  // an "Other" finding keeps No Finding off
  r = labeler().label("");
  for (int v : r.labels) CHECK(v == kNotMentioned);
}

TEST_CASE("findings: only the extracted sections are labelled unless asked otherwise") {
  std::string report = "INDICATION: Rule out pneumonia.\nFINDINGS: Lungs are clear.\n";
  CHECK(label_of(report, "Pneumonia") == kNotMentioned);
  FindingsLabeler whole = FindingsLabeler::project_default({.sections_only = false});
  CHECK(whole.label(report).labels[observation_index("Pneumonia")] == kUncertain);
}

TEST_CASE("findings: sentence split keeps decimals") {
  auto s = split_findings_sentences("A 2.5 cm nodule. No effusion; clear");
  REQUIRE(s.size() == 3);
  CHECK(s[0] == "A 2.5 cm nodule");
}

TEST_CASE("findings: the phrase-list reader") {
  FindingsPhrases p = FindingsPhrases::parse("# comment\n\nEdema\tmention\tkerley ... lines*\r\n", "p.tsv");
  REQUIRE(p.phrases.size() == 1);
  REQUIRE(p.phrases[0].elements.size() == 3);
  CHECK(p.phrases[0].elements[1].word.empty());
  CHECK(p.phrases[0].elements[2].prefix);
  CHECK_THROWS_WITH_AS(FindingsPhrases::parse("Edema mention kerley\n", "p.tsv"), doctest::Contains("p.tsv:1"), Error);
  CHECK_THROWS_WITH_AS(FindingsPhrases::parse("Oedema\tmention\tx\n", "p.tsv"), doctest::Contains("unknown observation"),
                       Error);
  CHECK_THROWS_WITH_AS(FindingsPhrases::parse("No Finding\tmention\tx\n", "p.tsv"),
                       doctest::Contains("unknown observation"), Error);
  CHECK_THROWS_WITH_AS(FindingsPhrases::parse("Edema\tmaybe\tx\n", "p.tsv"), doctest::Contains("unknown kind"), Error);
  CHECK_THROWS_WITH_AS(FindingsPhrases::parse("Edema\tmention\t... x\n", "p.tsv"), doctest::Contains("'...'"), Error);
  CHECK_THROWS_WITH_AS(FindingsPhrases::parse("Edema\tmention\tx ...\n", "p.tsv"), doctest::Contains("end with a word"),
                       Error);
  CHECK_THROWS_WITH_AS(FindingsPhrases::parse("Edema\tmention\t-- \n", "p.tsv"), doctest::Contains("holds no word"),
                       Error);
  CHECK(FindingsPhrases::project_default().phrases.size() > 300);
}

TEST_CASE("findings: IU MeSH mapping") {
  auto pos = iu_reference_positives("Cardiac Shadow/enlarged/mild;Thickening/pleura/apex;Opacity/lung/base/left");
  CHECK(pos[observation_index("Cardiomegaly")]);
  CHECK(pos[observation_index("Pleural Other")]);
  CHECK(pos[observation_index("Lung Opacity")]);
  CHECK_FALSE(pos[observation_index("Lung Lesion")]);
  CHECK_FALSE(pos[kNoFinding]);
  CHECK(iu_reference_positives("normal")[kNoFinding]);
  CHECK_FALSE(iu_reference_positives("Thickening/bronchi")[observation_index("Pleural Other")]);
}

// docs/LABELER.md holds the measured table between two markers; this test recomputes it.
TEST_CASE("findings: IU accuracy stays at or above the values documented in docs/LABELER.md") {
  if (!have_shared_data("iu-reports/indiana_reports.csv")) return;
  std::ifstream doc(std::string(CXR_SOURCE_DIR) + "/docs/LABELER.md");
  REQUIRE(doc.good());
  std::string line;
  bool inside = false;
  struct Row {
    int positives;
    double precision, recall, f1;
  };
  std::map<std::string, Row> documented;
  while (std::getline(doc, line)) {
    if (line.find("<!-- findings-table:begin -->") != std::string::npos) inside = true;
    if (line.find("<!-- findings-table:end -->") != std::string::npos) inside = false;
    if (!inside || line.rfind("| ", 0) != 0) continue;
    std::vector<std::string> cells;
    std::stringstream ss(line.substr(1));
    std::string cell;
    while (std::getline(ss, cell, '|')) cells.push_back(std::string(strip(cell)));
    if (cells.size() < 6 || observation_index(cells[0]) < 0) continue;
    documented[cells[0]] = {std::atoi(cells[2].c_str()), std::atof(cells[3].c_str()), std::atof(cells[4].c_str()),
                            std::atof(cells[5].c_str())};
  }
  REQUIRE(documented.size() == size_t(kNumObservations));

  FindingsEvaluation e =
      evaluate_findings_on_iu(read_csv(shared_data("iu-reports/indiana_reports.csv")), FindingsLabeler::project_default());
  CHECK(e.reports == 3759);
  constexpr double kMargin = 0.01;
  for (int o = 0; o < kNumObservations; ++o) {
    std::string name(kObservationNames[o]);
    INFO(name);
    const Row& d = documented[name];
    const ObservationMetrics& m = e.metrics[o];
    CHECK(m.positives == d.positives);  // the mapping is fixed: any change is a change of the reference
    CHECK(m.f1() >= d.f1 - kMargin);
    CHECK(m.precision() >= d.precision - 2 * kMargin);
    CHECK(m.recall() >= d.recall - 2 * kMargin);
    if (m.positives >= 50) CHECK_MESSAGE(m.f1() >= 0.85, "the target: F1 >= 0.85 with 50 or more positives");
  }
}
