// vocab.cpp — `cxr vocab --size N --out vocab.txt CORPUS...`: trains a WordPiece vocabulary
// (text/vocab_trainer.h) on the documents of the corpus files (text/corpus.h: CSV columns or one
// document per line) and writes it one token per line.
#include <cstdio>

#include "apps/command.h"
#include "text/corpus.h"
#include "text/vocab_trainer.h"

namespace cxr::apps {

namespace {
CommandRun setup_vocab(CLI::App& subcommand) {
  struct Args {
    int64_t size = 8000, min_frequency = 2;
    std::string out, columns = "findings,impression";
    bool cased = false;
    std::vector<std::string> corpus;
  };
  auto args = std::make_shared<Args>();
  CLI::App* sub = &subcommand;
  sub->add_option("--size", args->size, "vocabulary size, special tokens and alphabet included")->capture_default_str();
  sub->add_option("--min-frequency", args->min_frequency, "stop when the best pair occurs fewer times")
      ->capture_default_str();
  sub->add_option("--out", args->out, "output vocab.txt")->required();
  sub->add_option("--columns", args->columns, "CSV columns that make a document, comma-separated")
      ->capture_default_str();
  sub->add_flag("--cased", args->cased, "keep case and accents (default: lower-case, as METHODS.md §4)");
  sub->add_option("corpus", args->corpus, "CSV files or text files (one document per line)")->required();
  return [args] {
    text::CorpusOptions copt;
    copt.csv_columns = CLI::detail::split(args->columns, ',');
    std::vector<std::string> texts;
    for (auto& d : text::read_corpus(args->corpus, copt)) texts.push_back(std::move(d.text));
    text::VocabTrainerOptions opt;
    opt.vocab_size = args->size;
    opt.min_frequency = args->min_frequency;
    opt.basic.do_lower_case = !args->cased;
    text::VocabTrainerStats st;
    text::Vocab vocab = text::train_wordpiece_vocab(texts, opt, &st);
    vocab.save(args->out);
    std::fprintf(stderr,
                 "cxr vocab: %lld documents, %lld words (%lld distinct), alphabet %lld, %lld merges -> %lld tokens in %s\n",
                 (long long)st.documents, (long long)st.words, (long long)st.unique_words, (long long)st.alphabet,
                 (long long)st.merges, (long long)vocab.size(), args->out.c_str());
    return kExitOk;
  };
}

const CommandRegistration registration("vocab", "train a WordPiece vocabulary (vocab.txt) on a report corpus", setup_vocab);
}  // namespace

}  // namespace cxr::apps
