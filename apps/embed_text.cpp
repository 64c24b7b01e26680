// embed_text.cpp — `cxr embed-text --checkpoint C --vocab V [--sentences] REPORT...`: the pooled BERT
// embedding tanh(W·h_[CLS] + b) of each report (METHODS.md §4: [CLS] + tokens[:318] + [SEP], eval
// mode), and with --sentences of each sentence (text/corpus.h split_embedding_sentences) encoded on its own,
// as JSON lines on stdout:
//   {"id": ..., "tokens": n, "truncated": false, "embedding": [...], "sentences": [{"text": ..., "embedding": [...]}]}
// C is a safetensors checkpoint with HF names (a BertModel's or a BertForMaskedLM's) or the
// directory cxr pretrain-text wrote; the config and vocabulary default to the files beside it.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "apps/command.h"
#include "autograd/node.h"
#include "nn/models/bert.h"
#include "tensor/file_io.h"
#include "text/corpus.h"
#include "text/wordpiece.h"

namespace cxr::apps {
namespace {
struct EmbedArgs {
  std::string checkpoint, config, vocab;
  std::vector<std::string> reports;
  bool sentences = false, lines = false, cased = false;
  int64_t max_seq_length = 0;  // 0: 320 (METHODS.md §4), or max_position_embeddings if smaller
  std::string device = "cpu";
};

std::vector<double> embed(nn::BertModel& model, const text::BertTokenizer& tok, const std::string& text,
                          int64_t max_seq_length, text::BertFeatures* features = nullptr) {
  text::BertFeatures f = tok.features(text, max_seq_length, /*pad=*/false);
  text::BertBatch b = text::collate({f});
  if (features) *features = f;
  const Device d = model.device();
  return model.forward(b.input_ids.to(d), b.attention_mask.to(d), b.token_type_ids.to(d)).pooled_output.select(0, 0).to_vector();
}

void run_embed(const EmbedArgs& a) {
  namespace fs = std::filesystem;
  const Device device = cuda::select_device(a.device, "embed-text");
  fs::path ckpt = a.checkpoint;
  fs::path dir = fs::is_directory(ckpt) ? ckpt : ckpt.parent_path();
  if (fs::is_directory(ckpt)) ckpt /= "model.safetensors";
  std::string config_path = a.config.empty() ? (dir / "bert_config.json").string() : a.config;
  std::string vocab_path = a.vocab.empty() ? (dir / "vocab.txt").string() : a.vocab;
  text::BertTokenizer tok = text::BertTokenizer::from_file(vocab_path, {.do_lower_case = !a.cased});
  nn::BertConfig config = nn::BertConfig::load(config_path);
  CXR_CHECK(config.vocab_size == tok.vocab().size(), "embed-text: ", config_path, " has vocab_size ", config.vocab_size,
            " but ", vocab_path, " holds ", tok.vocab().size(), " tokens");
  const int64_t max_seq_length = a.max_seq_length > 0 ? a.max_seq_length : std::min<int64_t>(320, config.max_position_embeddings);
  CXR_CHECK(max_seq_length <= config.max_position_embeddings, "embed-text: --max-seq-length ", max_seq_length,
            " exceeds max_position_embeddings ", config.max_position_embeddings);
  nn::BertModel model(config, nullptr, nn::BertInit::Zeros);
  nn::load_bert_checkpoint(model, ckpt.string());
  model.to(device);
  model.eval();
  NoGradGuard no_grad;

  std::vector<text::Document> docs;
  for (const auto& path : a.reports) {
    if (a.lines) {
      for (auto& d : text::read_corpus({path}, {.csv_columns = {"findings", "impression"}})) docs.push_back(std::move(d));
    } else {
      docs.push_back({path, read_file(path, "report")});
    }
  }
  for (const auto& d : docs) {
    text::BertFeatures f;
    nlohmann::ordered_json j;
    j["id"] = d.id;
    std::vector<double> e = embed(model, tok, d.text, max_seq_length, &f);
    j["tokens"] = f.num_wordpieces;
    j["truncated"] = f.truncated();
    j["embedding"] = e;
    if (a.sentences) {
      j["sentences"] = nlohmann::json::array();
      for (const auto& s : text::split_embedding_sentences(d.text))
        j["sentences"].push_back({{"text", s}, {"embedding", embed(model, tok, s, max_seq_length)}});
    }
    std::cout << j.dump() << '\n';
  }
  std::cout.flush();
}
}  // namespace

namespace {
CommandRun setup_embed_text(CLI::App& subcommand) {
  auto a = std::make_shared<EmbedArgs>();
  CLI::App* sub = &subcommand;
  sub->add_option("--checkpoint", a->checkpoint, "model.safetensors or a cxr pretrain-text output directory")->required();
  sub->add_option("--vocab", a->vocab, "vocab.txt (default: beside the checkpoint)");
  sub->add_option("--config", a->config, "bert_config.json (default: beside the checkpoint)");
  sub->add_flag("--sentences", a->sentences, "also embed each sentence on its own");
  sub->add_flag("--lines", a->lines, "each line of a text file (each row of a CSV) is a report");
  sub->add_flag("--cased", a->cased, "keep case and accents");
  sub->add_option("--max-seq-length", a->max_seq_length, "tokens per report, [CLS] and [SEP] included (default 320, or max_position_embeddings if smaller)");
  add_device_option(*sub, a->device);
  sub->add_option("reports", a->reports, "report files (a whole file is one report unless --lines)")->required();
  return [a] {
    run_embed(*a);
    return kExitOk;
  };
}

const CommandRegistration registration("embed-text", "pooled BERT embeddings of reports (and sentences) as JSON lines", setup_embed_text);
}  // namespace

}  // namespace cxr::apps
