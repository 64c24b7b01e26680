// corpus.h — report corpora as lists of documents (UTF-8 strings), for the vocabulary trainer,
// MLM pretraining and text embedding:
//   *.csv   a CSV file with a header (read with text/csv.h);
//           each row is one document, the non-empty values of the chosen columns joined by "\n"
//           (default columns "findings,impression": the IU report sections, METHODS.md §1)
//   a directory: one document per report file inside (not recursive), its Findings/Impression
//           text (extract_report_text, METHODS.md §1)
//   other   plain text: one document per non-empty line
#pragma once

#include <string>
#include <vector>

#include "text/csv.h"

namespace cxr::text {

struct Document {
  std::string id;    // "<file>:<row or line number>" or the CSV's first column value
  std::string text;
};

struct CorpusOptions {
  std::vector<std::string> csv_columns = {"findings", "impression"};
  bool skip_empty = true;  // drop documents whose text is empty
};
std::vector<Document> read_corpus(const std::vector<std::string>& paths, const CorpusOptions& options = {});

// The IU report text used throughout: findings and impression, the non-empty ones joined by "\n".
std::string join_fields(const std::vector<std::string>& values);

// Sentence split for `cxr embed-text --sentences` (not the labelers' reference split of report.h): a sentence ends at '.', '!' or '?'
// followed by whitespace or the end, and at newlines; a number followed by '.' at the start of a
// sentence ("1. ") is kept with what follows. Pieces are trimmed; empty ones dropped.
std::vector<std::string> split_embedding_sentences(const std::string& text);

}  // namespace cxr::text
