#include "tokenizer/hf_added_tokens.h"

#include "tokenizer/hf_normalizer.h"
#include "tokenizer/unicode_text.h"

namespace pocketllm {

namespace {

uint64_t edge_key(int32_t node, uint8_t byte) { return (static_cast<uint64_t>(node) << 8) | byte; }

// Bytes of JavaScript trim whitespace at the start / end of text[begin, end).
size_t leading_space_bytes(std::string_view text, size_t begin, size_t end) {
  size_t pos = begin;
  while (pos < end) {
    size_t next = pos;
    if (!is_js_trim_space(unicode::decode_one(text.substr(0, end), next))) break;
    pos = next;
  }
  return pos - begin;
}

size_t trailing_space_bytes(std::string_view text, size_t begin, size_t end) {
  size_t last_non_space_end = begin;
  size_t pos = begin;
  while (pos < end) {
    size_t next = pos;
    if (!is_js_trim_space(unicode::decode_one(text.substr(0, end), next))) last_non_space_end = next;
    pos = next;
  }
  return end - last_non_space_end;
}

}  // namespace

void HfAddedTokens::add(std::string_view content, const Entry& entry) {
  if (content.empty()) return;
  int32_t node = 0;
  for (const char c : content) {
    const auto [it, inserted] = edges_.try_emplace(edge_key(node, static_cast<uint8_t>(c)), static_cast<int32_t>(nodes_.size()));
    if (inserted) nodes_.push_back(-1);
    node = it->second;
  }
  const auto index = static_cast<int32_t>(entries_.size());
  entries_.push_back(entry);
  nodes_[static_cast<size_t>(node)] = index;  // a later duplicate wins, as in a JS Map
  exact_[std::string(content)] = index;
  any_strip_ = any_strip_ || entry.lstrip || entry.rstrip;
}

const HfAddedTokens::Entry* HfAddedTokens::entry_of(int32_t node, bool parse_special) const {
  const int32_t index = nodes_[static_cast<size_t>(node)];
  if (index < 0) return nullptr;
  const Entry& entry = entries_[static_cast<size_t>(index)];
  return (entry.special && !parse_special) ? nullptr : &entry;
}

TokenId HfAddedTokens::find_exact(std::string_view text, bool parse_special) const {
  if (entries_.empty()) return kNoToken;
  const auto it = exact_.find(std::string(text));
  if (it == exact_.end()) return kNoToken;
  const Entry& entry = entries_[static_cast<size_t>(it->second)];
  return (entry.special && !parse_special) ? kNoToken : entry.id;
}

void HfAddedTokens::split(std::string_view text, bool parse_special, std::vector<Section>& sections) const {
  sections.clear();
  size_t start = 0;
  size_t i = 0;
  std::vector<const Entry*> matched;  // per section, for stripping
  while (i < text.size() && !entries_.empty()) {
    int32_t node = 0;
    const Entry* match = nullptr;
    size_t match_end = 0;
    for (size_t j = i; j < text.size(); ++j) {
      const auto it = edges_.find(edge_key(node, static_cast<uint8_t>(text[j])));
      if (it == edges_.end()) break;
      node = it->second;
      if (const Entry* entry = entry_of(node, parse_special)) {
        match = entry;
        match_end = j + 1;
      }
    }
    if (match == nullptr) {
      ++i;
      continue;
    }
    if (i > start) {
      sections.push_back({start, i, kNoToken});
      matched.push_back(nullptr);
    }
    sections.push_back({i, match_end, match->id});
    matched.push_back(match);
    i = match_end;
    start = i;
  }
  if (start < text.size()) {
    sections.push_back({start, text.size(), kNoToken});
    matched.push_back(nullptr);
  }
  if (!any_strip_) return;
  for (size_t k = 0; k < sections.size(); ++k) {
    const Entry* entry = matched[k];
    if (entry == nullptr) continue;
    if (entry->lstrip && k > 0 && sections[k - 1].token == kNoToken) {
      Section& before = sections[k - 1];
      before.end -= trailing_space_bytes(text, before.begin, before.end);
    }
    if (entry->rstrip && k + 1 < sections.size() && sections[k + 1].token == kNoToken) {
      Section& after = sections[k + 1];
      after.begin += leading_space_bytes(text, after.begin, after.end);
    }
  }
}

}  // namespace pocketllm
