// fuzz_csv.cpp — fuzz harness: text::parse_csv on any bytes. The first byte picks the options
// (delimiter ',', ';', '\t' or '|'; ragged rows allowed or not); the rest is the CSV text. When it
// parses, the writer round-trips it: csv_record of the header and every row, parsed again, gives
// the same table.
#include "fuzz_common.h"
#include "text/csv.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cxr;
  if (size == 0) return 0;
  text::CsvOptions options;
  options.delimiter = ",;\t|"[data[0] & 3];
  options.allow_ragged = (data[0] & 4) != 0;
  const std::string_view csv(reinterpret_cast<const char*>(data + 1), size - 1);
  text::CsvTable t;
  if (!fuzz::expect_errors([&] { t = text::parse_csv(csv, "fuzz.csv", options); })) return 0;
  fuzz::require(t.rows.size() == t.lines.size(), "parse_csv: a line per row");
  for (const auto& row : t.rows) fuzz::require(row.size() == t.header.size(), "parse_csv: rows as wide as the header");
  std::string written = text::csv_record(t.header, options.delimiter);
  for (const auto& row : t.rows) written += text::csv_record(row, options.delimiter);
  text::CsvTable back = text::parse_csv(written, "roundtrip.csv", {.delimiter = options.delimiter});
  fuzz::require(back.header == t.header && back.rows == t.rows, "csv_record round trip");
  return 0;
}
