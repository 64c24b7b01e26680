// fuzz_negex.cpp — fuzz harness for NegEx (text/negex.h): the input is "sentence\nphrase" (the
// first byte's low bits pick a window); is_negated and tag with the project's triggers, then the
// whole input parsed as a trigger file and, when it parses, used on the same sentence.
#include "fuzz_common.h"
#include "text/negex.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cxr;
  if (size == 0) return 0;
  const text::NegexOptions options{.window = data[0] & 7};
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  const auto parts = fuzz::split_once(input, "\n");
  const std::string_view sentence = parts.first, phrase = parts.second;
  const text::Negex& negex = text::Negex::project_default();
  const bool negated = negex.is_negated(sentence, phrase, options);
  const std::string tagged = negex.tag(sentence, phrase, options);
  fuzz::require(negated == (tagged.find("[NEGATED]") != std::string::npos), "negex: is_negated agrees with tag");
  (void)negex.tag_triggers(sentence);
  fuzz::expect_errors([&] {
    const text::Negex mine = text::Negex::parse(input, "fuzz_triggers.txt");
    (void)mine.is_negated(sentence, phrase, options);
  });
  return 0;
}
