// report.h — radiology report text: reading report files the way the Python reference does (text
// mode: "\r\n" and "\r" become "\n"), the reference sentence split (re.split(r'\.|:')), section
// parsing of MIMIC- and IU-style reports, and the text-extraction rule of METHODS.md §1
// (Findings/Impression/Conclusion/Recommendation sections, else the Final Report).
// All functions accept any bytes (invalid UTF-8, NUL, megabyte lines) and run in linear time.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace cxr::text {

// Reads a whole file as bytes and translates newlines as Python's text mode does ("\r\n" -> "\n",
// lone "\r" -> "\n"). Throws cxr::Error naming the file when it cannot be read.
std::string read_report_file(const std::string& path);
// The newline translation alone.
std::string normalize_newlines(std::string_view bytes);

// The reference sentence split: re.split(r'\.|:', report). Pieces may be empty; n separators give
// n + 1 pieces, so the empty report gives one empty sentence.
std::vector<std::string_view> split_sentences(std::string_view report);

// One section of a report. `name` is canonical upper case ("FINDINGS", "IMPRESSION", "CONCLUSION",
// "RECOMMENDATION", "FINAL REPORT", "INDICATION", "HISTORY", "COMPARISON", "TECHNIQUE",
// "EXAMINATION", "NOTIFICATION", "ADDENDUM", "WET READ"), another all-capitals header as written
// (e.g. "PORTABLE CHEST"), or "" for the text before the first header. `body` is the text after the
// header (and its colon) up to the next header, a view into the parsed report.
struct Section {
  std::string name;
  std::string_view body;
  size_t header_offset = 0;  // byte offset of the header in the report
};

// Splits a report into sections. A header starts a line (after optional blanks) and is either a
// known section name or alias in any case followed by a colon ("Findings:", "IMPRESSION :",
// "RECOMMENDATION(S):"), a known name alone on its line ("FINAL REPORT", "Impression"), or an
// all-capitals phrase of at most 40 characters followed by a colon ("PORTABLE AP CHEST:").
// Text before the first header becomes a section named "". Never throws.
std::vector<Section> parse_sections(std::string_view report);

// METHODS.md §1: the Findings, Impression, Conclusion and Recommendation sections (their bodies,
// stripped, in report order, joined by "\n"); when none of them has any text, the Final Report
// (everything after the FINAL REPORT header); when there is no such header either, the whole report.
enum class ExtractionSource { kSections, kFinalReport, kWholeReport };
struct Extraction {
  std::string text;
  ExtractionSource source = ExtractionSource::kWholeReport;
};
Extraction extract_report_text(std::string_view report);

const char* extraction_source_name(ExtractionSource s);

// The regular files named by `paths`: a file stands for itself; a directory stands for the regular
// files directly inside it (not recursive), sorted by name. Throws cxr::Error for a path that does
// not exist.
std::vector<std::string> expand_report_paths(const std::vector<std::string>& paths);

}  // namespace cxr::text
