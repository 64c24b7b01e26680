// csv.h — reading and writing CSV (RFC 4180: comma-separated, fields in double quotes may hold
// commas, quotes doubled, and line breaks; records end with "\n" or "\r\n"). Used for reports kept
// in a CSV column (the IU collection) and for the labelers' output.
#pragma once

#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace cxr::text {

struct CsvTable {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;  // each row padded or checked to header.size()
  // Index of a header column, or -1.
  int column(std::string_view name) const;
};

// Parses CSV text whose first record is the header. Every record must have as many fields as the
// header (a final empty line is allowed). Throws cxr::Error naming `source` and the line for an
// unterminated quoted field, a stray quote inside an unquoted field, or a wrong field count.
CsvTable parse_csv(std::string_view text, const std::string& source);
CsvTable read_csv(const std::string& path);

// One field, quoted when it contains a comma, quote, CR or LF (or starts/ends with a blank).
std::string csv_field(std::string_view s);
void write_csv_row(std::ostream& out, const std::vector<std::string>& fields);

}  // namespace cxr::text
