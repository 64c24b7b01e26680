// wordpiece.cpp — BERT's basic + WordPiece tokenizer and the METHODS.md §4 model inputs.
// The algorithm follows google-research/bert tokenization.py step by step; every step works on
// code points (Python str characters), so lengths (the 100-character limit) count code points.
#include "text/wordpiece.h"

#include <algorithm>
#include <fstream>

#include "tensor/error.h"
#include "tensor/file_io.h"
#include "text/unicode.h"

namespace cxr::text {

// ---- Vocab ----
Vocab::Vocab(std::vector<std::string> tokens) : tokens_(std::move(tokens)) {
  for (size_t i = 0; i < tokens_.size(); ++i) ids_[tokens_[i]] = static_cast<int64_t>(i);
}

Vocab Vocab::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  CXR_CHECK(in, "Vocab::load: cannot open ", path);
  std::vector<std::string> tokens;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    tokens.push_back(line);
  }
  CXR_CHECK(!tokens.empty(), "Vocab::load: ", path, " is empty");
  return Vocab(std::move(tokens));
}

void Vocab::save(const std::string& path) const {
  // One token per line: a token holding '\n', or ending in '\r' (which load strips), cannot be
  // written so that load gives it back (found by tests/fuzz/fuzz_vocab.cpp).
  std::string text;
  for (size_t i = 0; i < tokens_.size(); ++i) {
    const std::string& t = tokens_[i];
    CXR_CHECK(t.find('\n') == std::string::npos && (t.empty() || t.back() != '\r'), "Vocab::save: ", path,
              ": token ", i, " holds a line break and cannot be written one per line");
    text += t;
    text += '\n';
  }
  write_file_atomic(path, text);
}

std::optional<int64_t> Vocab::find(std::string_view token) const {
  auto it = ids_.find(token);
  if (it == ids_.end()) return std::nullopt;
  return it->second;
}

int64_t Vocab::id(std::string_view token) const {
  auto v = find(token);
  CXR_CHECK(v.has_value(), "Vocab: token '", std::string(token), "' is not in the vocabulary (", size(), " tokens)");
  return *v;
}

const std::string& Vocab::token(int64_t id) const {
  CXR_CHECK(id >= 0 && id < size(), "Vocab: id ", id, " out of range [0, ", size(), ")");
  return tokens_[static_cast<size_t>(id)];
}

