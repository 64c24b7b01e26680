// fuzz_vocab.cpp — fuzz harness: any bytes as vocab.txt through text::Vocab::load and a
// BertTokenizer on it (which needs [UNK], [CLS], [SEP]). When it loads, save + load give the same
// tokens and ids back.
#include "fuzz_common.h"
#include "text/wordpiece.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cxr;
  const std::string path = fuzz::scratch_file("vocab.txt", {reinterpret_cast<const char*>(data), size});
  text::Vocab v;
  if (!fuzz::expect_errors([&] { v = text::Vocab::load(path); })) return 0;
  for (int64_t i = 0; i < v.size(); ++i) fuzz::require(v.find(v.token(i)).has_value(), "vocab: every token found");
  const std::string copy = fuzz::scratch_dir() + "/vocab-copy.txt";
  if (fuzz::expect_errors([&] { v.save(copy); })) {
    const text::Vocab back = text::Vocab::load(copy);
    fuzz::require(back.tokens() == v.tokens(), "vocab: save + load round trip");
  }
  fuzz::expect_errors([&] {
    const text::BertTokenizer tok(v);
    (void)tok.features("No pleural effusion. Heart size is normal.", 32);
  });
  return 0;
}
