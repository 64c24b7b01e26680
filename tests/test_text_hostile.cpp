// test_text_hostile.cpp — every report parser and both labelers on hostile input: empty and
// NUL-only text, invalid UTF-8, CRLF and lone CR, megabyte lines, floods of separators and
// headers, long negation chains, phrase-search backtracking, and seeded random bytes and token
// soups. Report text must never make a labeler throw or read out of bounds (CI runs this under
// ASan/UBSan); list and CSV readers either parse or throw cxr::Error.
#include <algorithm>
#include <random>

#include "tensor/error.h"
#include "text/csv.h"
#include "text/edema.h"
#include "text/findings.h"
#include "text/negex.h"
#include "text/report.h"
#include "text_testing.h"

using namespace cxr;
using namespace cxr::text;

namespace {

std::string repeat(const std::string& s, size_t times) {
  std::string out;
  out.reserve(s.size() * times);
  for (size_t i = 0; i < times; ++i) out += s;
  return out;
}

std::vector<std::pair<std::string, std::string>> hostile_corpus() {
  std::vector<std::pair<std::string, std::string>> c;
  c.push_back({"empty", ""});
  c.push_back({"NUL only", std::string(4096, '\0')});
  c.push_back({"invalid UTF-8",
               "FINDINGS: \xff\xfe no \xc3\x28 pulmonary edema \xa0\xa1. \xe2\x28\xa1 kerley \xf0\x28\x8c\xbc lines\xc0\xaf."});
  c.push_back({"CRLF and lone CR", "FINDINGS:\r\nNo pulmonary edema.\r\rIMPRESSION:\r\nInterstitial edema.\r"});
  c.push_back({"1 MB line", "FINDINGS: " + std::string(1 << 20, 'a') + " interstitial edema"});
  c.push_back({"1 MB of separators", repeat(".:", 1 << 19)});
  c.push_back({"100,000 headers", repeat("FINDINGS:\nIMPRESSION\n", 50000)});
  c.push_back({"1 MB line after a header word", "IMPRESSION" + std::string(1 << 20, ' ') + "x"});
  c.push_back({"200 kB negation chain", "IMPRESSION: " + repeat("no pulmonary edema, no effusion or ", 6000)});
  c.push_back({"tags in the text", "no [PREN] [PHRASE]edema[PHRASE] [NEGATED] [POST]_[CONJ] pulmonary edema [PSEU]"});
  c.push_back({"punctuation run", "edema " + std::string(100000, '-') + " edema"});

  std::mt19937 rng(1234);
  for (int k = 0; k < 8; ++k) {
    std::string bytes(16384, '\0');
    for (char& ch : bytes) ch = char(rng() & 0xff);
    c.push_back({"random bytes " + std::to_string(k), bytes});
  }
  const std::vector<std::string> vocab = {
      "no", "not", "without", "pulmonary", "edema", "kerley", "effusion", "pneumothorax", "cardiomegaly",
      "heart", "size", "normal", "enlarged", "...", "FINDINGS:", "IMPRESSION", "FINAL REPORT", "[PREN]", "[POST]",
      "[PHRASE]", "[NEGATED]", "cannot be excluded", "but", "_", ".", ":", ";", ",", "(", ")", "\"", "\r", "\n",
      "\t", std::string(1, '\0'), "\xff", "\x1c", "  ", "-", "no change", "r/o", "tip", "svc", "XXXX"};
  for (int k = 0; k < 24; ++k) {
    std::string s;
    int n = int(rng() % 400);
    for (int i = 0; i < n; ++i) s += vocab[rng() % vocab.size()] + (rng() % 3 ? " " : "");
    c.push_back({"token soup " + std::to_string(k), s});
  }
  return c;
}

}  // namespace

