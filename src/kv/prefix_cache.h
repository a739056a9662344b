#pragma once
// Automatic prefix caching (vLLM's design) over one pool of KV blocks.
//
// A full block is named by hash(parent block's hash, its block_tokens token
// ids), so a block's name covers the whole prefix up to its end. A new
// request walks its prompt block by block and reuses every block whose name
// is cached, sharing it (PagedKvCache counts references).
//
// Names are 64-bit hashes, and a hit is verified exactly: each cached block
// keeps its token ids and the serial number of its parent block (serials are
// 64-bit, unique, never reused), so a hash collision can cost a miss but never
// a wrong hit.
//
// Free cached blocks keep their content and wait in an LRU list; the pool
// hands them out again (forgetting their content) only when it has no
// never-cached free block left, least recently freed first. PagedKvCache frees
// a sequence's blocks last block first, so a chain's tail goes before its head.
#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

namespace pocketllm {

// Where a sequence's chain of cached blocks stands: its last full block.
struct PrefixChain {
  static constexpr uint64_t kRootHash = 0x70636b746c6c6d31ull;  // the "parent" of a first block
  uint64_t hash = kRootHash;
  uint64_t serial = 0;  // serial of the last block; 0 = none yet
  bool broken = false;  // a block could not be named (hash collision): later blocks are not cached
};

class PrefixCache {
 public:
  static constexpr uint32_t kNone = 0xffffffffu;

  PrefixCache(uint32_t n_blocks, uint32_t block_tokens);

  // hash(parent_hash, tokens): the name of a block holding `tokens` after the
  // prefix named `parent_hash`.
  static uint64_t block_hash(uint64_t parent_hash, std::span<const int32_t> tokens);

  // The cached block that holds `tokens` (block_tokens ids) right after
  // `chain`, verified exactly; on a hit `chain` moves onto it. kNone on a miss.
  uint32_t find(PrefixChain& chain, std::span<const int32_t> tokens) const;

  // Names `block` (full, its K/V computed) as holding `tokens` after `chain`
  // and moves `chain` onto it. If the same content is cached already in
  // another block, `block` stays unnamed and `chain` follows the cached one;
  // a different content under the same hash breaks `chain`.
  void add(PrefixChain& chain, uint32_t block, std::span<const int32_t> tokens);

  bool holds(uint32_t block) const { return entries_[block].serial != 0; }
  size_t n_cached() const { return by_hash_.size(); }

  // --- free cached blocks, in LRU order ---
  // A named block's last holder let it go: it becomes the most recent free one.
  void push_free(uint32_t block);
  // A prefix hit takes a free named block back into use.
  void take_free(uint32_t block);
  // The least recently freed named block, its name forgotten, for reuse;
  // kNone when there is none.
  uint32_t evict_oldest_free();
  uint32_t n_free() const { return n_free_; }

 private:
  struct Entry {
    uint64_t hash = 0;
    uint64_t serial = 0;         // 0 = not named
    uint64_t parent_serial = 0;  // 0 = a first block
    uint32_t lru_prev = kNone;   // free list links (only while free)
    uint32_t lru_next = kNone;
    bool in_lru = false;
  };

  std::span<const int32_t> tokens_of(uint32_t block) const;
  void forget(uint32_t block);

  uint32_t block_tokens_;
  std::vector<Entry> entries_;        // [n_blocks]
  std::vector<int32_t> tokens_;       // [n_blocks * block_tokens] token ids of named blocks
  std::unordered_map<uint64_t, uint32_t> by_hash_;  // name -> block
  uint64_t next_serial_ = 1;
  uint32_t lru_head_ = kNone;  // least recently freed
  uint32_t lru_tail_ = kNone;  // most recently freed
  uint32_t n_free_ = 0;
};

}  // namespace pocketllm
