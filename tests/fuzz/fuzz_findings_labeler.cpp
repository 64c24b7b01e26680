// fuzz_findings_labeler.cpp — fuzz harness for the CheXpert-style findings labeler (text/findings.h):
// the input labelled with the project's phrase and trigger lists (sections only, and the whole
// text), and parsed as a phrase list (FindingsPhrases::parse). Properties: every label is one of
// 1, 0, -1, -2; every mention names an observation and a value.
#include "fuzz_common.h"
#include "text/findings.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cxr;
  static const text::FindingsLabeler sections = text::FindingsLabeler::project_default();
  static const text::FindingsLabeler whole = text::FindingsLabeler::project_default({.sections_only = false, .max_gap = 3});
  const std::string_view report(reinterpret_cast<const char*>(data), size);
  for (const text::FindingsLabeler* l : {&sections, &whole}) {
    const text::FindingsResult r = l->label(report);
    for (int v : r.labels)
      fuzz::require(v == text::kPositive || v == text::kNegative || v == text::kUncertain || v == text::kNotMentioned,
                    "findings: label values");
    for (const auto& m : r.mentions)
      fuzz::require(m.observation >= 0 && m.observation <= text::kOtherFinding &&
                        (m.value == text::kPositive || m.value == text::kNegative || m.value == text::kUncertain),
                    "findings: mention fields");
  }
  (void)text::split_findings_sentences(report);
  fuzz::expect_errors([&] {
    text::FindingsPhrases p = text::FindingsPhrases::parse(report, "fuzz.tsv");
    // A parsed list must also build a labeler that labels its own source text.
    text::FindingsLabeler mine(std::move(p), text::Negex::project_default());
    (void)mine.label(report);
  });
  return 0;
}
