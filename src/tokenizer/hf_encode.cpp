// Encoding and decoding with a Hugging Face tokenizer.json pipeline
// (hf_pipeline.h), step for step as tokenizers.js's Tokenizer.encode /
// decode.
#include "tokenizer/bpe_merge.h"
#include "tokenizer/hf_pipeline.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode_text.h"

namespace pocketllm {

namespace {

// The added token that a whole piece of text is (tokenizers.js checks each
// piece against its map of added-token texts before normalizing it).
TokenId exact_added_token(const HfPipeline& hf, std::string_view text, bool parse_special) {
  if (hf.exact.empty()) return kNoToken;
  const auto it = hf.exact.find(std::string(text));
  if (it == hf.exact.end() || (it->second.special && !parse_special)) return kNoToken;
  return it->second.id;
}

}  // namespace

void Tokenizer::encode_hf(std::string_view text, bool add_special, bool parse_special, std::vector<TokenId>& out) const {
  const HfPipeline& hf = *hf_;
  // Text that is not UTF-8 is read as a decoder would (U+FFFD per ill-formed part).
  std::string repaired;
  if (!unicode::is_valid_utf8(text)) {
    repaired = unicode::replace_invalid_utf8(text);
    text = repaired;
  }
  if (add_special) out.insert(out.end(), hf.prefix.begin(), hf.prefix.end());

  std::vector<HfAddedTokens::Section> sections;
  std::vector<HfAddedTokens::Section> subsections;
  hf.raw_added.split(text, parse_special, sections);
  for (size_t index = 0; index < sections.size(); ++index) {
    const HfAddedTokens::Section& section = sections[index];
    if (section.token != kNoToken) {
      out.push_back(section.token);
      continue;
    }
    const std::string_view piece = text.substr(section.begin, section.end - section.begin);
    if (piece.empty()) continue;
    if (const TokenId whole = exact_added_token(hf, piece, parse_special); whole != kNoToken) {
      out.push_back(whole);
      continue;
    }
    std::string normalized_storage;
    std::string_view normalized = piece;
    if (!hf.normalizer.empty()) {
      normalized_storage = hf.normalizer.normalize(piece);
      normalized = normalized_storage;
    }
    if (normalized.empty()) continue;
    if (hf.normalized_added.empty()) {
      encode_hf_piece(normalized, index, parse_special, out);
      continue;
    }
    hf.normalized_added.split(normalized, parse_special, subsections);
    for (const HfAddedTokens::Section& subsection : subsections) {
      if (subsection.token != kNoToken) {
        out.push_back(subsection.token);
        continue;
      }
      encode_hf_piece(normalized.substr(subsection.begin, subsection.end - subsection.begin), index, parse_special, out);
    }
  }
  if (add_special) out.insert(out.end(), hf.suffix.begin(), hf.suffix.end());
}

// One normalized piece between added tokens: pre-tokenizer, then BPE on
// each word; unknown pieces become byte tokens (byte_fallback) or unk.
void Tokenizer::encode_hf_piece(std::string_view text, size_t section_index, bool parse_special,
                                std::vector<TokenId>& out) const {
  const HfPipeline& hf = *hf_;
  if (text.empty()) return;
  if (const TokenId whole = exact_added_token(hf, text, parse_special); whole != kNoToken) {
    out.push_back(whole);
    return;
  }
  thread_local HfWords words;
  thread_local std::string word;     // UTF-8 of the current word
  thread_local std::string encoded;  // its byte-level text
  thread_local std::vector<BpeSymbolSpan> symbols;
  hf.pre_tokenizer.split(text, section_index, words);

  bool last_was_unk = false;  // fuse_unk: within one piece, as tokenizers.js
  auto push_unknown = [&](std::string_view bytes) {
    if (hf.byte_fallback) {
      bool all = true;
      for (const char c : bytes) all = all && hf.byte_tokens[static_cast<uint8_t>(c)] != kNoToken;
      if (all) {
        for (const char c : bytes) out.push_back(hf.byte_tokens[static_cast<uint8_t>(c)]);
        last_was_unk = false;
        return;
      }
    }
    if (hf.unk == kNoToken) return;  // dropped, as tokenizers.js does without an unk token
    if (hf.fuse_unk && last_was_unk) return;
    out.push_back(hf.unk);
    last_was_unk = true;
  };

  for (const auto& [begin, end] : words.ranges) {
    if (begin == end) continue;
    word.clear();
    for (size_t i = begin; i < end; ++i) unicode::append_utf8(word, words.text[i]);
    if (hf.byte_level) {
      encoded.clear();
      for (const char c : word) encoded += unicode::byte_to_char(static_cast<uint8_t>(c));
    }
    if (hf.ignore_merges) {
      const TokenId whole = vocab_.find(hf.byte_level ? encoded : word);
      if (whole != kNoToken) {
        out.push_back(whole);
        last_was_unk = whole == hf.unk;
        continue;
      }
    }
    symbols.clear();
    if (hf.byte_level) {
      for (size_t i = 0; i < word.size(); ++i) {
        symbols.push_back({byte_symbols_[static_cast<uint8_t>(word[i])], static_cast<uint32_t>(i), static_cast<uint32_t>(i + 1)});
      }
    } else {
      for (size_t pos = 0; pos < word.size();) {
        const size_t start = pos;
        unicode::decode_one(word, pos);
        symbols.push_back({vocab_.find_symbol(std::string_view(word).substr(start, pos - start)),
                           static_cast<uint32_t>(start), static_cast<uint32_t>(pos)});
      }
    }
    bpe_merge(vocab_, symbols);
    for (const BpeSymbolSpan& symbol : symbols) {
      if (symbol.id >= 0 && symbol.id < vocab_.n_tokens()) {
        out.push_back(symbol.id);
        last_was_unk = symbol.id == hf.unk;
        continue;
      }
      const std::string_view bytes = std::string_view(word).substr(symbol.start, symbol.end - symbol.start);
      if (!hf.byte_level) {
        push_unknown(bytes);
        continue;
      }
      std::string chars;
      for (const char c : bytes) chars += unicode::byte_to_char(static_cast<uint8_t>(c));
      push_unknown(chars);
    }
  }
}

std::string Tokenizer::decode_hf(std::span<const TokenId> ids, bool remove_special, bool unparse_special) const {
  const HfPipeline& hf = *hf_;
  if (remove_special) {
    size_t front = 0;
    while (front < hf.prefix.size() && front < ids.size() && ids[front] == hf.prefix[front]) ++front;
    if (front == hf.prefix.size()) ids = ids.subspan(front);
    size_t back = 0;
    while (back < hf.suffix.size() && back < ids.size() &&
           ids[ids.size() - 1 - back] == hf.suffix[hf.suffix.size() - 1 - back]) {
      ++back;
    }
    if (back == hf.suffix.size()) ids = ids.first(ids.size() - back);
  }
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (const TokenId id : ids) {
    const TokenId shown = vocab_.is_valid(id) ? id : hf.unk;
    if (shown == kNoToken) continue;
    const TokenInfo& info = vocab_.token(shown);
    if (!unparse_special && ((info.attrs & kAttrControl) || hf.extra_special.count(std::string(info.text)) != 0)) continue;
    tokens.emplace_back(info.text);
  }
  std::string text = hf.decoder.decode(std::move(tokens), hf.added_contents);
  return hf.clean_up_tokenization_spaces ? clean_up_tokenization(std::move(text)) : text;
}

}  // namespace pocketllm
