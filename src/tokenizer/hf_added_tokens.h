#pragma once
// Added tokens of a Hugging Face tokenizer.json, cut out of text before
// normalization (or after it, for tokens with normalized=true), the way
// tokenizers.js does it: scanning left to right, at each position the
// longest added token that starts there wins (leftmost-longest); then an
// added token with lstrip / rstrip trims the whitespace of the text piece
// before / after it. Matching is on bytes, which for UTF-8 is the same as on
// characters.
//
// Layout: a byte trie; nodes_[n] is the token id that ends at node n (or
// kNoToken), edges_ maps (node << 8 | byte) to the child node.
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/vocab.h"

namespace pocketllm {

class HfAddedTokens {
 public:
  struct Entry {
    TokenId id;
    bool special;  // skipped when special tokens are not parsed
    bool lstrip;
    bool rstrip;
  };
  // A piece of the cut text: bytes [begin, end), an added token or raw text.
  struct Section {
    size_t begin;
    size_t end;
    TokenId token;  // kNoToken for raw text
  };

  void add(std::string_view content, const Entry& entry);
  bool empty() const { return entries_.empty(); }
  // The added token whose text is exactly `text` (kNoToken when none).
  TokenId find_exact(std::string_view text, bool parse_special) const;

  // Cuts `text`; raw sections may be empty after stripping.
  void split(std::string_view text, bool parse_special, std::vector<Section>& sections) const;

 private:
  const Entry* entry_of(int32_t node, bool parse_special) const;

  std::vector<int32_t> nodes_ = {-1};  // node -> index in entries_, -1: none
  std::unordered_map<uint64_t, int32_t> edges_;
  std::vector<Entry> entries_;
  std::unordered_map<std::string, int32_t> exact_;  // content -> index in entries_
  bool any_strip_ = false;
};

}  // namespace pocketllm
