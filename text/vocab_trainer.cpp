// vocab_trainer.cpp — incremental pair counting for the WordPiece vocabulary trainer (see
// vocab_trainer.h). Pair counts live in a map and in an ordered set ranked by (count desc, strings
// asc), so each merge only revisits the words that contain the merged pair.
#include "text/vocab_trainer.h"

#include <map>
#include <set>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include "tensor/error.h"
#include "text/unicode.h"

namespace cxr::text {
namespace {
using Pair = std::pair<int, int>;

struct Trainer {
  std::vector<std::string> symbols;
  std::unordered_map<std::string, int> symbol_ids;
  struct Word {
    std::vector<int> syms;
    int64_t count;
  };
  std::vector<Word> words;
  std::map<Pair, int64_t> pair_count;
  std::map<Pair, std::set<int>> pair_words;  // may hold stale entries; rechecked on use
  std::set<std::tuple<int64_t, std::string, std::string, int, int>> ranking;  // (-count, a, b, ia, ib)

  int symbol(const std::string& s) {
    auto [it, inserted] = symbol_ids.emplace(s, static_cast<int>(symbols.size()));
    if (inserted) symbols.push_back(s);
    return it->second;
  }

  void add_pair(Pair p, int64_t delta, int word) {
    int64_t& c = pair_count[p];
    if (c > 0) ranking.erase({-c, symbols[p.first], symbols[p.second], p.first, p.second});
    c += delta;
    if (c > 0) ranking.insert({-c, symbols[p.first], symbols[p.second], p.first, p.second});
    if (delta > 0) pair_words[p].insert(word);
  }

  void count_word(int w, int64_t sign) {
    const auto& s = words[w].syms;
    for (size_t i = 0; i + 1 < s.size(); ++i) add_pair({s[i], s[i + 1]}, sign * words[w].count, w);
  }

  void merge(Pair p, int merged) {
    std::set<int> affected = std::move(pair_words[p]);
    pair_words.erase(p);
    for (int w : affected) {
      auto& s = words[w].syms;
      bool has = false;
      for (size_t i = 0; i + 1 < s.size(); ++i) has |= (s[i] == p.first && s[i + 1] == p.second);
      if (!has) continue;
      count_word(w, -1);
      std::vector<int> out;
      for (size_t i = 0; i < s.size(); ++i) {
        if (i + 1 < s.size() && s[i] == p.first && s[i + 1] == p.second) {
          out.push_back(merged);
          ++i;
        } else {
          out.push_back(s[i]);
        }
      }
      s = std::move(out);
      count_word(w, +1);
    }
  }
};
}  // namespace

Vocab train_wordpiece_vocab(const std::vector<std::string>& texts, const VocabTrainerOptions& options,
                            VocabTrainerStats* stats) {
  VocabTrainerStats st;
  std::map<std::string, int64_t> word_counts;
  for (const auto& t : texts) {
    ++st.documents;
    for (auto& w : basic_tokenize(t, options.basic)) ++word_counts[w], ++st.words;
  }
  st.unique_words = static_cast<int64_t>(word_counts.size());

  Trainer tr;
  std::set<std::string> alphabet;
  for (const auto& [w, count] : word_counts) {
    std::u32string cps = utf8_decode(w);
    if (static_cast<int64_t>(cps.size()) > options.max_input_chars_per_word) continue;
    Trainer::Word word{{}, count};
    for (size_t i = 0; i < cps.size(); ++i) {
      std::string s = i == 0 ? "" : "##";
      utf8_append(s, cps[i]);
      alphabet.insert(s);
      word.syms.push_back(tr.symbol(s));
    }
    tr.words.push_back(std::move(word));
  }
  st.alphabet = static_cast<int64_t>(alphabet.size());

  std::vector<std::string> vocab = options.special_tokens;
  std::unordered_set<std::string> in_vocab(vocab.begin(), vocab.end());
  CXR_CHECK(static_cast<int64_t>(vocab.size() + alphabet.size()) <= options.vocab_size,
            "train_wordpiece_vocab: vocab_size ", options.vocab_size, " is smaller than the ", vocab.size(),
            " special tokens plus the corpus alphabet of ", alphabet.size(), " symbols");
  for (const auto& a : alphabet)
    if (in_vocab.insert(a).second) vocab.push_back(a);

  for (int w = 0; w < static_cast<int>(tr.words.size()); ++w) tr.count_word(w, +1);
  while (static_cast<int64_t>(vocab.size()) < options.vocab_size && !tr.ranking.empty()) {
    auto [neg_count, a, b, ia, ib] = *tr.ranking.begin();
    if (-neg_count < options.min_frequency) break;
    std::string merged = a + (b.rfind("##", 0) == 0 ? b.substr(2) : b);
    int m = tr.symbol(merged);
    tr.merge({ia, ib}, m);
    ++st.merges;
    if (in_vocab.insert(merged).second) vocab.push_back(merged);
  }
  if (stats) *stats = st;
  return Vocab(std::move(vocab));
}

}  // namespace cxr::text
