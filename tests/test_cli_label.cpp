// test_cli_label.cpp — `cxr label` end to end through the built binary: output columns, files and
// directories, CSV input, the edema options, hostile report files, argument errors, and (when
// ../shared is present) the reference labels of the MIMIC examples and the findings-eval table.
#include <map>
#include <sstream>

#include "text/csv.h"
#include "text/edema.h"
#include "text_testing.h"

using namespace cxr;
using namespace cxr::text;
using namespace cxr::testing;

namespace {
std::string q(const std::string& s) { return "'" + s + "'"; }
}  // namespace

TEST_CASE("cxr label edema: files, directories and the output columns") {
  TempDir dir("cli_edema");
  std::filesystem::create_directories(dir.path / "reports");
  write_bytes(dir.file("reports/a.txt"), "FINDINGS: Interstitial edema. IMPRESSION: No pneumothorax.\n");
  write_bytes(dir.file("reports/b.txt"), "IMPRESSION: No pulmonary edema.\r\n");
  write_bytes(dir.file("c.txt"), "Lungs are clear.");
  CliResult r = run_cxr("label edema --out " + q(dir.file("out.csv")) + " " + q(dir.file("reports")) + " " +
                            q(dir.file("c.txt")),
                        dir);
  REQUIRE_MESSAGE(r.status == 0, r.err);
  CHECK(r.err.find("cxr label edema: 3 reports") != std::string::npos);
  CsvTable t = parse_csv(read_bytes(dir.file("out.csv")), "out.csv");
  CHECK(t.header == std::vector<std::string>{"report", "label", "affirmed", "negated", "mentioned", "keywords"});
  REQUIRE(t.rows.size() == 3);
  CHECK(t.rows[0] == std::vector<std::string>{"a.txt", "2", "2", "-1", "-1", "interstitial edema"});
  CHECK(t.rows[1][0] == "b.txt");
  CHECK(t.rows[1][1] == "0");
  CHECK(t.rows[2] == std::vector<std::string>{"c.txt", "-1", "-1", "-1", "-1", ""});
}

TEST_CASE("cxr label edema: --sections and --negex-window change what is labelled") {
  TempDir dir("cli_edema_options");
  write_bytes(dir.file("r1.txt"), "INDICATION: interstitial edema?\nFINDINGS: Lungs are clear.\n");
  write_bytes(dir.file("r2.txt"), "FINDINGS: No evidence of a b c d e f interstitial edema.\n");
  auto label = [&](const std::string& options, const std::string& file) {
    CliResult r = run_cxr("label edema --quiet --out - " + options + " " + q(dir.file(file)), dir);
    REQUIRE_MESSAGE(r.status == 0, r.err);
    return parse_csv(r.out, "stdout").rows.at(0).at(1);
  };
  CHECK(label("", "r1.txt") == "2");
  CHECK(label("--sections", "r1.txt") == "-1");
  CHECK(label("", "r2.txt") == "-1");  // negated, and no level-0 term
  CHECK(label("--negex-window 3", "r2.txt") == "2");
}

TEST_CASE("cxr label: reports from CSV columns compose FINDINGS/IMPRESSION like DATA.md") {
  TempDir dir("cli_csv");
  write_bytes(dir.file("in.csv"),
              "uid,findings,impression\n7,\"Kerley B lines, small effusions.\",No pneumothorax.\n8,,\"Clear, normal.\"\n");
  CliResult r = run_cxr("label edema --quiet --csv " + q(dir.file("in.csv")) +
                            " --text-columns findings,impression --id-column uid --out -",
                        dir);
  REQUIRE_MESSAGE(r.status == 0, r.err);
  CsvTable t = parse_csv(r.out, "stdout");
  REQUIRE(t.rows.size() == 2);
  EdemaLabeler lib(EdemaKeywords::project_default(), Negex::project_default());
  EdemaResult want = lib.label("FINDINGS: Kerley B lines, small effusions.\nIMPRESSION: No pneumothorax.\n");
  CHECK(t.rows[0][0] == "7");
  CHECK(t.rows[0][1] == std::to_string(want.label));
  CHECK(want.label == 2);
  CHECK(t.rows[1][0] == "8");

  r = run_cxr("label findings --quiet --numeric-missing --csv " + q(dir.file("in.csv")) +
                  " --text-columns findings,impression --id-column uid --out -",
              dir);
  REQUIRE_MESSAGE(r.status == 0, r.err);
  t = parse_csv(r.out, "stdout");
  REQUIRE(t.header.size() == 15);
  CHECK(t.header[1] == "No Finding");
  CHECK(t.header[14] == "Support Devices");
  std::map<std::string, std::string> row;
  for (size_t i = 0; i < t.header.size(); ++i) row[t.header[i]] = t.rows[0][i];
  CHECK(row["Edema"] == "1");
  CHECK(row["Pleural Effusion"] == "1");
  CHECK(row["Pneumothorax"] == "0");
  CHECK(row["Fracture"] == "-2");
  CHECK(row["No Finding"] == "-2");
}

