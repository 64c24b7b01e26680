// negex.h — NegEx (Chapman et al. 2001) exactly as the reference labeler runs it (Peter Kang's
// Python port with negP=False; METHODS.md §2): triggers are rewritten into tagged tokens rule by
// rule, the phrase is tagged, then a forward pass (PREN scopes) and a backward pass (POST scopes)
// turn [PHRASE] into [NEGATED]. Trigger files hold one `trigger<TAB><TAB>[TAG]` per line.
// Matching is a small purpose-built matcher for the two pattern shapes NegEx compiles, with Python
// `re` semantics on ASCII (negex.cpp explains why not std::regex).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace cxr::text {

struct NegexTrigger {
  std::string text;                // the trigger as written (first tab-separated field, stripped)
  std::vector<std::string> words;  // its whitespace-separated words
  std::string tag;                 // "[PREN]", "[POST]", "[CONJ]", "[PSEU]", "[PREP]", "[POSP]", ...
  std::string replacement;         // " " + tag + words joined by "_" + tag + " "
  size_t line_length = 0;          // the sort key: the raw line length as Python's readlines() sees it
};

struct NegexOptions {
  // 0: no limit (the reference). N > 0: a [PREN] trigger negates at most the N tokens after it, a
  // [POST] trigger at most the N tokens before it (tokens are whitespace-separated after tagging,
  // so a multi-word trigger or phrase counts as one token).
  int window = 0;
};

class Negex {
 public:
  // Parses a trigger file's contents; `source` names it in error messages. Blank lines are skipped
  // (the reference would crash on them). Throws cxr::Error on a line without a tab-separated tag
  // or with a trigger containing a regular-expression metacharacter (the reference compiles
  // trigger words as regex source; this matcher treats them as literal text, so such a trigger
  // is refused instead of silently meaning something else).
  static Negex parse(std::string_view contents, const std::string& source);
  static Negex load(const std::string& path);
  // The project's own trigger list (text/data/negex_triggers.txt, compiled in).
  static const Negex& project_default();

  // True when NegEx flags `phrase` as negated in `sentence` (the reference's flag == "negated").
  bool is_negated(std::string_view sentence, std::string_view phrase, const NegexOptions& options = {}) const;
  // The sentence after trigger and phrase tagging and both passes, tokens joined by single spaces
  // (the reference's getNegTaggedSentence() before the filler is turned back into spaces).
  std::string tag(std::string_view sentence, std::string_view phrase, const NegexOptions& options = {}) const;
  // Only the trigger rewriting step.
  std::string tag_triggers(std::string_view sentence) const;

  const std::vector<NegexTrigger>& triggers() const { return triggers_; }

 private:
  std::vector<NegexTrigger> triggers_;  // sorted by line_length, descending, stable
};

// Finds the first match of the reference's phrase pattern \b w1 \W+ w2 ... \b (case-insensitive,
// words literal) in `s` at or after `from`; returns false when there is none. Exposed for tests.
bool find_phrase(std::string_view s, const std::vector<std::string>& words, size_t& begin, size_t& end,
                 size_t from = 0);

}  // namespace cxr::text
