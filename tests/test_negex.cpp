// test_negex.cpp — NegEx as the reference runs it (METHODS.md §2), on small trigger lists written
// here: rule order, Python `re` word boundaries and whitespace, the phrase pattern, both passes and
// their quirks (the token before a new [PREN] is outside the scope; str.replace tags every copy of
// the matched phrase), the word-window option, and the trigger-file reader.
#include <set>

#include "tensor/error.h"
#include "text/chars.h"
#include "text/negex.h"
#include "text/resources.h"
#include "text_testing.h"

using namespace cxr;
using namespace cxr::text;

namespace {
const Negex& small() {
  static const Negex n = Negex::parse(
      "no\t\t[PREN]\n"
      "not seen\t\t[POST]\n"
      "but\t\t[CONJ]\n"
      "no change\t\t[PSEU]\n"
      "possible\t\t[PREP]\n"
      "no evidence of\t\t[PREN]\n",
      "small");
  return n;
}
}  // namespace

TEST_CASE("negex: triggers are sorted by raw line length, longest first, stable for ties") {
  Negex n = Negex::parse("ab\t\t[PREN]\r\nabc\t\t[POST]\r\nxy\t\t[CONJ]\r\nlast\t\t[PSEU]", "t");
  REQUIRE(n.triggers().size() == 4);
  // Line lengths after newline translation: 11, 12, 11, 12 (the last line has no newline).
  CHECK(n.triggers()[0].text == "abc");
  CHECK(n.triggers()[1].text == "last");
  CHECK(n.triggers()[2].text == "ab");
  CHECK(n.triggers()[3].text == "xy");
  CHECK(n.triggers()[0].replacement == " [POST]abc[POST] ");
  CHECK(small().tag_triggers("No evidence of edema") == " [PREN]no_evidence_of[PREN]  edema");
  CHECK(small().tag_triggers("no change") == " [PSEU]no_change[PSEU] ");
}

TEST_CASE("negex: forward and backward scopes, terminators, case") {
  const Negex& n = small();
  CHECK(n.is_negated("No pulmonary edema", "pulmonary edema"));
  CHECK(n.is_negated("NO PULMONARY EDEMA", "pulmonary edema"));
  CHECK(n.is_negated("pulmonary edema is not seen", "pulmonary edema"));
  CHECK_FALSE(n.is_negated("pulmonary edema", "pulmonary edema"));
  CHECK_FALSE(n.is_negated("no effusion but edema", "edema"));
  CHECK_FALSE(n.is_negated("no change in edema", "edema"));
  CHECK_FALSE(n.is_negated("no possible edema", "edema"));
  CHECK(n.tag("No edema", "edema") == "[PREN]no[PREN] [NEGATED]edema[NEGATED]");
  // The reference's quirk: the token just before another [PREN] is not in the first scope.
  CHECK_FALSE(n.is_negated("no effusion, no pneumothorax", "effusion"));
  CHECK(n.is_negated("no effusion, no pneumothorax", "pneumothorax"));
  // Phrase not found (the trigger rewrite can hide it): not negated.
  CHECK_FALSE(n.is_negated("no", "edema"));
}

TEST_CASE("negex: Python re word boundaries and whitespace") {
  const Negex& n = small();
  // '_' is a word character: "no_edema" holds neither the trigger nor the phrase at a boundary.
  CHECK(n.tag_triggers("no_edema") == "no_edema");
  CHECK_FALSE(n.is_negated("no_edema", "edema"));
  // "nodule" does not contain the trigger "no" at a boundary.
  CHECK_FALSE(n.is_negated("nodule edema", "edema"));
  // \s includes the ASCII separators 0x1C-0x1F and \v; a multi-word trigger spans any whitespace.
  CHECK(n.is_negated("no\x1c" "edema", "edema"));
  CHECK(n.tag_triggers("No\t\v Change") == " [PSEU]no_change[PSEU] ");
  // The phrase's words are joined by \W+ and tagged with its whitespace turned into '_'.
  CHECK(n.tag("no pulmonary, edema", "pulmonary edema") == "[PREN]no[PREN] [NEGATED]pulmonary,_edema[NEGATED]");
  // Regex metacharacters in a phrase are literal, and \b applies even next to punctuation: the
  // pattern \ba\.b\W+\(c\)\b cannot end after ')' at the end of the text.
  CHECK(n.tag("no a.b (c", "a.b (c") == "[PREN]no[PREN] [NEGATED]a.b_(c[NEGATED]");
  CHECK_FALSE(n.is_negated("no axb (c", "a.b (c"));
  CHECK_FALSE(n.is_negated("no a.b (c)", "a.b (c)"));
  // Every copy of the first matched text is tagged (Python str.replace).
  CHECK(n.tag("edema, no edema", "edema") == "[PHRASE]edema[PHRASE], [PREN]no[PREN] [NEGATED]edema[NEGATED]");
  CHECK(n.is_negated("edema, no edema", "edema"));
}

