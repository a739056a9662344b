// SentencePiece (BPE-by-score) encoding, as llama.cpp's llm_tokenizer_spm:
// the text is split into UTF-8 characters; adjacent pairs whose
// concatenation is a token are merged, highest score first (ties: leftmost),
// until no pair forms a token; characters that are no token become their
// <0xXX> byte tokens.
#include <queue>

#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode_text.h"

namespace pocketllm {

namespace {

// A run of text in the doubly linked list of current pieces; n == 0 once
// merged into its left neighbour.
struct SpmSymbol {
  int32_t prev;
  int32_t next;
  uint32_t start;  // byte offset in the text
  uint32_t n;      // bytes
};

struct SpmBigram {
  float score;
  int32_t left;
  int32_t right;
  uint32_t size;  // bytes of left+right when queued (stale entries are skipped)
};

struct SpmOrder {
  bool operator()(const SpmBigram& a, const SpmBigram& b) const {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  }
};

}  // namespace

void Tokenizer::encode_spm(std::string_view text, std::vector<TokenId>& out) const {
  std::vector<SpmSymbol> symbols;
  symbols.reserve(text.size());
  for (size_t offset = 0; offset < text.size();) {
    const size_t n = std::min(unicode::sequence_length(static_cast<uint8_t>(text[offset])), text.size() - offset);
    const auto index = static_cast<int32_t>(symbols.size());
    symbols.push_back({index - 1, offset + n == text.size() ? -1 : index + 1, static_cast<uint32_t>(offset),
                       static_cast<uint32_t>(n)});
    offset += n;
  }

  std::vector<SpmBigram> storage;
  storage.reserve(symbols.size());
  std::priority_queue<SpmBigram, std::vector<SpmBigram>, SpmOrder> queue(SpmOrder{}, std::move(storage));
  auto try_add = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const SpmSymbol& l = symbols[static_cast<size_t>(left)];
    const SpmSymbol& r = symbols[static_cast<size_t>(right)];
    const TokenId id = vocab_.find(text.substr(l.start, l.n + r.n));
    if (id == kNoToken) return;
    queue.push({vocab_.token(id).score, left, right, l.n + r.n});
  };
  for (size_t i = 1; i < symbols.size(); ++i) try_add(static_cast<int32_t>(i - 1), static_cast<int32_t>(i));

  while (!queue.empty()) {
    const SpmBigram bigram = queue.top();
    queue.pop();
    SpmSymbol& left = symbols[static_cast<size_t>(bigram.left)];
    SpmSymbol& right = symbols[static_cast<size_t>(bigram.right)];
    if (left.n == 0 || right.n == 0 || left.n + right.n != bigram.size) continue;
    left.n += right.n;
    right.n = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[static_cast<size_t>(right.next)].prev = bigram.left;
    try_add(left.prev, bigram.left);
    try_add(bigram.left, left.next);
  }

  for (int32_t i = symbols.empty() ? -1 : 0; i != -1; i = symbols[static_cast<size_t>(i)].next) {
    const SpmSymbol& symbol = symbols[static_cast<size_t>(i)];
    const std::string_view piece = text.substr(symbol.start, symbol.n);
    const TokenId id = vocab_.find(piece);
    if (id != kNoToken) {
      out.push_back(id);
      continue;
    }
    for (char c : piece) {
      const TokenId byte_id = vocab_.byte_token(static_cast<uint8_t>(c));
      if (byte_id != kNoToken) out.push_back(byte_id);
    }
  }
}

}  // namespace pocketllm
