#pragma once
// The `pre_tokenizer` of a Hugging Face tokenizer.json: cuts normalized text
// into words that BPE merges separately. Supported: Split (Regex or String
// pattern; behaviours Isolated, Removed, MergedWithPrevious, MergedWithNext;
// invert), ByteLevel (add_prefix_space, use_regex with GPT-2's regex; its
// byte-to-character mapping itself is done by the BPE model), Metaspace
// (replacement, prepend_scheme always/first/never, split), Digits and
// Sequence. Anything else is an InputError at load.
//
// Words are code point ranges over one buffer; a step that changes the text
// (ByteLevel's prefix space, Metaspace) rebuilds the buffer.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "tokenizer/unicode_regex.h"

namespace pocketllm {

// Pre-tokenized words: text[begin_i, end_i) in code points, in order.
struct HfWords {
  std::vector<uint32_t> text;
  std::vector<std::pair<size_t, size_t>> ranges;
};

class HfPreTokenizer {
 public:
  HfPreTokenizer() = default;
  // `config`: the "pre_tokenizer" value (null: the whole text is one word).
  explicit HfPreTokenizer(const nlohmann::json& config);

  // True when the last step is ByteLevel: the model maps bytes to characters.
  bool byte_level() const { return byte_level_; }

  // `section_index`: index of this text among the pieces the added tokens
  // cut the input into (Metaspace's prepend_scheme "first" uses it).
  void split(std::string_view text, size_t section_index, HfWords& words) const;

 private:
  enum class Kind { Split, ByteLevelPrefix, Metaspace };
  enum class Behavior { Isolated, Removed, MergedWithPrevious, MergedWithNext };
  // One step; Split: `regex`, `behavior`, `invert`; ByteLevelPrefix: adds a
  // space to each word that lacks one; Metaspace: `replacement` (a code
  // point), `prepend` ("always", "first", "never"), and `regex` when it splits.
  struct Step {
    Kind kind = Kind::Split;
    std::shared_ptr<UnicodeRegex> regex;
    Behavior behavior = Behavior::Isolated;
    bool invert = false;
    uint32_t replacement = 0x2581;
    std::string prepend;
  };
  void add(const nlohmann::json& config);

  std::vector<Step> steps_;
  bool byte_level_ = false;
};

}  // namespace pocketllm
