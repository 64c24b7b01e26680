// csv.h — the project's one CSV reader and writer (RFC 4180), for manifests, label files, dataset
// metadata and reports kept in CSV columns: fields separated by a delimiter (',' by default),
// optionally in double quotes, inside which the delimiter, line breaks and doubled quotes ("") are
// literal. Records end with LF, CRLF or a lone CR (as Python's csv module and pandas read them); a
// UTF-8 byte-order mark is skipped; blank lines between records are ignored. Line numbers count
// line breaks, whichever kind. Every error is a cxr::Error naming the file and the line.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace cxr::text {

struct CsvTable {
  std::string source;                          // file name for messages
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;  // each has header.size() fields
  std::vector<int64_t> lines;                  // the line (1-based) where each row starts

  // Index of a header column, or -1.
  int64_t column(std::string_view name) const;
  // Index of a required column; throws naming the file and the columns it has.
  int64_t require_column(std::string_view name) const;
  // "file:line" of row r, for messages.
  std::string where(size_t r) const;
};

struct CsvOptions {
  char delimiter = ',';
  bool allow_ragged = false;  // pad short rows with "" and drop extra empty trailing fields
};

// Parses CSV text whose first record is the header. Throws cxr::Error naming `source` and the line
// for an unterminated quoted field, a character after a closing quote, a quote inside an unquoted
// field, or a wrong field count.
CsvTable parse_csv(std::string_view text, const std::string& source, const CsvOptions& options = {});
CsvTable read_csv(const std::string& path, const CsvOptions& options = {});

// One field, quoted when it holds the delimiter, a quote, CR or LF, or leading/trailing blanks.
std::string csv_field(std::string_view s, char delimiter = ',');
// A record: the fields joined by the delimiter, ended with "\n".
std::string csv_record(const std::vector<std::string>& fields, char delimiter = ',');
// csv_record(fields) onto a stream (the labelers' output, which may be stdout).
void write_csv_row(std::ostream& out, const std::vector<std::string>& fields);
// Writes header + rows atomically (temporary file, then rename).
void write_csv(const std::string& path, const std::vector<std::string>& header,
               const std::vector<std::vector<std::string>>& rows, char delimiter = ',');

}  // namespace cxr::text
