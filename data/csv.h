// csv.h — CSV reading and writing (RFC 4180) for manifests, label files and dataset metadata:
// fields separated by a delimiter (',' by default), optionally in double quotes, inside which the
// delimiter, line breaks (LF or CRLF) and doubled quotes ("") are literal. Records end with LF or
// CRLF; a UTF-8 byte-order mark is skipped; blank lines between records are ignored. Every error
// is a cxr::Error naming the file and the line.
// (branch `labeler` has cxr::text::parse_csv with the same rules; to be merged into one.)
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace cxr::data {

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
// for an unterminated quoted field, a character after a closing quote, or a wrong field count.
CsvTable parse_csv(std::string_view text, const std::string& source, const CsvOptions& options = {});
CsvTable read_csv(const std::string& path, const CsvOptions& options = {});

// One field, quoted when it holds the delimiter, a quote, CR or LF, or leading/trailing blanks.
std::string csv_field(std::string_view s, char delimiter = ',');
// A record: the fields joined by the delimiter, ended with "\n".
std::string csv_record(const std::vector<std::string>& fields, char delimiter = ',');
// Writes header + rows atomically (temporary file, then rename).
void write_csv(const std::string& path, const std::vector<std::string>& header,
               const std::vector<std::vector<std::string>>& rows, char delimiter = ',');

// Reads a whole (text) file; throws cxr::Error naming it. Shared by the data/ readers.
std::string read_text_file(const std::string& path);
// Writes a file atomically (a temporary in the same directory, then rename).
void write_text_file(const std::string& path, const std::string& text);

}  // namespace cxr::data
