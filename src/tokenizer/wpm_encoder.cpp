// WordPiece (BERT) encoding, as llama.cpp's llm_tokenizer_wpm: the text is
// normalized (accents stripped via the decomposition base, lowercased,
// control characters dropped), split at whitespace, punctuation, ASCII
// symbols and CJK ideographs; each word, prefixed with "▁" (how GGUF
// stores word-initial pieces; continuation pieces lose their "##"), is
// covered greedily by the longest tokens; a word that cannot be covered
// becomes the unknown token.
#include <algorithm>

#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode_text.h"

namespace pocketllm {

namespace {

std::vector<std::string> wpm_words(std::string_view text, bool lowercase, bool strip_accents) {
  std::vector<uint32_t> cps;
  unicode::decode(text, cps);
  std::vector<std::string> words(1);
  for (uint32_t cp : cps) {
    if (strip_accents) cp = unicode::decomposition_base(cp);
    if (unicode::is_whitespace(cp)) {
      if (!words.back().empty()) words.emplace_back();
      continue;
    }
    if (cp == 0 || cp == unicode::kReplacementChar || unicode::is_control(cp)) continue;
    if (strip_accents && unicode::is_accent_mark(cp)) continue;
    std::string utf8;
    unicode::append_utf8(utf8, lowercase ? unicode::to_lower(cp) : cp);
    if (unicode::is_punctuation(cp) || (cp < 0x7F && unicode::is_symbol(cp)) || unicode::is_cjk_ideograph(cp)) {
      if (!words.back().empty()) words.emplace_back();
      words.back() = std::move(utf8);
      words.emplace_back();
    } else {
      words.back() += utf8;
    }
  }
  if (words.back().empty()) words.pop_back();
  return words;
}

}  // namespace

void Tokenizer::encode_wpm(std::string_view text, std::vector<TokenId>& out) const {
  const std::vector<std::string> words = wpm_words(text, vocab_.lowercase, vocab_.strip_accents);
  std::string word;
  for (const std::string& bare : words) {
    if (bare.empty()) continue;
    word = "\xE2\x96\x81" + bare;
    const size_t n = word.size();
    const size_t first = out.size();
    for (size_t i = 0; i < n; ++i) {
      bool matched = false;
      for (size_t j = std::min(n, i + vocab_.max_token_length() + 1); j > i; --j) {
        const TokenId id = vocab_.find(std::string_view(word).substr(i, j - i));
        if (id != kNoToken) {
          out.push_back(id);
          matched = true;
          i = j - 1;
          break;
        }
      }
      if (!matched) {
        out.resize(first);  // all or nothing for a word
        break;
      }
    }
    if (out.size() == first) out.push_back(vocab_.unk);
  }
}

}  // namespace pocketllm
