#include "tokenizer/bpe_merge.h"

#include <algorithm>

namespace pocketllm {

namespace {

// A symbol in the doubly linked list of the word; end == start once merged
// into its left neighbour.
struct LinkedSymbol {
  int32_t prev;
  int32_t next;
  int32_t id;
  uint32_t start;
  uint32_t end;
};

struct Bigram {
  int32_t rank;
  int32_t left;
  int32_t right;
  int32_t left_id;  // ids when queued: a changed symbol makes the entry stale
  int32_t right_id;
  int32_t result;
};

struct LowestRankFirst {
  bool operator()(const Bigram& a, const Bigram& b) const {
    return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
  }
};

}  // namespace

void bpe_merge(const Vocab& vocab, std::vector<BpeSymbolSpan>& spans) {
  if (spans.size() < 2) return;
  thread_local std::vector<LinkedSymbol> symbols;
  thread_local std::vector<Bigram> heap;  // max-heap by LowestRankFirst: top = lowest rank
  symbols.clear();
  heap.clear();
  for (size_t i = 0; i < spans.size(); ++i) {
    const auto index = static_cast<int32_t>(i);
    symbols.push_back({index - 1, i + 1 == spans.size() ? -1 : index + 1, spans[i].id, spans[i].start, spans[i].end});
  }
  auto try_add = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const int32_t left_id = symbols[static_cast<size_t>(left)].id;
    const int32_t right_id = symbols[static_cast<size_t>(right)].id;
    if (left_id < 0 || right_id < 0) return;
    const BpeMerge* merge = vocab.find_merge(left_id, right_id);
    if (merge == nullptr) return;
    heap.push_back({merge->rank, left, right, left_id, right_id, merge->result});
    std::push_heap(heap.begin(), heap.end(), LowestRankFirst{});
  };
  for (size_t i = 1; i < symbols.size(); ++i) try_add(static_cast<int32_t>(i - 1), static_cast<int32_t>(i));

  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), LowestRankFirst{});
    const Bigram bigram = heap.back();
    heap.pop_back();
    LinkedSymbol& left = symbols[static_cast<size_t>(bigram.left)];
    LinkedSymbol& right = symbols[static_cast<size_t>(bigram.right)];
    if (left.end == left.start || right.end == right.start) continue;
    if (left.next != bigram.right || left.id != bigram.left_id || right.id != bigram.right_id) continue;
    left.id = bigram.result;
    left.end = right.end;
    right.end = right.start;
    left.next = right.next;
    if (right.next >= 0) symbols[static_cast<size_t>(right.next)].prev = bigram.left;
    try_add(left.prev, bigram.left);
    try_add(bigram.left, left.next);
  }

  spans.clear();
  for (int32_t i = 0; i != -1; i = symbols[static_cast<size_t>(i)].next) {
    const LinkedSymbol& symbol = symbols[static_cast<size_t>(i)];
    spans.push_back({symbol.id, symbol.start, symbol.end});
  }
}

}  // namespace pocketllm
