#include "tokenizer/stream_decoder.h"

#include "tokenizer/unicode_text.h"

namespace pocketllm {

std::string to_valid_utf8(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  size_t pos = 0;
  while (pos < bytes.size()) {
    const size_t start = pos;
    const uint32_t cp = unicode::decode_one(bytes, pos);
    const size_t before = out.size();
    unicode::append_utf8(out, cp);
    // An overlong form re-encodes shorter: its first byte is invalid.
    if (cp != unicode::kReplacementChar && out.size() - before != pos - start) {
      out.resize(before);
      unicode::append_utf8(out, unicode::kReplacementChar);
      pos = start + 1;
    }
  }
  return out;
}

StreamDecoder::StreamDecoder(const Tokenizer& tokenizer, bool special, bool strip_leading_space)
    : tokenizer_(tokenizer),
      special_(special),
      strip_next_space_(strip_leading_space && tokenizer.vocab().add_space_prefix) {}

std::string StreamDecoder::push(TokenId id) {
  // Only the very first token loses its space (as llama_detokenize).
  tokenizer_.append_piece(id, special_, pending_, strip_next_space_ ? 1 : 0);
  strip_next_space_ = false;
  const size_t hold = unicode::incomplete_suffix_length(pending_);
  std::string ready = to_valid_utf8(std::string_view(pending_).substr(0, pending_.size() - hold));
  pending_.erase(0, pending_.size() - hold);
  return ready;
}

std::string StreamDecoder::finish() {
  std::string rest = to_valid_utf8(pending_);
  pending_.clear();
  return rest;
}

}  // namespace pocketllm
