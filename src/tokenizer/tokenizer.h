#pragma once
// Text <-> token ids for a Vocab, with llama.cpp's rules (llama-vocab.cpp):
//   encode: special-token texts are cut out of the text first (control and
//   unknown tokens only when parse_special; user-defined tokens always), then
//   each remaining piece is tokenized by the vocab's algorithm: SentencePiece
//   bigram merging by score with byte fallback (SPM), byte-level BPE by merge
//   rank after regex pre-tokenization (BPE), greedy longest-match WordPiece
//   (WPM). add_special adds BOS/EOS (SEP for WPM) as the model asks.
//   decode: token pieces concatenated; SPM's leading space dropped; optional
//   clean_up_tokenization_spaces.
// A tokenizer loaded from a Hugging Face tokenizer.json follows
// tokenizers.js instead (hf_pipeline.h): there every added token is matched
// in text when parse_special (only the non-special ones otherwise), and
// add_special adds the post-processor's tokens.
// All methods are const and thread-safe.
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/vocab.h"

namespace pocketllm {

struct HfPipeline;

class Tokenizer {
 public:
  explicit Tokenizer(Vocab vocab);
  Tokenizer(Vocab vocab, std::shared_ptr<const HfPipeline> hf);
  static Tokenizer from_gguf(const GgufFile& file);
  // A Hugging Face model folder: tokenizer.json and (when present)
  // tokenizer_config.json (hf_tokenizer_json.h). InputError naming the file.
  static Tokenizer from_hf_dir(const std::string& dir);
  // The parsed tokenizer.json and tokenizer_config.json (null when absent).
  static Tokenizer from_hf_json(const nlohmann::json& tokenizer, const nlohmann::json& config);

  bool is_hf() const { return hf_ != nullptr; }

  const Vocab& vocab() const { return vocab_; }

  std::vector<TokenId> encode(std::string_view text, bool add_special, bool parse_special) const;
  void encode(std::string_view text, bool add_special, bool parse_special, std::vector<TokenId>& out) const;

  // One token's text (llama_token_to_piece): control and unknown tokens give
  // their text only when `special`; up to `lstrip` leading spaces are dropped.
  void append_piece(TokenId id, bool special, std::string& out, size_t lstrip = 0) const;
  std::string piece(TokenId id, bool special) const;

  // llama_detokenize: remove_special drops a leading BOS / trailing EOS the
  // model adds; unparse_special renders control tokens' text.
  std::string decode(std::span<const TokenId> ids, bool remove_special = false, bool unparse_special = false) const;

 private:
  struct Fragment {
    TokenId token;  // kNoToken for raw text
    size_t begin;
    size_t end;
  };
  void partition(std::string_view text, bool parse_special, std::vector<Fragment>& fragments) const;
  void encode_spm(std::string_view text, std::vector<TokenId>& out) const;
  void encode_bpe(std::string_view text, std::vector<TokenId>& out) const;
  void encode_wpm(std::string_view text, std::vector<TokenId>& out) const;
  void encode_hf(std::string_view text, bool add_special, bool parse_special, std::vector<TokenId>& out) const;
  void encode_hf_piece(std::string_view text, size_t section_index, bool parse_special, std::vector<TokenId>& out) const;
  std::string decode_hf(std::span<const TokenId> ids, bool remove_special, bool unparse_special) const;

  Vocab vocab_;
  std::shared_ptr<const HfPipeline> hf_;  // set for a tokenizer.json tokenizer
  bool byte_level_pieces_ = false;        // token texts are GPT-2 byte characters
  PreTokenizer pre_tokenizer_;
  std::vector<int32_t> byte_symbols_;  // BPE: byte -> symbol id of its byte-level character (-1: none)
};

}  // namespace pocketllm
