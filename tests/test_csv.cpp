// test_csv.cpp — text/csv: quoted fields with delimiters, quotes and line breaks, CRLF, BOM, blank
// lines, trailing delimiters, round trips through csv_record, and errors that name file and line.
#include <string>

#include "testing.h"
#include "text/csv.h"

using namespace cxr;
using namespace cxr::testing;
using namespace cxr::text;

TEST_CASE("parse_csv: quoted fields hold commas, doubled quotes and line breaks") {
  CsvTable t = parse_csv("id,text,n\n1,\"a, b\",2\n2,\"say \"\"hi\"\"\nsecond line\",3\n3,,\n", "t.csv");
  REQUIRE(t.header == std::vector<std::string>{"id", "text", "n"});
  REQUIRE(t.rows.size() == 3);
  CHECK(t.rows[0][1] == "a, b");
  CHECK(t.rows[1][1] == "say \"hi\"\nsecond line");
  CHECK(t.rows[2] == std::vector<std::string>{"3", "", ""});
  CHECK(t.lines == std::vector<int64_t>{2, 3, 5});  // the quoted line break counts
  CHECK(t.column("n") == 2);
  CHECK(t.column("missing") == -1);
  CHECK(t.where(1) == "t.csv:3");
}

TEST_CASE("parse_csv: CRLF, a byte-order mark, blank lines and no final newline") {
  CsvTable t = parse_csv("\xEF\xBB\xBFid,v\r\n\r\na,\"x\r\ny\"\r\nb,2", "crlf.csv");
  REQUIRE(t.header == std::vector<std::string>{"id", "v"});
  REQUIRE(t.rows.size() == 2);
  CHECK(t.rows[0][1] == "x\r\ny");  // line breaks inside quotes are kept as written
  CHECK(t.rows[1] == std::vector<std::string>{"b", "2"});
  CHECK(t.lines == std::vector<int64_t>{3, 5});
  // Other delimiters.
  CsvTable tsv = parse_csv("a\tb\n1\t\"x\ty\"\n", "t.tsv", {.delimiter = '\t'});
  CHECK(tsv.rows[0][1] == "x\ty");
}

TEST_CASE("parse_csv: a lone CR ends a record as LF does, and counts as a line") {
  CsvTable t = parse_csv("id,v\r1,\"a\rb\"\r\r2,x\r", "cr.csv");
  REQUIRE(t.rows.size() == 2);
  CHECK(t.rows[0] == std::vector<std::string>{"1", "a\rb"});  // inside quotes it is kept
  CHECK(t.rows[1] == std::vector<std::string>{"2", "x"});
  CHECK(t.lines == std::vector<int64_t>{2, 5});
  CHECK(contains(error_of([] { parse_csv("a,b\r1,2\r3\r", "cr.csv"); }), "cr.csv:3: expected 2 fields"));
}

TEST_CASE("parse_csv: errors name the file and the line") {
  CHECK(contains(error_of([] { parse_csv("a,b\n1,2\n3\n", "f.csv"); }), "f.csv:3: expected 2 fields"));
  CHECK(contains(error_of([] { parse_csv("a,b\n1,\"open\n\n", "f.csv"); }), "f.csv:2: unterminated quoted field"));
  CHECK(contains(error_of([] { parse_csv("a,b\n1,\"x\"y\n", "f.csv"); }), "f.csv:2: unexpected character 'y'"));
  CHECK(contains(error_of([] { parse_csv("a,b\n1,x\"y\n", "f.csv"); }), "f.csv:2: a double quote inside an unquoted field"));
  CHECK(contains(error_of([] { parse_csv("", "empty.csv"); }), "empty.csv: empty CSV"));
  CHECK(contains(error_of([] { read_csv("/nonexistent/x.csv"); }), "/nonexistent/x.csv: no such file"));
  CsvTable t = parse_csv("a,b\n1,2\n", "f.csv");
  CHECK(contains(error_of([&] { t.require_column("c"); }), "f.csv: missing column 'c' (columns: a, b)"));
  // Ragged rows are accepted on request.
  CsvTable r = parse_csv("a,b,c\n1,2\n1,2,3,,\n", "r.csv", {.allow_ragged = true});
  CHECK(r.rows[0] == std::vector<std::string>{"1", "2", ""});
  CHECK(r.rows[1] == std::vector<std::string>{"1", "2", "3"});
}

TEST_CASE("csv_record round-trips awkward fields") {
  const std::vector<std::string> fields = {"plain", "with,comma", "with \"quotes\"", "two\nlines", "crlf\r\nend", "", " padded "};
  CHECK(csv_field("plain") == "plain");
  CHECK(csv_field("a,b") == "\"a,b\"");
  CHECK(csv_field("a\"b") == "\"a\"\"b\"");
  std::string text = csv_record({"a", "b", "c", "d", "e", "f", "g"}) + csv_record(fields) + csv_record({"x", "", "", "", "", "", ""});
  CsvTable t = parse_csv(text, "rt.csv");
  REQUIRE(t.rows.size() == 2);
  CHECK(t.rows[0] == fields);
  // A single empty field survives (it is quoted, not a blank line).
  CsvTable one = parse_csv(csv_record({"h"}) + csv_record({""}), "one.csv");
  CHECK(one.rows.size() == 1);
}
