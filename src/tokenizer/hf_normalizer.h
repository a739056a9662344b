#pragma once
// The `normalizer` of a Hugging Face tokenizer.json, applied to each piece of
// text between added tokens before pre-tokenization. Nested Sequences are
// flattened into one list of steps, applied in order. Semantics follow
// tokenizers.js (what transformers.js runs); the supported types are NFC,
// NFD, NFKC, NFKD, Lowercase, StripAccents, Strip, Prepend, Replace (String or
// Regex pattern) and Sequence; anything else is an InputError at load.
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "tokenizer/unicode_regex.h"

namespace pocketllm {

class HfNormalizer {
 public:
  HfNormalizer() = default;
  // `config`: the "normalizer" value (null: no normalizer).
  explicit HfNormalizer(const nlohmann::json& config);

  bool empty() const { return steps_.empty(); }
  // `text` must be valid UTF-8.
  std::string normalize(std::string_view text) const;

 private:
  enum class Kind { Nfc, Nfd, Nfkc, Nfkd, Lowercase, StripAccents, Strip, Prepend, Replace };
  // One step; `text` is Prepend's prefix or Replace's content; `pattern` is
  // Replace's pattern (a literal is compiled as a regex too).
  struct Step {
    Kind kind = Kind::Nfc;
    std::string text;
    std::shared_ptr<UnicodeRegex> pattern;
    bool strip_left = false;
    bool strip_right = false;
  };
  static Step make_step(Kind kind) {
    Step step;
    step.kind = kind;
    return step;
  }
  void add(const nlohmann::json& config);

  std::vector<Step> steps_;
};

// JavaScript's String.prototype.trim whitespace (White_Space without U+0085,
// plus U+FEFF), which tokenizers.js uses to strip.
bool is_js_trim_space(uint32_t cp);

}  // namespace pocketllm
