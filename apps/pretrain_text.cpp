// pretrain_text.cpp — `cxr pretrain-text --vocab V --out DIR CORPUS...`: masked-LM pretraining of a
// BERT encoder on a report corpus (nn/models/bert_pretraining.h). The corpus (text/corpus.h) is
// tokenized (text/wordpiece.h), split into training and held-out documents (identical texts always
// fall on the same side, so the held-out score is on unseen texts), and trained with AdamW and a
// WarmupLinear schedule. DIR receives bert_config.json, vocab.txt, model.safetensors (HF names),
// optional checkpoint-<step>.safetensors, train_log.tsv and heldout.txt (the held-out document ids).
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include "apps/command.h"
#include "nn/models/bert_pretraining.h"
#include "tensor/random.h"
#include "text/corpus.h"
#include "text/wordpiece.h"

namespace cxr::apps {
namespace {
struct PretrainArgs {
  std::string vocab, out, config, init, columns = "findings,impression";
  std::vector<std::string> corpus;
  int64_t layers = 4, hidden = 256, heads = 4, ffn = 1024, max_position = 512, max_seq_length = 128;
  int64_t log_every = 10, save_every = 0;
  double heldout = 0.1;
  double dropout = -1;  // < 0: the config's (0.1 by default)
  bool cased = false;
  nn::PretrainOptions train;
};

std::string duration(double seconds) {
  auto s = static_cast<int64_t>(std::llround(seconds));
  char buf[32];
  std::snprintf(buf, sizeof buf, "%lldm%02llds", (long long)(s / 60), (long long)(s % 60));
  return buf;
}

void run_pretrain(const PretrainArgs& a) {
  namespace fs = std::filesystem;
  fs::create_directories(a.out);
  text::BertTokenizer tok = text::BertTokenizer::from_file(a.vocab, {.do_lower_case = !a.cased});
  CXR_CHECK(tok.mask_id >= 0, a.vocab, ": the vocabulary has no [MASK] token");

  nn::BertConfig config;
  if (!a.config.empty()) {
    config = nn::BertConfig::load(a.config);
  } else {
    config.num_hidden_layers = a.layers, config.hidden_size = a.hidden, config.num_attention_heads = a.heads;
    config.intermediate_size = a.ffn, config.max_position_embeddings = a.max_position;
  }
  config.vocab_size = tok.vocab().size();
  if (a.dropout >= 0) config.hidden_dropout_prob = config.attention_probs_dropout_prob = a.dropout;
  config.validate();
  CXR_CHECK(a.max_seq_length <= config.max_position_embeddings, "--max-seq-length ", a.max_seq_length,
            " exceeds max_position_embeddings ", config.max_position_embeddings);

  // Corpus -> token ids; the split groups identical texts.
  text::CorpusOptions copt;
  copt.csv_columns = CLI::detail::split(a.columns, ',');
  std::vector<text::Document> docs = text::read_corpus(a.corpus, copt);
  CXR_CHECK(!docs.empty(), "pretrain-text: the corpus has no documents");
  std::map<std::string, std::vector<size_t>> groups;  // text -> documents (ordered by text: deterministic)
  for (size_t i = 0; i < docs.size(); ++i) groups[docs[i].text].push_back(i);
  std::vector<const std::vector<size_t>*> group_list;
  for (auto& [t, idx] : groups) group_list.push_back(&idx);
  Generator split_gen(a.train.seed + 4);
  const uint64_t c = split_gen.reserve(group_list.size());
  for (size_t i = group_list.size(); i > 1; --i)
    std::swap(group_list[i - 1], group_list[static_cast<size_t>(split_gen.integer(c + i - 1, 0, int64_t(i)))]);
  const auto n_heldout = static_cast<size_t>(std::llround(a.heldout * double(group_list.size())));
  std::vector<std::vector<int64_t>> train, heldout;
  std::ofstream heldout_ids(a.out + "/heldout.txt");
  int64_t truncated = 0;
  for (size_t g = 0; g < group_list.size(); ++g) {
    const auto& idx = *group_list[g];
    text::BertFeatures f = tok.features(docs[idx[0]].text, a.max_seq_length, /*pad=*/false);
    truncated += f.truncated() * static_cast<int64_t>(idx.size());
    if (g < n_heldout) {
      heldout.push_back(f.input_ids);  // one copy of each held-out text
      for (size_t i : idx) heldout_ids << docs[i].id << '\n';
    } else {
      for (size_t k = 0; k < idx.size(); ++k) train.push_back(f.input_ids);
    }
  }
  std::sort(train.begin(), train.end());  // a canonical order before the seeded shuffles
  std::fprintf(stderr,
               "cxr pretrain-text: %zu documents (%zu distinct texts, %lld truncated to %lld tokens): %zu training "
               "sequences, %zu held-out texts\n",
               docs.size(), group_list.size(), (long long)truncated, (long long)a.max_seq_length, train.size(),
               heldout.size());

  Generator init_gen(a.train.seed);
  nn::BertForMaskedLM model(config, &init_gen, nn::BertInit::Random, a.train.seed + 5);
  if (!a.init.empty()) {
    nn::LoadReport r = nn::load_bert_checkpoint(model, a.init, /*strict=*/false);
    std::fprintf(stderr, "cxr pretrain-text: initialized from %s: %s\n", a.init.c_str(), r.describe().c_str());
  }
  std::fprintf(stderr, "cxr pretrain-text: %s, %lld parameters; %lld steps of batch %lld, lr %g, warmup %g\n",
               model.bert->extra_repr().c_str(), (long long)model.num_parameters(), (long long)a.train.steps,
               (long long)a.train.batch_size, a.train.lr, a.train.warmup_fraction);
  config.save(a.out + "/bert_config.json");
  tok.vocab().save(a.out + "/vocab.txt");

  std::ofstream log(a.out + "/train_log.tsv");
  log << "step\tloss\tlr\tmasked\tseconds\theldout_loss\theldout_accuracy\n";
  std::vector<int64_t> special = {tok.cls_id, tok.sep_id, tok.pad_id()};
  auto on_step = [&](const nn::PretrainLogRow& r) {
    char line[256];
    std::snprintf(line, sizeof line, "%lld\t%.6f\t%.6g\t%lld\t%.2f\t%.6f\t%.6f\n", (long long)r.step, r.loss, r.lr,
                  (long long)r.masked, r.seconds, r.heldout_loss, r.heldout_accuracy);
    log << line << std::flush;
    if (r.step % a.log_every == 0 || r.step == 1 || r.heldout_loss >= 0) {
      double per_step = r.seconds / double(r.step);
      std::fprintf(stderr, "[pretrain-text] step %lld/%lld  loss %.4f  lr %.2e  %.2f s/step  elapsed %s  ETA %s",
                   (long long)r.step, (long long)a.train.steps, r.loss, r.lr, per_step, duration(r.seconds).c_str(),
                   duration(per_step * double(a.train.steps - r.step)).c_str());
      if (r.heldout_loss >= 0)
        std::fprintf(stderr, "  | held-out loss %.4f, masked-token accuracy %.4f", r.heldout_loss, r.heldout_accuracy);
      std::fprintf(stderr, "\n");
    }
    if (a.save_every > 0 && r.step % a.save_every == 0 && r.step != a.train.steps)
      nn::save_checkpoint(model, a.out + "/checkpoint-" + std::to_string(r.step) + ".safetensors");
    return true;
  };
  auto rows = nn::pretrain_mlm(model, train, heldout, tok.mask_id, special, a.train, on_step);
  nn::save_checkpoint(model, a.out + "/model.safetensors",
                      {{"generator", "cxr pretrain-text"}, {"steps", std::to_string(rows.size())}});
  const auto& last = rows.back();
  std::fprintf(stderr, "cxr pretrain-text: done in %s: first loss %.4f, last loss %.4f", duration(last.seconds).c_str(),
               rows.front().loss, last.loss);
  if (last.heldout_loss >= 0)
    std::fprintf(stderr, ", held-out loss %.4f, masked-token accuracy %.4f", last.heldout_loss, last.heldout_accuracy);
  std::fprintf(stderr, "\n  -> %s/model.safetensors\n", a.out.c_str());
}
}  // namespace

namespace {
CommandRun setup_pretrain_text(CLI::App& subcommand) {
  auto a = std::make_shared<PretrainArgs>();
  CLI::App* sub = &subcommand;
  sub->add_option("--vocab", a->vocab, "vocab.txt (e.g. from cxr vocab)")->required();
  sub->add_option("--out", a->out, "output directory")->required();
  sub->add_option("corpus", a->corpus, "CSV files (columns --columns) or text files (one document per line)")->required();
  sub->add_option("--columns", a->columns, "CSV columns that make a document")->capture_default_str();
  sub->add_flag("--cased", a->cased, "keep case and accents");
  sub->add_option("--config", a->config, "bert_config.json (vocab_size is set from the vocabulary); else the options below");
  sub->add_option("--init", a->init, "start from this BERT checkpoint (safetensors, HF names) instead of random weights");
  sub->add_option("--layers", a->layers, "encoder layers")->capture_default_str();
  sub->add_option("--hidden", a->hidden, "hidden size")->capture_default_str();
  sub->add_option("--heads", a->heads, "attention heads")->capture_default_str();
  sub->add_option("--ffn", a->ffn, "feed-forward size")->capture_default_str();
  sub->add_option("--dropout", a->dropout, "hidden and attention dropout (default: the config's, 0.1)");
  sub->add_option("--max-position", a->max_position, "position embeddings")->capture_default_str();
  sub->add_option("--max-seq-length", a->max_seq_length, "tokens per sequence, [CLS] and [SEP] included")->capture_default_str();
  sub->add_option("--steps", a->train.steps, "optimizer steps")->capture_default_str();
  sub->add_option("--batch-size", a->train.batch_size, "sequences per step")->capture_default_str();
  sub->add_option("--lr", a->train.lr, "peak learning rate")->capture_default_str();
  sub->add_option("--weight-decay", a->train.weight_decay, "decoupled weight decay (not on biases / LayerNorm weights)")
      ->capture_default_str();
  sub->add_option("--warmup", a->train.warmup_fraction, "share of steps with a linear warmup")->capture_default_str();
  sub->add_flag("!--no-bias-correction", a->train.correct_bias,
                "AdamW without bias correction, as the reference fine-tuning optimizer (METHODS.md §7)");
  sub->add_option("--clip", a->train.max_grad_norm, "gradient-norm clipping (0: off)")->capture_default_str();
  sub->add_option("--heldout", a->heldout, "share of distinct texts held out")->capture_default_str();
  sub->add_option("--eval-every", a->train.eval_every, "held-out evaluation every N steps (0: at the end)")
      ->capture_default_str();
  sub->add_option("--save-every", a->save_every, "checkpoint every N steps (0: only the final model)")->capture_default_str();
  sub->add_option("--log-every", a->log_every, "progress line every N steps")->capture_default_str();
  sub->add_option("--seed", a->train.seed, "seeds initialization, masking, shuffling, dropout and the split")
      ->capture_default_str();
  return [a] {
    run_pretrain(*a);
    return kExitOk;
  };
}

const CommandRegistration registration("pretrain-text", "masked-LM pretraining of a BERT text encoder on a report corpus", setup_pretrain_text);
}  // namespace

}  // namespace cxr::apps