TEST_CASE("cxr label: hostile report files are labelled, not fatal") {
  TempDir dir("cli_hostile");
  std::filesystem::create_directories(dir.path / "r");
  write_bytes(dir.file("r/empty.txt"), "");
  write_bytes(dir.file("r/nul.txt"), std::string(1000, '\0'));
  write_bytes(dir.file("r/utf8.txt"), "FINDINGS: \xff\xfe\xc3\x28 no pulmonary edema \xe2\x28\xa1.");
  write_bytes(dir.file("r/crlf.txt"), "FINDINGS:\r\nInterstitial edema.\r\rIMPRESSION:\r\n");
  write_bytes(dir.file("r/long.txt"), std::string(1 << 20, 'x') + " interstitial edema");
  for (const char* sub : {"edema", "findings"}) {
    CliResult r = run_cxr(std::string("label ") + sub + " --out " + q(dir.file("out.csv")) + " " + q(dir.file("r")), dir);
    CHECK_MESSAGE(r.status == 0, r.err);
    CHECK(parse_csv(read_bytes(dir.file("out.csv")), "out.csv").rows.size() == 5);
  }
}

TEST_CASE("cxr label: argument errors exit non-zero with a message and write nothing") {
  TempDir dir("cli_errors");
  CliResult r = run_cxr("label edema --out " + q(dir.file("out.csv")) + " " + q(dir.file("missing.txt")), dir);
  CHECK(r.status == 2);
  CHECK(r.err.find("missing.txt: no such report file or directory") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(dir.file("out.csv")));
  write_bytes(dir.file("r.txt"), "x");
  r = run_cxr("label edema " + q(dir.file("r.txt")), dir);  // --out is required
  CHECK(r.status != 0);
  r = run_cxr("label edema --out - --triggers " + q(dir.file("r.txt")) + " " + q(dir.file("r.txt")), dir);
  CHECK(r.status == 2);
  CHECK(r.err.find("expected trigger<TAB><TAB>[TAG]") != std::string::npos);
  r = run_cxr("label findings --out - --csv " + q(dir.file("r.txt")) + " --text-columns nope", dir);
  CHECK(r.status == 2);
  r = run_cxr("label", dir);
  CHECK(r.status != 0);
}

TEST_CASE("cxr label edema: the MIMIC examples with the reference lists give the reference labels") {
  if (!have_shared_data("labeler-reference")) return;
  TempDir dir("cli_mimic");
  CsvTable ref = read_csv(shared_data("labeler-reference/mimic_example_reference_labels.csv"));
  for (auto [set, column] : {std::pair{"radiology-ai", "radiology_ai_label"}, {"miccai2020", "miccai2020_label"}}) {
    INFO(set);
    CliResult r = run_cxr("label edema --quiet --out - --keywords " +
                              q(shared_data(std::string("labeler-reference/keywords/") + set)) + " --triggers " +
                              q(shared_data("labeler-reference/negex_triggers.txt")) + " " +
                              q(shared_data("labeler-reference/mimic-example-reports")),
                          dir);
    REQUIRE_MESSAGE(r.status == 0, r.err);
    CsvTable got = parse_csv(r.out, "stdout");
    REQUIRE(got.rows.size() == ref.rows.size());
    for (size_t i = 0; i < ref.rows.size(); ++i) {
      CHECK(got.rows[i][0] == ref.rows[i][0]);
      CHECK(got.rows[i][1] == ref.rows[i][ref.column(column)]);
    }
  }
}

TEST_CASE("cxr label findings-eval: prints the docs/LABELER.md table") {
  if (!have_shared_data("iu-reports/indiana_reports.csv")) return;
  TempDir dir("cli_eval");
  CliResult r = run_cxr("label findings-eval --iu-reports " + q(shared_data("iu-reports/indiana_reports.csv")) +
                            " --errors " + q(dir.file("errors.csv")),
                        dir);
  REQUIRE_MESSAGE(r.status == 0, r.err);
  CHECK(r.out.rfind("| observation | MeSH terms mapped to it |", 0) == 0);
  CHECK(r.out.find("| Cardiomegaly | Cardiomegaly; Cardiac Shadow/…enlarged | 364 |") != std::string::npos);
  CHECK(read_csv(dir.file("errors.csv")).rows.size() > 0);
}
