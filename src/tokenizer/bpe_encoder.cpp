// Byte-level BPE encoding, as llama.cpp's llm_tokenizer_bpe: the text is cut
// into words by the pre-tokenizer; each word's UTF-8 bytes become GPT-2
// byte characters; adjacent pairs are merged lowest merge rank first (ties:
// leftmost) until no merge applies. Merging runs on symbol ids (see Vocab).
#include <algorithm>

#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode_text.h"

namespace pocketllm {

namespace {

// One piece of a word: bytes [start, end) of the word's UTF-8, its symbol id
// (-1: its byte-level text is in no token or merge); end == start once
// merged into its left neighbour.
struct BpeSymbol {
  int32_t prev;
  int32_t next;
  int32_t id;
  uint32_t start;
  uint32_t end;
};

struct BpeBigram {
  int32_t rank;
  int32_t left;
  int32_t right;
  int32_t left_id;   // ids when queued: a changed symbol makes the entry stale
  int32_t right_id;
  int32_t result;
};

struct BpeOrder {
  bool operator()(const BpeBigram& a, const BpeBigram& b) const {
    return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
  }
};

}  // namespace

void Tokenizer::encode_bpe(std::string_view text, std::vector<TokenId>& out) const {
  std::vector<uint32_t> cps;
  cps.reserve(text.size());
  unicode::decode(text, cps);
  std::vector<size_t> lengths;
  pre_tokenizer_.split(cps, lengths);

  std::string word;     // UTF-8 of the current word
  std::string encoded;  // its byte-level text (only for ignore_merges)
  std::vector<BpeSymbol> symbols;
  std::vector<BpeBigram> heap;  // max-heap by BpeOrder: top = lowest rank
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
      const auto index = static_cast<int32_t>(i);
      symbols.push_back({index - 1, i + 1 == word.size() ? -1 : index + 1,
                         byte_symbols_[static_cast<uint8_t>(word[i])], static_cast<uint32_t>(i),
                         static_cast<uint32_t>(i + 1)});
    }
    heap.clear();
    auto try_add = [&](int32_t left, int32_t right) {
      if (left < 0 || right < 0) return;
      const int32_t left_id = symbols[static_cast<size_t>(left)].id;
      const int32_t right_id = symbols[static_cast<size_t>(right)].id;
      if (left_id < 0 || right_id < 0) return;
      const BpeMerge* merge = vocab_.find_merge(left_id, right_id);
      if (merge == nullptr) return;
      heap.push_back({merge->rank, left, right, left_id, right_id, merge->result});
      std::push_heap(heap.begin(), heap.end(), BpeOrder{});
    };
    for (size_t i = 1; i < symbols.size(); ++i) try_add(static_cast<int32_t>(i - 1), static_cast<int32_t>(i));

    while (!heap.empty()) {
      std::pop_heap(heap.begin(), heap.end(), BpeOrder{});
      const BpeBigram bigram = heap.back();
      heap.pop_back();
      BpeSymbol& left = symbols[static_cast<size_t>(bigram.left)];
      BpeSymbol& right = symbols[static_cast<size_t>(bigram.right)];
      if (left.end == left.start || right.end == right.start) continue;
      if (left.id != bigram.left_id || right.id != bigram.right_id) continue;
      left.id = bigram.result;
      left.end = right.end;
      right.end = right.start;
      left.next = right.next;
      if (right.next >= 0) symbols[static_cast<size_t>(right.next)].prev = bigram.left;
      try_add(left.prev, bigram.left);
      try_add(bigram.left, left.next);
    }

    for (int32_t i = symbols.empty() ? -1 : 0; i != -1; i = symbols[static_cast<size_t>(i)].next) {
      const BpeSymbol& symbol = symbols[static_cast<size_t>(i)];
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
