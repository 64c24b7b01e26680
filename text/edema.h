// edema.h — the pulmonary-edema severity labeler of the reference (regex_pulmonary_edema,
// METHODS.md §2): three keyword lists (affirmed, negated, mentioned) with a severity level per
// term, matched sentence by sentence (re.split(r'\.|:')), NegEx deciding affirmed/negated. Each
// list yields the highest level it detects (−1 = none); the label is the maximum of the three.
// Severity: 0 none, 1 vascular congestion, 2 interstitial edema, 3 alveolar edema.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "text/negex.h"

namespace cxr::text {

struct EdemaKeyword {
  int level = 0;       // 0..3
  std::string term;   // as written in the list
  std::string lower;  // ASCII lower case, for the reference's `term.lower() in sentence.lower()`
};

// One keyword list, read like the reference's pandas.read_csv(path, sep="\t"): a header naming the
// columns `pulmonary_edema_severity` and `keyword_terms` (in any order, other columns ignored),
// then one row per term; "\r\n" line ends and a missing final newline are fine, blank lines are
// skipped. Throws cxr::Error (file and line) for a missing column, a non-integer level or an
// empty term.
std::vector<EdemaKeyword> parse_edema_keywords(std::string_view contents, const std::string& source);

struct EdemaKeywords {
  std::vector<EdemaKeyword> affirmed, negated, mentioned;
  // DIR/keywords_{affirmed,negated,mentioned}.tsv
  static EdemaKeywords load_dir(const std::string& dir);
  // The project's own lists (text/data/edema/, compiled in).
  static EdemaKeywords project_default();
};

struct EdemaOptions {
  // Label only the text METHODS.md §1 extracts (Findings/Impression/Conclusion/Recommendation,
  // else Final Report) instead of the whole report. Off in the reference.
  bool sections_only = false;
  NegexOptions negex;  // window 0 = unlimited, as the reference
};

struct EdemaResult {
  int label = -1;      // max(affirmed, negated, mentioned); −1 = no keyword decided anything
  int affirmed = -1;   // highest level of an affirmed-list term that NegEx calls affirmed
  int negated = -1;    // highest level of a negated-list term that NegEx calls negated
  int mentioned = -1;  // highest level of a mentioned-list term present as a substring
  // The terms at level `label`: affirmed, then negated, then mentioned ones, each list in order of
  // first detection (the reference's relevant_keywords). Empty when label is −1.
  std::vector<std::string> keywords;
};

class EdemaLabeler {
 public:
  EdemaLabeler(EdemaKeywords keywords, Negex negex, EdemaOptions options = {});
  EdemaResult label(std::string_view report) const;

 private:
  EdemaKeywords keywords_;
  Negex negex_;
  EdemaOptions options_;
};

}  // namespace cxr::text
