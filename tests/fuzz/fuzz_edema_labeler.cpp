// fuzz_edema_labeler.cpp — fuzz harness for the edema labeler: the input's first byte picks
// sections_only and a NegEx window; the rest is a report, labelled with the project's keyword lists
// (text/edema.h), and also parsed as a keyword list (parse_edema_keywords). Properties: levels in
// -1..3, the label is the maximum of the three lists, keywords only for a decided label.
#include <algorithm>

#include "fuzz_common.h"
#include "text/edema.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cxr;
  if (size == 0) return 0;
  static const text::EdemaLabeler plain(text::EdemaKeywords::project_default(), text::Negex::project_default());
  static const text::EdemaLabeler sections(text::EdemaKeywords::project_default(), text::Negex::project_default(),
                                           {.sections_only = true, .negex = {.window = 5}});
  const std::string_view report(reinterpret_cast<const char*>(data + 1), size - 1);
  const text::EdemaResult r = (data[0] & 1 ? sections : plain).label(report);
  for (int level : {r.label, r.affirmed, r.negated, r.mentioned})
    fuzz::require(level >= -1 && level <= 3, "edema: levels in -1..3");
  fuzz::require(r.label == std::max({r.affirmed, r.negated, r.mentioned}), "edema: label is the maximum");
  fuzz::require((r.label == -1) == r.keywords.empty(), "edema: keywords exactly for a decided label");
  fuzz::expect_errors([&] {
    for (const auto& k : text::parse_edema_keywords(report, "fuzz.tsv"))
      fuzz::require(k.level >= 0 && k.level <= 3 && !k.term.empty(), "parse_edema_keywords: level and term");
  });
  return 0;
}
