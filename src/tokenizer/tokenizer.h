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
// All methods are const and thread-safe.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/vocab.h"

namespace pocketllm {

class Tokenizer {
 public:
  explicit Tokenizer(Vocab vocab);
  static Tokenizer from_gguf(const GgufFile& file);

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

  Vocab vocab_;
  PreTokenizer pre_tokenizer_;
  std::vector<int32_t> byte_symbols_;  // BPE: byte -> symbol id of its byte-level character (-1: none)
};

}  // namespace pocketllm
