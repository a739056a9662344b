#pragma once
// A tokenizer vocabulary: token texts, scores and types, special-token ids,
// BOS/EOS rules and BPE merges, read from GGUF `tokenizer.ggml.*` metadata
// with llama.cpp's defaults and fix-ups (llama-vocab.cpp), so that the same
// file tokenizes the same way here and there.
//
// Layout: tokens_[id] = {text, score, attrs}; text views point into
// token_texts_ (one string per token, never moved after loading). Lookups by
// text go through one hash map of "symbols": ids below n_tokens() are
// tokens; ids above are strings that only occur inside BPE merges, so that
// merging can run on integer ids. Merges: (left id, right id) -> rank and
// result id.
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "tokenizer/pre_tokenizer.h"

namespace pocketllm {

class GgufFile;

using TokenId = int32_t;
inline constexpr TokenId kNoToken = -1;

enum class VocabKind { Spm, Bpe, Wpm };  // GGUF "llama", "gpt2", "bert"

// Token attributes (bit set, as llama.cpp's llama_token_attr).
enum TokenAttr : uint32_t {
  kAttrUndefined = 0,
  kAttrUnknown = 1u << 0,
  kAttrUnused = 1u << 1,
  kAttrNormal = 1u << 2,
  kAttrControl = 1u << 3,
  kAttrUserDefined = 1u << 4,
  kAttrByte = 1u << 5,
  kAttrLStrip = 1u << 7,  // spaces before the token are dropped when it is matched in text
  kAttrRStrip = 1u << 8,  // spaces after it likewise
};

struct TokenInfo {
  std::string_view text;
  float score = 0.0f;
  uint32_t attrs = kAttrNormal;
};

struct BpeMerge {
  int32_t rank;
  int32_t result;  // symbol id of left+right
};

class Vocab {
 public:
  // Reads `tokenizer.ggml.*`; InputError naming the key for anything missing
  // or malformed, an unknown tokenizer model or pre-tokenizer type.
  static Vocab from_gguf(const GgufFile& file);
  // Reads the model (BPE vocab and merges) and added_tokens of a Hugging
  // Face tokenizer.json, plus bos/eos/pad/unk_token of tokenizer_config.json
  // (an object, or null). Ids are those of tokenizer.json; an added token
  // whose text is also a vocab entry takes that text (as tokenizers.js).
  // InputError for anything but a BPE model, or malformed entries.
  static Vocab from_hf_json(const nlohmann::json& tokenizer, const nlohmann::json& config);

  Vocab(Vocab&&) noexcept = default;
  Vocab& operator=(Vocab&&) noexcept = default;
  Vocab(const Vocab&) = delete;
  Vocab& operator=(const Vocab&) = delete;

  VocabKind kind() const { return kind_; }
  const std::string& model_name() const { return model_name_; }  // tokenizer.ggml.model
  const std::string& pre_name() const { return pre_name_; }      // tokenizer.ggml.pre
  const PreTokenizerSpec& pre_spec() const { return pre_spec_; }

  int32_t n_tokens() const { return static_cast<int32_t>(tokens_.size()); }
  const TokenInfo& token(TokenId id) const { return tokens_[static_cast<size_t>(id)]; }
  bool is_valid(TokenId id) const { return id >= 0 && id < n_tokens(); }
  TokenId find(std::string_view text) const;         // kNoToken when absent
  int32_t find_symbol(std::string_view text) const;  // token or merge-only string; -1 when absent
  std::string_view symbol_text(int32_t symbol) const;
  const BpeMerge* find_merge(int32_t left, int32_t right) const;
  // The <0xXX> token of a byte (SPM byte fallback), else the one-byte token.
  TokenId byte_token(uint8_t byte) const;
  uint8_t token_byte(TokenId id) const;  // of a byte token (<0xXX>)
  size_t max_token_length() const { return max_token_length_; }

  // Tokens matched in raw text before pre-tokenization (control, user-defined
  // and unknown types), longest text first.
  const std::vector<TokenId>& special_tokens() const { return special_tokens_; }
  bool is_end_of_generation(TokenId id) const;

  TokenId bos = kNoToken, eos = kNoToken, eot = kNoToken, unk = kNoToken;
  TokenId sep = kNoToken, pad = kNoToken, mask = kNoToken;
  bool add_bos = false, add_eos = false, add_sep = false;
  bool add_space_prefix = false;  // SPM: a space before the text (and after each special token)
  bool clean_spaces = false;      // decode: clean_up_tokenization_spaces
  bool lowercase = true, strip_accents = true;  // WPM normalizer
  std::vector<TokenId> end_of_generation;

 private:
  Vocab() = default;
  int32_t intern(std::string_view text);  // adds a merge-only symbol when absent

  VocabKind kind_ = VocabKind::Spm;
  std::string model_name_;
  std::string pre_name_;
  PreTokenizerSpec pre_spec_;
  std::vector<std::string> token_texts_;
  std::deque<std::string> extra_symbols_;  // merge-only strings (stable addresses)
  std::vector<TokenInfo> tokens_;
  std::unordered_map<std::string_view, int32_t> symbols_;
  std::vector<std::string_view> extra_symbol_views_;  // symbol id - n_tokens -> text
  std::unordered_map<uint64_t, BpeMerge> merges_;
  std::vector<TokenId> special_tokens_;
  size_t max_token_length_ = 0;
};

}  // namespace pocketllm
