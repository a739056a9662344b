#include "tokenizer/tokenizer.h"

#include <array>

#include "formats/gguf.h"
#include "tokenizer/hf_pipeline.h"
#include "tokenizer/unicode_text.h"

namespace pocketllm {

namespace {

bool is_ascii_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

}  // namespace

Tokenizer::Tokenizer(Vocab vocab) : Tokenizer(std::move(vocab), nullptr) {}

Tokenizer::Tokenizer(Vocab vocab, std::shared_ptr<const HfPipeline> hf) : vocab_(std::move(vocab)), hf_(std::move(hf)) {
  byte_level_pieces_ = vocab_.kind() == VocabKind::Bpe && (hf_ == nullptr || hf_->byte_level);
  if (vocab_.kind() == VocabKind::Bpe) {
    pre_tokenizer_ = PreTokenizer(vocab_.pre_spec().regexes);
    byte_symbols_.resize(256);
    for (size_t b = 0; b < 256; ++b) {
      byte_symbols_[b] = vocab_.find_symbol(unicode::byte_to_char(static_cast<uint8_t>(b)));
    }
  }
}

Tokenizer Tokenizer::from_gguf(const GgufFile& file) { return Tokenizer(Vocab::from_gguf(file)); }

std::vector<TokenId> Tokenizer::encode(std::string_view text, bool add_special, bool parse_special) const {
  std::vector<TokenId> out;
  encode(text, add_special, parse_special, out);
  return out;
}

// Cuts special-token texts out of `text`, longest token first; each token
// splits every raw fragment at each of its occurrences (llama.cpp's
// tokenizer_st_partition).
void Tokenizer::partition(std::string_view text, bool parse_special, std::vector<Fragment>& fragments) const {
  fragments.clear();
  if (text.empty()) return;
  fragments.push_back({kNoToken, 0, text.size()});
  std::array<bool, 256> present{};
  for (char c : text) present[static_cast<uint8_t>(c)] = true;

  std::vector<Fragment> next;
  for (const TokenId id : vocab_.special_tokens()) {
    const TokenInfo& info = vocab_.token(id);
    if (!parse_special && (info.attrs & (kAttrControl | kAttrUnknown))) continue;
    if (info.text.size() > text.size() || !present[static_cast<uint8_t>(info.text[0])]) continue;
    next.clear();
    bool changed = false;
    for (const Fragment& fragment : fragments) {
      if (fragment.token != kNoToken) {
        next.push_back(fragment);
        continue;
      }
      size_t base = fragment.begin;
      const std::string_view window = text.substr(0, fragment.end);
      for (size_t match = window.find(info.text, base); match != std::string_view::npos;
           match = window.find(info.text, base)) {
        size_t left_end = match;
        if (info.attrs & kAttrLStrip) {
          while (left_end > base && is_ascii_space(text[left_end - 1])) --left_end;
        }
        if (left_end > base) next.push_back({kNoToken, base, left_end});
        next.push_back({id, match, match + info.text.size()});
        base = match + info.text.size();
        if (info.attrs & kAttrRStrip) {
          while (base < fragment.end && is_ascii_space(text[base])) ++base;
        }
        changed = true;
      }
      if (base < fragment.end) next.push_back({kNoToken, base, fragment.end});
    }
    if (changed) fragments.swap(next);
  }
}

void Tokenizer::encode(std::string_view text, bool add_special, bool parse_special, std::vector<TokenId>& out) const {
  if (hf_ != nullptr) {
    encode_hf(text, add_special, parse_special, out);
    return;
  }
  std::vector<Fragment> fragments;
  partition(text, parse_special, fragments);
  switch (vocab_.kind()) {
    case VocabKind::Spm: {
      if (add_special && vocab_.add_bos) out.push_back(vocab_.bos);
      bool previous_special = true;  // the text start counts as after a special token
      std::string piece;
      for (const Fragment& fragment : fragments) {
        if (fragment.token != kNoToken) {
          out.push_back(fragment.token);
          previous_special = true;
          continue;
        }
        piece.clear();
        if (vocab_.add_space_prefix && previous_special) piece += "\xE2\x96\x81";
        for (char c : text.substr(fragment.begin, fragment.end - fragment.begin)) {
          if (c == ' ') {
            piece += "\xE2\x96\x81";  // SentencePiece's visible space
          } else {
            piece += c;
          }
        }
        encode_spm(piece, out);
        previous_special = false;
      }
      if (add_special && vocab_.add_eos) out.push_back(vocab_.eos);
      break;
    }
    case VocabKind::Bpe: {
      if (add_special && vocab_.add_bos) out.push_back(vocab_.bos);
      for (const Fragment& fragment : fragments) {
        if (fragment.token != kNoToken) {
          out.push_back(fragment.token);
        } else {
          encode_bpe(text.substr(fragment.begin, fragment.end - fragment.begin), out);
        }
      }
      if (add_special && vocab_.add_eos) out.push_back(vocab_.eos);
      break;
    }
    case VocabKind::Wpm: {
      // BERT: [CLS] text [SEP] whenever special tokens are asked for.
      if (add_special && vocab_.bos != kNoToken) out.push_back(vocab_.bos);
      for (const Fragment& fragment : fragments) {
        if (fragment.token != kNoToken) {
          out.push_back(fragment.token);
        } else {
          encode_wpm(text.substr(fragment.begin, fragment.end - fragment.begin), out);
        }
      }
      if (add_special && vocab_.sep != kNoToken) out.push_back(vocab_.sep);
      break;
    }
  }
}

void Tokenizer::append_piece(TokenId id, bool special, std::string& out, size_t lstrip) const {
  if (!vocab_.is_valid(id)) return;
  const TokenInfo& info = vocab_.token(id);
  if (!special && (info.attrs & (kAttrControl | kAttrUnknown))) return;
  const size_t start = out.size();
  // tokenizer.json decoders (Replace "▁" -> " ") rewrite added tokens too.
  const bool metaspace_added = hf_ != nullptr && !byte_level_pieces_;
  if ((info.attrs & (kAttrControl | kAttrUnknown | kAttrUserDefined)) && !metaspace_added) {
    out += info.text;
  } else if (info.attrs & (kAttrNormal | kAttrControl | kAttrUnknown | kAttrUserDefined)) {
    if (byte_level_pieces_) {
      // Byte-level: each character stands for one byte.
      size_t pos = 0;
      while (pos < info.text.size()) {
        const size_t char_start = pos;
        const int byte = unicode::char_to_byte(unicode::decode_one(info.text, pos));
        if (byte >= 0) {
          out.push_back(static_cast<char>(byte));
        } else {
          out += info.text.substr(char_start, pos - char_start);
        }
      }
    } else {
      size_t pos = 0;
      while (pos < info.text.size()) {
        if (info.text.compare(pos, 3, "\xE2\x96\x81") == 0) {
          out.push_back(' ');
          pos += 3;
        } else {
          out.push_back(info.text[pos++]);
        }
      }
    }
  } else if (info.attrs & kAttrByte) {
    out.push_back(static_cast<char>(vocab_.token_byte(id)));
  }
  size_t skip = 0;
  while (skip < lstrip && start + skip < out.size() && out[start + skip] == ' ') ++skip;
  if (skip > 0) out.erase(start, skip);
}

std::string Tokenizer::piece(TokenId id, bool special) const {
  std::string out;
  append_piece(id, special, out);
  return out;
}

std::string Tokenizer::decode(std::span<const TokenId> ids, bool remove_special, bool unparse_special) const {
  if (hf_ != nullptr) return decode_hf(ids, remove_special, unparse_special);
  bool remove_space = vocab_.add_space_prefix;
  if (remove_special && vocab_.add_bos && !ids.empty() && ids.front() == vocab_.bos) {
    remove_space = false;
    ids = ids.subspan(1);
  }
  if (remove_special && vocab_.add_eos && !ids.empty() && ids.back() == vocab_.eos) ids = ids.first(ids.size() - 1);

  std::string text;
  for (const TokenId id : ids) {
    append_piece(id, unparse_special, text, remove_space ? 1 : 0);
    remove_space = false;
  }
  if (!vocab_.clean_spaces || text.empty()) return text;

  // clean_up_tokenization_spaces, in llama.cpp's three passes.
  std::string pass1;
  pass1.push_back(text[0]);
  for (size_t i = 1; i < text.size(); ++i) {
    const char x = text[i];
    if (text[i - 1] == ' ' && (x == '?' || x == '!' || x == '.' || x == ',')) pass1.pop_back();
    pass1.push_back(x);
  }
  std::string pass2;
  pass2.push_back(pass1[0]);
  for (size_t i = 1; i < pass1.size(); ++i) {
    const char x = pass1[i];
    if (x == '\'' && i + 1 < pass1.size() && pass1[i - 1] == ' ' && pass1[i + 1] == ' ') {
      pass2.pop_back();  // " ' " -> "'"
      pass2.push_back(x);
      pass1[++i] = '\0';  // the dropped space no longer precedes anything (as llama.cpp)
      continue;
    }
    pass2.push_back(x);
  }
  std::string pass3;
  pass3.push_back(pass2[0]);
  for (size_t i = 1; i < pass2.size(); ++i) {
    const char x = pass2[i];
    if (pass2[i - 1] == ' ' && x == '\'' && i + 1 < pass2.size()) {
      const char x1 = pass2[i + 1];
      const bool s_or_m = x1 == 's' || x1 == 'm';
      const bool re_or_ve = i + 2 < pass2.size() && (x1 == 'r' || x1 == 'v') && pass2[i + 2] == 'e';
      if (s_or_m || re_or_ve) pass3.pop_back();  // " 's" " 'm" " 're" " 've"
    }
    pass3.push_back(x);
  }
  return pass3;
}

}  // namespace pocketllm
