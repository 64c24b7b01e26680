// test_edema_labeler.cpp — the edema severity labeler against the reference implementation's own
// output (../shared/data/labeler-reference): all 1,867 IU reports and the 10 MIMIC example reports,
// with both keyword sets, the label and all three sub-labels; plus the keyword-file reader.
#include <chrono>
#include <map>
#include <sstream>

#include "tensor/error.h"
#include "text/csv.h"
#include "text/edema.h"
#include "text/report.h"
#include "text_testing.h"

using namespace cxr;
using namespace cxr::text;
using namespace cxr::testing;

namespace {

const char* const kSets[] = {"radiology-ai", "miccai2020"};
std::string set_column(const std::string& set) { return set == "radiology-ai" ? "radiology_ai" : "miccai2020"; }

EdemaLabeler reference_labeler(const std::string& set) {
  return EdemaLabeler(EdemaKeywords::load_dir(shared_data("labeler-reference/keywords/" + set)),
                      Negex::load(shared_data("labeler-reference/negex_triggers.txt")));
}

// DATA.md: the text the reference labeler was given for an IU report.
std::string iu_text(const std::string& findings, const std::string& impression) {
  return "FINDINGS: " + findings + "\nIMPRESSION: " + impression + "\n";
}

}  // namespace

TEST_CASE("edema labeler: equals the reference on all 1,867 IU reports with both keyword sets") {
  if (!have_shared_data("labeler-reference") || !have_shared_data("iu-reports")) return;
  CsvTable reports = read_csv(shared_data("iu-reports/indiana_reports.csv"));
  CsvTable ref = read_csv(shared_data("labeler-reference/iu_reference_labels.csv"));
  const int uid = reports.column("uid"), fi = reports.column("findings"), im = reports.column("impression");
  REQUIRE(uid >= 0);
  REQUIRE(fi >= 0);
  REQUIRE(im >= 0);
  std::map<std::string, std::string> text_of;
  for (const auto& row : reports.rows) text_of[row[uid]] = iu_text(row[fi], row[im]);
  REQUIRE(ref.rows.size() == 1867);

  for (std::string set : kSets) {
    INFO("keyword set ", set);
    EdemaLabeler labeler = reference_labeler(set);
    const std::string c = set_column(set);
    const int cl = ref.column(c + "_label"), ca = ref.column(c + "_affirmed"), cn = ref.column(c + "_negated"),
              cm = ref.column(c + "_mentioned");
    REQUIRE((cl >= 0 && ca >= 0 && cn >= 0 && cm >= 0));
    int matches = 0, labelled = 0;
    std::ostringstream first_mismatches;
    int shown = 0;
    for (const auto& row : ref.rows) {
      auto it = text_of.find(row[ref.column("uid")]);
      REQUIRE_MESSAGE(it != text_of.end(), "uid ", row[0], " is not in indiana_reports.csv");
      EdemaResult r = labeler.label(it->second);
      std::string got = std::to_string(r.label) + "," + std::to_string(r.affirmed) + "," + std::to_string(r.negated) +
                        "," + std::to_string(r.mentioned);
      std::string want = row[cl] + "," + row[ca] + "," + row[cn] + "," + row[cm];
      if (got == want) {
        ++matches;
      } else if (shown++ < 5) {
        first_mismatches << "\n  uid " << row[0] << ": got " << got << ", reference " << want;
      }
      if (r.label >= 0) ++labelled;
    }
    MESSAGE(set, ": ", matches, "/", ref.rows.size(), " IU reports equal the reference (label and sub-labels); ",
            labelled, " labelled");
    CHECK_MESSAGE(matches == int(ref.rows.size()), "first mismatches:", first_mismatches.str());
    CHECK(labelled > 0);  // the comparison is not vacuous
  }
}

TEST_CASE("edema labeler: equals the reference on the 10 MIMIC example reports with both keyword sets") {
  if (!have_shared_data("labeler-reference")) return;
  CsvTable ref = read_csv(shared_data("labeler-reference/mimic_example_reference_labels.csv"));
  REQUIRE(ref.rows.size() == 10);
  for (std::string set : kSets) {
    INFO("keyword set ", set);
    EdemaLabeler labeler = reference_labeler(set);
    const int col = ref.column(set_column(set) + "_label");
    REQUIRE(col >= 0);
    for (const auto& row : ref.rows) {
      INFO("report ", row[0]);
      std::string text = read_report_file(shared_data("labeler-reference/mimic-example-reports/" + row[0]));
      CHECK(std::to_string(labeler.label(text).label) == row[col]);
    }
  }
}

TEST_CASE("edema labeler: throughput on the 3,851 IU reports (printed, not asserted)") {
  if (!have_shared_data("labeler-reference") || !have_shared_data("iu-reports")) return;
  CsvTable reports = read_csv(shared_data("iu-reports/indiana_reports.csv"));
  std::vector<std::string> texts;
  for (const auto& row : reports.rows)
    texts.push_back(iu_text(row[reports.column("findings")], row[reports.column("impression")]));
  EdemaLabeler labeler = reference_labeler("miccai2020");
  double best = 1e9;
  int labelled = 0;
  for (int rep = 0; rep < 3; ++rep) {
    auto t0 = std::chrono::steady_clock::now();
    labelled = 0;
    for (const auto& t : texts) labelled += labeler.label(t).label >= 0;
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  MESSAGE("edema labeler: ", texts.size(), " IU reports in ", best * 1e3, " ms (best of 3; ",
          texts.size() / best, " reports/s; ", labelled, " labelled)");
  CHECK(labelled > 0);
}

TEST_CASE("edema keywords: the reader takes CRLF, a missing final newline, any column order and blank lines") {
  auto k = parse_edema_keywords("keyword_terms\tpulmonary_edema_severity\r\nKerley\t2\r\n\r\nno edema\t0", "t.tsv");
  REQUIRE(k.size() == 2);
  CHECK(k[0].term == "Kerley");
  CHECK(k[0].lower == "kerley");
  CHECK(k[0].level == 2);
  CHECK(k[1].term == "no edema");
  CHECK(k[1].level == 0);
  CHECK_THROWS_WITH_AS(parse_edema_keywords("severity\tterms\n1\tx\n", "t.tsv"), doctest::Contains("t.tsv:1"), Error);
  CHECK_THROWS_WITH_AS(parse_edema_keywords("pulmonary_edema_severity\tkeyword_terms\nhigh\tx\n", "t.tsv"),
                       doctest::Contains("t.tsv:2: severity level"), Error);
  CHECK_THROWS_WITH_AS(parse_edema_keywords("pulmonary_edema_severity\tkeyword_terms\n4\tx\n", "t.tsv"),
                       doctest::Contains("0..3"), Error);
  CHECK_THROWS_WITH_AS(parse_edema_keywords("pulmonary_edema_severity\tkeyword_terms\n1\t \n", "t.tsv"),
                       doctest::Contains("empty keyword"), Error);
  CHECK_THROWS_AS(parse_edema_keywords("", "t.tsv"), Error);
}
