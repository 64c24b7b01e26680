// wordpiece.h — BERT's tokenizer: a vocabulary (vocab.txt, one token per line, id = line number),
// the basic tokenizer (clean text, split CJK ideographs, whitespace split, optional lower-casing
// with accent stripping, punctuation split) and greedy longest-match-first WordPiece with "##"
// continuations, as google-research/bert tokenization.py; then the model inputs of METHODS.md §4:
//   [CLS] + tokens[:max_seq_length-2] + [SEP], zero-padded to max_seq_length (320 by default),
//   attention mask 1/0, segment ids all 0. Parity with tools/bert_tokenizer_reference.py is tested
//   on every IU report (tests/test_wordpiece.cpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tensor/tensor.h"

namespace cxr::text {

class Vocab {
 public:
  Vocab() = default;
  explicit Vocab(std::vector<std::string> tokens);
  // One token per line ('\n' stripped, and a trailing '\r'); a token repeated later takes the
  // later id, as Python's dict in the reference load_vocab.
  static Vocab load(const std::string& path);
  // Atomic (tensor/file_io.h); throws for a token that holds a line break or ends in '\r', which
  // one-per-line cannot hold.
  void save(const std::string& path) const;

  int64_t size() const { return static_cast<int64_t>(tokens_.size()); }
  std::optional<int64_t> find(std::string_view token) const;
  int64_t id(std::string_view token) const;  // throws naming the token if absent
  bool contains(std::string_view token) const { return find(token).has_value(); }
  const std::string& token(int64_t id) const;
  const std::vector<std::string>& tokens() const { return tokens_; }

 private:
  struct Hash {  // transparent: look up string_views without building strings
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::vector<std::string> tokens_;
  std::unordered_map<std::string, int64_t, Hash, std::equal_to<>> ids_;
};

struct BasicTokenizerOptions {
  bool do_lower_case = true;           // lower-case and strip accents (BERT ties the two together)
  bool tokenize_chinese_chars = true;  // surround CJK ideographs with spaces
};
// BERT's BasicTokenizer.tokenize on UTF-8 text (invalid UTF-8 throws).
std::vector<std::string> basic_tokenize(std::string_view text, const BasicTokenizerOptions& options = {});

// BERT's WordpieceTokenizer on one basic token: longest prefix in the vocab, then "##"-prefixed
// longest continuations; a word that cannot be covered, or longer than max_input_chars_per_word
// code points, becomes the single token `unk`.
std::vector<std::string> wordpiece(std::string_view word, const Vocab& vocab, const std::string& unk = "[UNK]",
                                   int64_t max_input_chars_per_word = 100);

// The model inputs for one text (METHODS.md §4).
struct BertFeatures {
  std::vector<int64_t> input_ids;       // [CLS] ids [SEP] 0 0 ...
  std::vector<int64_t> attention_mask;  // 1 for real tokens, 0 for padding
  std::vector<int64_t> token_type_ids;  // all 0
  int64_t num_wordpieces = 0;           // before truncation
  bool truncated() const;
  int64_t length() const;               // 2 + kept wordpieces
};

class BertTokenizer {
 public:
  explicit BertTokenizer(Vocab vocab, BasicTokenizerOptions options = {});
  static BertTokenizer from_file(const std::string& vocab_path, BasicTokenizerOptions options = {});

  std::vector<std::string> tokenize(std::string_view text) const;
  std::vector<int64_t> encode(std::string_view text) const;  // wordpiece ids, no special tokens
  // [CLS] + ids[:max_seq_length-2] + [SEP], padded with 0 to max_seq_length (or, with pad = false,
  // not padded: the batch collator pads).
  BertFeatures features_from_ids(const std::vector<int64_t>& ids, int64_t max_seq_length = 320,
                                 bool pad = true) const;
  BertFeatures features(std::string_view text, int64_t max_seq_length = 320, bool pad = true) const;

  const Vocab& vocab() const { return vocab_; }
  const BasicTokenizerOptions& options() const { return options_; }
  int64_t pad_id() const { return 0; }  // METHODS.md §4: zero padding, whatever vocab[0] is
  int64_t unk_id, cls_id, sep_id, mask_id;  // mask_id is -1 when the vocab has no [MASK]

 private:
  Vocab vocab_;
  BasicTokenizerOptions options_;
};

// Stacks features into int64 tensors (B, L), L = the longest sequence; shorter ones are padded
// with id 0 and mask 0.
struct BertBatch {
  Tensor input_ids, attention_mask, token_type_ids;
};
BertBatch collate(const std::vector<BertFeatures>& features);

// FNV-1a (64-bit) over a sequence of int64 values and over bytes; the tokenizer parity fixture
// stores these per report.
uint64_t fnv1a_ids(const std::vector<int64_t>& ids);
uint64_t fnv1a_bytes(std::string_view bytes);

}  // namespace cxr::text
