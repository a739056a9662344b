#pragma once
// Incremental detokenization for streaming generation: each push() returns
// the text that is now certain, always whole, valid UTF-8. Bytes of a
// character split across tokens (byte-fallback <0xXX> tokens, byte-level BPE
// pieces) are held back until the character is complete; bytes that can
// never form a character become U+FFFD. Pieces are llama.cpp's
// token_to_piece ("▁" as a space); optionally the leading space SentencePiece
// adds is dropped from the first token, as llama_detokenize does.
#include <string>

#include "tokenizer/tokenizer.h"

namespace pocketllm {

class StreamDecoder {
 public:
  // `special`: render control tokens' text. `strip_leading_space`: drop one
  // leading space of the first token's piece when the vocab adds a space
  // prefix; the chunks then concatenate to Tokenizer::decode(ids).
  explicit StreamDecoder(const Tokenizer& tokenizer, bool special = false, bool strip_leading_space = false);

  std::string push(TokenId id);
  // What is left at the end (an unfinished character becomes U+FFFD).
  std::string finish();

 private:
  const Tokenizer& tokenizer_;
  bool special_;
  bool strip_next_space_;
  std::string pending_;  // bytes not yet returned
};

// `bytes` as valid UTF-8: each byte that does not start a well-formed,
// shortest-form sequence becomes U+FFFD.
std::string to_valid_utf8(std::string_view bytes);

}  // namespace pocketllm
