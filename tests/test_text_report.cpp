// test_text_report.cpp — report reading, the reference sentence split, section parsing of MIMIC-
// and IU-style reports and the METHODS.md §1 extraction rule; the CSV reader and writer.
#include <sstream>

#include "tensor/error.h"
#include "text/chars.h"
#include "text/csv.h"
#include "text/report.h"
#include "text_testing.h"

using namespace cxr;
using namespace cxr::text;
using namespace cxr::testing;

namespace {
// A MIMIC-style report (layout of the MIMIC-CXR reports: a FINAL REPORT banner, headers with
// colons, bodies wrapped over several lines).
const char* kMimicStyle =
    "                                 FINAL REPORT\n"
    " CHEST RADIOGRAPH PERFORMED ON ___\n"
    " \n"
    " COMPARISON:  ___.\n"
    " \n"
    " CLINICAL HISTORY:  Dyspnea, assess for pneumonia.\n"
    " \n"
    " FINDINGS:  AP upright and lateral views of the chest were provided.\n"
    " Interstitial edema persists.  No pneumothorax.\n"
    " \n"
    " IMPRESSION:  Pulmonary interstitial edema with bilateral effusions, right\n"
    " greater than left.\n";

std::vector<std::string> names(const std::vector<Section>& s) {
  std::vector<std::string> out;
  for (const auto& x : s) out.push_back(x.name);
  return out;
}
}  // namespace

TEST_CASE("report: newlines are translated as Python's text mode does") {
  CHECK(normalize_newlines("a\r\nb\rc\n\r\n") == "a\nb\nc\n\n");
  CHECK(normalize_newlines("") == "");
  CHECK(normalize_newlines(std::string("\0\r", 2)) == std::string("\0\n", 2));
  TempDir dir("report_read");
  write_bytes(dir.file("r.txt"), "FINDINGS: x.\r\nIMPRESSION: y.\r");
  CHECK(read_report_file(dir.file("r.txt")) == "FINDINGS: x.\nIMPRESSION: y.\n");
  CHECK_THROWS_WITH_AS(read_report_file(dir.file("missing.txt")), doctest::Contains("missing.txt"), Error);
}

TEST_CASE("report: sentences split on every '.' and ':' like re.split") {
  auto s = split_sentences("FINDINGS: No edema. Mild: x");
  REQUIRE(s.size() == 4);
  CHECK(s[0] == "FINDINGS");
  CHECK(s[1] == " No edema");
  CHECK(s[2] == " Mild");
  CHECK(s[3] == " x");
  CHECK(split_sentences("").size() == 1);
  CHECK(split_sentences("..").size() == 3);
}

TEST_CASE("report: sections of a MIMIC-style report and the extraction rule") {
  auto sections = parse_sections(kMimicStyle);
  CHECK(names(sections) ==
        std::vector<std::string>{"FINAL REPORT", "COMPARISON", "HISTORY", "FINDINGS", "IMPRESSION"});
  CHECK(strip(sections[3].body) == "AP upright and lateral views of the chest were provided.\n"
                                   " Interstitial edema persists.  No pneumothorax.");
  Extraction e = extract_report_text(kMimicStyle);
  CHECK(e.source == ExtractionSource::kSections);
  CHECK(e.text ==
        "AP upright and lateral views of the chest were provided.\n Interstitial edema persists.  No pneumothorax.\n"
        "Pulmonary interstitial edema with bilateral effusions, right\n greater than left.");
}

TEST_CASE("report: IU-style composed text, empty findings, and the Final Report fallback") {
  Extraction e = extract_report_text("FINDINGS: \nIMPRESSION: No acute disease.\n");
  CHECK(e.source == ExtractionSource::kSections);
  CHECK(e.text == "No acute disease.");

  e = extract_report_text(" FINAL REPORT\n EXAMINATION: Chest.\n INDICATION: Fever.\n Lungs are clear.\n");
  CHECK(e.source == ExtractionSource::kFinalReport);
  CHECK(e.text == "EXAMINATION: Chest.\n INDICATION: Fever.\n Lungs are clear.");

  e = extract_report_text("Lungs are clear. Heart size normal.");
  CHECK(e.source == ExtractionSource::kWholeReport);
  CHECK(e.text == "Lungs are clear. Heart size normal.");
  CHECK(extract_report_text("").text.empty());
}