// ---- basic tokenizer ----
namespace {
// whitespace_tokenize: Python's text.strip().split() on cleaned text.
std::vector<std::u32string> split_spaces(const std::u32string& text) {
  std::vector<std::u32string> out;
  std::u32string cur;
  for (char32_t c : text) {
    if (is_python_split_space(c)) {
      if (!cur.empty()) out.push_back(std::move(cur)), cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

// _run_split_on_punc: every punctuation character is its own token.
void split_on_punctuation(const std::u32string& token, std::vector<std::u32string>& out) {
  bool start_new = true;
  for (char32_t c : token) {
    if (is_bert_punctuation(c)) {
      out.push_back(std::u32string(1, c));
      start_new = true;
    } else {
      if (start_new) out.emplace_back();
      start_new = false;
      out.back().push_back(c);
    }
  }
}
}  // namespace

std::vector<std::string> basic_tokenize(std::string_view text, const BasicTokenizerOptions& options) {
  std::u32string cps = utf8_decode(text, "basic_tokenize");
  // _clean_text: drop NUL, U+FFFD and control characters; whitespace becomes ' '.
  // _tokenize_chinese_chars: " " + ideograph + " ".
  std::u32string cleaned;
  cleaned.reserve(cps.size());
  for (char32_t c : cps) {
    if (c == 0 || c == 0xFFFD || is_bert_control(c)) continue;
    if (is_bert_whitespace(c)) {
      cleaned.push_back(U' ');
    } else if (options.tokenize_chinese_chars && is_cjk_ideograph(c)) {
      cleaned.push_back(U' ');
      cleaned.push_back(c);
      cleaned.push_back(U' ');
    } else {
      cleaned.push_back(c);
    }
  }
  std::vector<std::u32string> split;
  for (auto& token : split_spaces(cleaned)) {
    if (options.do_lower_case) token = strip_accents(unicode_lower(token));
    split_on_punctuation(token, split);
  }
  // whitespace_tokenize(" ".join(split_tokens)): drops empty pieces (accent stripping can empty a
  // token) and splits any U+2028/U+2029 left inside one.
  std::vector<std::string> out;
  for (const auto& piece : split)
    for (const auto& t : split_spaces(piece)) out.push_back(utf8_encode(t));
  return out;
}

std::vector<std::string> wordpiece(std::string_view word, const Vocab& vocab, const std::string& unk,
                                   int64_t max_input_chars_per_word) {
  std::u32string chars = utf8_decode(word, "wordpiece");
  if (static_cast<int64_t>(chars.size()) > max_input_chars_per_word) return {unk};
  // Byte offset of each code point in `word` (valid UTF-8 here), so candidates are substrings.
  std::vector<size_t> offset(chars.size() + 1, word.size());
  for (size_t i = 0, b = 0; i < chars.size(); ++i) {
    offset[i] = b;
    b += chars[i] < 0x80 ? 1 : chars[i] < 0x800 ? 2 : chars[i] < 0x10000 ? 3 : 4;
  }
  std::vector<std::string> pieces;
  std::string candidate;
  size_t start = 0;
  while (start < chars.size()) {
    size_t end = chars.size();
    bool found = false;
    while (start < end) {
      candidate.assign(start > 0 ? "##" : "");
      candidate.append(word.substr(offset[start], offset[end] - offset[start]));
      if (vocab.contains(candidate)) {
        found = true;
        break;
      }
      --end;
    }
    if (!found) return {unk};
    pieces.push_back(candidate);
    start = end;
  }
  return pieces;
}

// ---- BertTokenizer ----
BertTokenizer::BertTokenizer(Vocab vocab, BasicTokenizerOptions options)
    : vocab_(std::move(vocab)), options_(options) {
  unk_id = vocab_.id("[UNK]");
  cls_id = vocab_.id("[CLS]");
  sep_id = vocab_.id("[SEP]");
  mask_id = vocab_.find("[MASK]").value_or(-1);
}

BertTokenizer BertTokenizer::from_file(const std::string& vocab_path, BasicTokenizerOptions options) {
  return BertTokenizer(Vocab::load(vocab_path), options);
}

std::vector<std::string> BertTokenizer::tokenize(std::string_view text) const {
  std::vector<std::string> out;
  for (const auto& word : basic_tokenize(text, options_))
    for (auto& piece : wordpiece(word, vocab_)) out.push_back(std::move(piece));
  return out;
}

std::vector<int64_t> BertTokenizer::encode(std::string_view text) const {
  std::vector<int64_t> ids;
  for (const auto& t : tokenize(text)) ids.push_back(vocab_.id(t));
  return ids;
}

bool BertFeatures::truncated() const { return num_wordpieces + 2 > length(); }

int64_t BertFeatures::length() const {
  return std::count(attention_mask.begin(), attention_mask.end(), int64_t{1});
}

BertFeatures BertTokenizer::features_from_ids(const std::vector<int64_t>& ids, int64_t max_seq_length, bool pad) const {
  CXR_CHECK(max_seq_length >= 2, "BertTokenizer::features: max_seq_length must be at least 2, got ", max_seq_length);
  BertFeatures f;
  f.num_wordpieces = static_cast<int64_t>(ids.size());
  int64_t kept = std::min<int64_t>(f.num_wordpieces, max_seq_length - 2);
  f.input_ids.push_back(cls_id);
  f.input_ids.insert(f.input_ids.end(), ids.begin(), ids.begin() + kept);
  f.input_ids.push_back(sep_id);
  f.attention_mask.assign(f.input_ids.size(), 1);
  if (pad) {
    f.input_ids.resize(static_cast<size_t>(max_seq_length), pad_id());
    f.attention_mask.resize(static_cast<size_t>(max_seq_length), 0);
  }
  f.token_type_ids.assign(f.input_ids.size(), 0);
  return f;
}

BertFeatures BertTokenizer::features(std::string_view text, int64_t max_seq_length, bool pad) const {
  return features_from_ids(encode(text), max_seq_length, pad);
}

BertBatch collate(const std::vector<BertFeatures>& features) {
  CXR_CHECK(!features.empty(), "collate: no sequences");
  size_t L = 0;
  for (const auto& f : features) L = std::max(L, f.input_ids.size());
  const auto B = static_cast<int64_t>(features.size());
  BertBatch b{zeros({B, static_cast<int64_t>(L)}, {.dtype = DType::Int64}),
              zeros({B, static_cast<int64_t>(L)}, {.dtype = DType::Int64}),
              zeros({B, static_cast<int64_t>(L)}, {.dtype = DType::Int64})};
  int64_t* ids = b.input_ids.data<int64_t>();
  int64_t* mask = b.attention_mask.data<int64_t>();
  int64_t* seg = b.token_type_ids.data<int64_t>();
  for (size_t i = 0; i < features.size(); ++i) {
    const auto& f = features[i];
    std::copy(f.input_ids.begin(), f.input_ids.end(), ids + i * L);
    std::copy(f.attention_mask.begin(), f.attention_mask.end(), mask + i * L);
    std::copy(f.token_type_ids.begin(), f.token_type_ids.end(), seg + i * L);
  }
  return b;
}

uint64_t fnv1a_ids(const std::vector<int64_t>& ids) {
  uint64_t h = 14695981039346656037ull;
  for (int64_t id : ids) {
    h ^= static_cast<uint64_t>(id);
    h *= 1099511628211ull;
  }
  return h;
}

uint64_t fnv1a_bytes(std::string_view bytes) {
  uint64_t h = 14695981039346656037ull;
  for (char c : bytes) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace cxr::text
