#pragma once
// The `decoder` of a Hugging Face tokenizer.json: turns the token strings of
// an id sequence back into text, as a chain of steps over the list of token
// strings (tokenizers.js semantics). Supported: ByteLevel (added tokens pass
// through unchanged; runs of other tokens become bytes, decoded as UTF-8 with
// U+FFFD for ill-formed parts), Replace, ByteFallback, Fuse, Strip, Metaspace
// and Sequence. Anything else is an InputError at load.
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "tokenizer/unicode_regex.h"

namespace pocketllm {

class HfDecoder {
 public:
  HfDecoder() = default;
  // `config`: the "decoder" value (null: token strings joined by spaces).
  explicit HfDecoder(const nlohmann::json& config);

  bool has_byte_level() const { return has_byte_level_; }
  // True when the chain drops one leading space of the text (Strip start,
  // Metaspace): the SentencePiece space prefix.
  bool strips_leading_space() const { return strips_leading_space_; }

  // `added`: the contents of all added tokens (ByteLevel leaves them as is).
  std::string decode(std::vector<std::string> tokens, const std::unordered_set<std::string>& added) const;

 private:
  enum class Kind { ByteLevel, Replace, ByteFallback, Fuse, Strip, Metaspace };
  // One step; Replace: `pattern` -> `text`; Strip: `text` (one character),
  // `start`, `stop`; Metaspace: `text` (the replacement).
  struct Step {
    Kind kind = Kind::Fuse;
    std::shared_ptr<UnicodeRegex> pattern;
    std::string text;
    size_t start = 0;
    size_t stop = 0;
  };
  static Step make_step(Kind kind) {
    Step step;
    step.kind = kind;
    return step;
  }
  void add(const nlohmann::json& config);

  std::vector<Step> steps_;
  bool none_ = true;
  bool has_byte_level_ = false;
  bool strips_leading_space_ = false;
};

// tokenizers.js's clean_up_tokenization: " ." -> ".", " ?", " !", " ,",
// " ' " -> "'", " n't", " 'm", " 's", " 've", " 're", in this order.
std::string clean_up_tokenization(std::string text);

}  // namespace pocketllm