TEST_CASE("report: headers in any case, with or without colons, and what is not a header") {
  auto s = parse_sections("findings: a\nImpression\nb\nRECOMMENDATION(S): c\nConclusions : d\n");
  CHECK(names(s) == std::vector<std::string>{"FINDINGS", "IMPRESSION", "RECOMMENDATION", "CONCLUSION"});
  CHECK(strip(s[1].body) == "b");
  // A sentence that starts with a section word, a mixed-case phrase before a colon, and a colon
  // late in a long line are text, not headers.
  s = parse_sections("Findings are normal.\nPA and lateral chest compared to ___: stable.\n");
  CHECK(names(s) == std::vector<std::string>{""});
  // An all-capitals phrase with a colon is a header of its own (ends the previous section).
  s = parse_sections("FINDINGS: clear.\nPORTABLE CHEST: ignored\n");
  CHECK(names(s) == std::vector<std::string>{"FINDINGS", "PORTABLE CHEST"});
  CHECK(extract_report_text("FINDINGS: clear.\nPORTABLE CHEST: ignored\n").text == "clear.");
  // CRLF text that did not go through read_report_file.
  s = parse_sections("IMPRESSION\r\nno edema\r\n");
  CHECK(names(s) == std::vector<std::string>{"IMPRESSION"});
}

TEST_CASE("report: directories expand to their regular files, sorted, hidden files skipped") {
  TempDir dir("expand");
  write_bytes(dir.file("b.txt"), "x");
  write_bytes(dir.file("a.txt"), "x");
  write_bytes(dir.file(".hidden"), "x");
  std::filesystem::create_directories(dir.path / "sub");
  auto files = expand_report_paths({dir.path.string(), dir.file("b.txt")});
  REQUIRE(files.size() == 3);
  CHECK(files[0] == dir.file("a.txt"));
  CHECK(files[1] == dir.file("b.txt"));
  CHECK(files[2] == dir.file("b.txt"));
  CHECK_THROWS_WITH_AS(expand_report_paths({dir.file("nope")}), doctest::Contains("no such report"), Error);
}

TEST_CASE("csv: quoted fields, doubled quotes, embedded newlines, CRLF, and errors with line numbers") {
  CsvTable t = parse_csv("uid,text\r\n1,\"a, \"\"b\"\"\nc\"\r\n2,plain\n\n", "t.csv");
  REQUIRE(t.rows.size() == 2);
  CHECK(t.header == std::vector<std::string>{"uid", "text"});
  CHECK(t.rows[0][1] == "a, \"b\"\nc");
  CHECK(t.rows[1][1] == "plain");
  CHECK(t.column("text") == 1);
  CHECK(t.column("nope") == -1);
  CHECK(parse_csv("a,b\n1,", "t.csv").rows[0][1].empty());
  CHECK_THROWS_WITH_AS(parse_csv("a,b\n1\n", "t.csv"), doctest::Contains("t.csv:2: expected 2 fields"), Error);
  CHECK_THROWS_WITH_AS(parse_csv("a\n\"open\n", "t.csv"), doctest::Contains("unterminated"), Error);
  CHECK_THROWS_WITH_AS(parse_csv("a\nx\"y\n", "t.csv"), doctest::Contains("quote inside"), Error);
  CHECK_THROWS_AS(parse_csv("", "t.csv"), Error);

  std::ostringstream out;
  write_csv_row(out, {"s1.txt", "a,b", "say \"x\"", "", "line\nbreak"});
  CHECK(out.str() == "s1.txt,\"a,b\",\"say \"\"x\"\"\",,\"line\nbreak\"\n");
  CsvTable back = parse_csv("a,b,c,d,e\n" + out.str(), "back.csv");
  CHECK(back.rows[0] == std::vector<std::string>{"s1.txt", "a,b", "say \"x\"", "", "line\nbreak"});
}