TEST_CASE("negex: phrase search backtracks \\W+ like Python's matcher") {
  size_t b = 0, e = 0;
  std::vector<std::string> words = {"a", "-b"};
  REQUIRE(find_phrase("x a--b y", words, b, e));
  CHECK(b == 2);
  CHECK(e == 6);
  CHECK_FALSE(find_phrase("a b", words, b, e));
  words = {"edema"};
  CHECK_FALSE(find_phrase("oedema edemas", words, b, e));
  REQUIRE(find_phrase("oedema EDEMA.", words, b, e));
  CHECK(b == 7);
}

TEST_CASE("negex: the word window limits scopes when asked (off by default)") {
  const Negex& n = small();
  CHECK(n.is_negated("no a b c d edema", "edema"));
  CHECK_FALSE(n.is_negated("no a b c d edema", "edema", {.window = 4}));
  CHECK(n.is_negated("no a b c d edema", "edema", {.window = 5}));
  CHECK_FALSE(n.is_negated("edema a b c not seen", "edema", {.window = 3}));
  CHECK(n.is_negated("edema a b c not seen", "edema", {.window = 4}));
}

TEST_CASE("negex: the trigger reader refuses what it cannot match exactly") {
  CHECK(Negex::parse("\n\nno\t\t[PREN]\n\n", "t").triggers().size() == 1);
  CHECK_THROWS_WITH_AS(Negex::parse("no\t[PREN]\n", "t.txt"), doctest::Contains("t.txt:1: expected"), Error);
  CHECK_THROWS_WITH_AS(Negex::parse("ok\t\t[PREN]\nno*\t\t[PREN]\n", "t.txt"),
                       doctest::Contains("t.txt:2: trigger 'no*' contains a regular-expression metacharacter"),
                       Error);
  CHECK_THROWS_WITH_AS(Negex::parse("\t\t[PREN]\n", "t.txt"), doctest::Contains("t.txt:1"), Error);
  CHECK_THROWS_AS(Negex::load("/nonexistent/triggers.txt"), Error);
}

TEST_CASE("negex: the project's own trigger list is well formed") {
  const Negex& n = Negex::project_default();
  CHECK(n.triggers().size() > 100);
  std::set<std::string> seen;
  std::set<std::string> tags;
  for (const auto& t : n.triggers()) {
    std::string key = lower(t.text);
    CHECK_MESSAGE(seen.insert(key).second, "duplicate trigger ", t.text);
    tags.insert(t.tag);
    // A trigger equal to a tag name would rewrite the tags of earlier rules.
    for (const char* tag : {"pren", "post", "conj", "pseu", "prep", "posp"}) CHECK(key != tag);
  }
  CHECK(tags == std::set<std::string>{"[CONJ]", "[POSP]", "[POST]", "[PREN]", "[PREP]", "[PSEU]"});
  CHECK(n.is_negated("There is no evidence of pulmonary edema", "pulmonary edema"));
  CHECK(n.is_negated("The lungs are clear of consolidation or edema", "edema"));
  CHECK(n.is_negated("Pulmonary edema has resolved", "pulmonary edema"));
  CHECK_FALSE(n.is_negated("No effusion, however there is mild edema", "edema"));
}
