// vocab_trainer.h — trains a WordPiece vocabulary (for `cxr vocab`) from a corpus.
// Words come from the BERT basic tokenizer (lower-cased by default). Each word starts as its
// characters, the first as-is and the rest as "##c" continuations; the vocabulary is the special
// tokens, then this alphabet (sorted), then merged symbols in the order they are learned. Each step
// merges the adjacent symbol pair with the highest corpus count (ties: the byte-wise smallest pair
// of strings), as the BPE-style WordPiece trainer of HuggingFace `tokenizers` does; a merge of
// "ab" + "##c" makes "abc", of "##a" + "##b" makes "##ab". Deterministic: the same corpus and
// options give the same file.
#pragma once

#include <string>
#include <vector>

#include "text/wordpiece.h"

namespace cxr::text {

struct VocabTrainerOptions {
  int64_t vocab_size = 8000;  // including special tokens and the alphabet
  int64_t min_frequency = 2;  // stop when the best pair occurs fewer times than this
  BasicTokenizerOptions basic{};
  // [PAD] first so that zero padding (METHODS.md §4) is the [PAD] token.
  std::vector<std::string> special_tokens = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
  int64_t max_input_chars_per_word = 100;  // longer words are [UNK] to WordPiece: not counted
};

struct VocabTrainerStats {
  int64_t documents = 0, words = 0, unique_words = 0, alphabet = 0, merges = 0;
};

Vocab train_wordpiece_vocab(const std::vector<std::string>& texts, const VocabTrainerOptions& options = {},
                            VocabTrainerStats* stats = nullptr);

}  // namespace cxr::text
