// Byte-level BPE encoding, as llama.cpp's llm_tokenizer_bpe: the text is cut
// into words by the pre-tokenizer; each word's UTF-8 bytes become GPT-2
// byte characters; adjacent pairs are merged lowest merge rank first (ties:
// leftmost) until no merge applies (bpe_merge).
#include "tokenizer/bpe_merge.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode_text.h"

namespace pocketllm {

void Tokenizer::encode_bpe(std::string_view text, std::vector<TokenId>& out) const {
  std::vector<uint32_t> cps;
  cps.reserve(text.size());
  unicode::decode(text, cps);
  std::vector<size_t> lengths;
  pre_tokenizer_.split(cps, lengths);

  std::string word;     // UTF-8 of the current word
  std::string encoded;  // its byte-level text (only for ignore_merges)
  std::vector<BpeSymbolSpan> symbols;
  size_t cp_start = 0;
  for (const size_t length : lengths) {
    word.clear();
    for (size_t i = cp_start; i < cp_start + length; ++i) unicode::append_utf8(word, cps[i]);
    cp_start += length;

    if (vocab_.pre_spec().ignore_merges) {
      encoded.clear();
      for (char c : word) encoded += unicode::byte_to_char(static_cast<uint8_t>(c));
      const TokenId whole = vocab_.find(encoded);
      if (whole != kNoToken) {
        out.push_back(whole);
        continue;
      }
    }

    symbols.clear();
    for (size_t i = 0; i < word.size(); ++i) {
      symbols.push_back({byte_symbols_[static_cast<uint8_t>(word[i])], static_cast<uint32_t>(i), static_cast<uint32_t>(i + 1)});
    }
    bpe_merge(vocab_, symbols);

    for (const BpeSymbolSpan& symbol : symbols) {
      if (symbol.id >= 0 && symbol.id < vocab_.n_tokens()) {
        out.push_back(symbol.id);
        continue;
      }
      // No token: each byte of the byte-level text on its own, when a token.
      for (uint32_t b = symbol.start; b < symbol.end; ++b) {
        for (char c : unicode::byte_to_char(static_cast<uint8_t>(word[b]))) {
          const TokenId id = vocab_.find(std::string_view(&c, 1));
          if (id != kNoToken) out.push_back(id);
        }
      }
    }
  }
}

}  // namespace pocketllm
