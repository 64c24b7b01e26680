// fuzz_report_sections.cpp — fuzz harness: report text through normalize_newlines,
// split_sentences, parse_sections and extract_report_text (text/report.h: "accept any bytes, never
// throw"). Properties: no '\r' after normalization; n separators give n + 1 sentences; every
// section body is a view inside the report, after its header.
#include <algorithm>

#include "fuzz_common.h"
#include "text/report.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cxr;
  const std::string report = text::normalize_newlines({reinterpret_cast<const char*>(data), size});
  fuzz::require(report.find('\r') == std::string::npos, "normalize_newlines: no CR left");
  const auto sentences = text::split_sentences(report);
  const size_t separators = size_t(std::count(report.begin(), report.end(), '.') + std::count(report.begin(), report.end(), ':'));
  fuzz::require(sentences.size() == separators + 1, "split_sentences: n separators, n + 1 pieces");
  for (const auto& s : text::parse_sections(report)) {
    fuzz::require(s.header_offset <= report.size(), "parse_sections: header inside the report");
    fuzz::require(s.body.data() >= report.data() && s.body.data() + s.body.size() <= report.data() + report.size(),
                  "parse_sections: body is a view into the report");
    fuzz::require(size_t(s.body.data() - report.data()) >= s.header_offset, "parse_sections: body after its header");
  }
  const text::Extraction e = text::extract_report_text(report);
  fuzz::require(e.text.size() <= report.size() + 64 * sentences.size(), "extract_report_text: bounded output");
  (void)text::extraction_source_name(e.source);
  return 0;
}