TEST_CASE("hostile input: sections, extraction and sentence splits stay inside the text") {
  for (const auto& [name, text] : hostile_corpus()) {
    INFO(name);
    std::string_view view(text);
    for (const Section& s : parse_sections(view)) {
      CHECK(s.body.data() >= view.data());
      CHECK(s.body.data() + s.body.size() <= view.data() + view.size());
      CHECK(s.header_offset <= view.size());
    }
    Extraction e = extract_report_text(view);
    CHECK(e.text.size() <= text.size());
    size_t total = 0;
    for (auto s : split_sentences(view)) total += s.size();
    CHECK(total <= text.size());
    for (auto s : split_findings_sentences(view)) CHECK(s.size() <= text.size());
    CHECK(normalize_newlines(view).size() <= text.size());
  }
}

TEST_CASE("hostile input: both labelers return labels in range and never throw") {
  EdemaLabeler edema(EdemaKeywords::project_default(), Negex::project_default());
  EdemaLabeler edema_sections(EdemaKeywords::project_default(), Negex::project_default(),
                              {.sections_only = true, .negex = {.window = 3}});
  FindingsLabeler findings_default = FindingsLabeler::project_default();
  FindingsLabeler findings_whole = FindingsLabeler::project_default({.sections_only = false});
  for (const auto& [name, text] : hostile_corpus()) {
    INFO(name);
    for (const EdemaLabeler* l : {&edema, &edema_sections}) {
      EdemaResult r;
      REQUIRE_NOTHROW(r = l->label(text));
      CHECK(r.label >= -1);
      CHECK(r.label <= 3);
      const int highest = std::max({r.affirmed, r.negated, r.mentioned});
      CHECK(r.label == highest);
      CHECK(r.keywords.empty() == (r.label < 0));
    }
    for (const FindingsLabeler* l : {&findings_default, &findings_whole}) {
      FindingsResult r;
      REQUIRE_NOTHROW(r = l->label(text));
      for (int v : r.labels) CHECK((v >= -2 && v <= 1));
    }
  }
}

TEST_CASE("hostile input: NegEx tagging with odd phrases, and phrase-search backtracking stays fast") {
  const Negex& n = Negex::project_default();
  for (const auto& [name, text] : hostile_corpus()) {
    if (text.size() > 300000) continue;  // the megabyte cases are covered through the labelers
    INFO(name);
    const bool big = text.size() > 50000;  // each call rewrites the text once per trigger
    for (std::string phrase : {"pulmonary edema", "a -b", "-", "[PHRASE]", "x\xff", "no"}) {
      REQUIRE_NOTHROW(n.is_negated(text, phrase));
      if (!big) REQUIRE_NOTHROW(n.is_negated(text, phrase, {.window = 2}));
      if (big && phrase == "a -b") break;
    }
  }
  // Words that start with punctuation make \W+ backtrack; remembered failures keep this linear.
  std::string run = "a" + std::string(100000, '-') + "b";
  size_t b = 0, e = 0;
  CHECK_FALSE(find_phrase(run, {"a", "-", "-", "-", "c"}, b, e));
  CHECK(find_phrase(run, {"a", "-", "-b"}, b, e));
  CHECK(e == run.size());
}

TEST_CASE("hostile input: list and CSV readers parse or throw cxr::Error, nothing else") {
  int parsed = 0, refused = 0;
  for (const auto& [name, text] : hostile_corpus()) {
    if (text.size() > 300000) continue;
    INFO(name);
    auto attempt = [&](auto&& fn) {
      try {
        fn();
        ++parsed;
      } catch (const Error&) {
        ++refused;
      }
    };
    attempt([&] { parse_csv(text, "hostile.csv"); });
    attempt([&] { Negex::parse(text, "hostile.txt"); });
    attempt([&] { parse_edema_keywords(text, "hostile.tsv"); });
    attempt([&] { parse_edema_keywords("pulmonary_edema_severity\tkeyword_terms\n" + text, "hostile.tsv"); });
    attempt([&] { FindingsPhrases::parse(text, "hostile.tsv"); });
  }
  CHECK(parsed > 0);
  CHECK(refused > 0);
}
