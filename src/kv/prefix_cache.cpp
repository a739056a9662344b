#include "kv/prefix_cache.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace pocketllm {
namespace {

// splitmix64's finalizer: every input bit reaches every output bit.
uint64_t mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x;
}

[[noreturn]] void fail(const std::string& what) { throw std::logic_error("PrefixCache: " + what); }

}  // namespace

PrefixCache::PrefixCache(uint32_t n_blocks, uint32_t block_tokens)
    : block_tokens_(block_tokens),
      entries_(n_blocks),
      tokens_(static_cast<size_t>(n_blocks) * block_tokens) {
  if (block_tokens == 0) fail("block_tokens must be positive");
}

uint64_t PrefixCache::block_hash(uint64_t parent_hash, std::span<const int32_t> tokens) {
  uint64_t h = mix64(parent_hash ^ (0x9e3779b97f4a7c15ull * (tokens.size() + 1)));
  for (const int32_t t : tokens) h = mix64(h ^ (static_cast<uint64_t>(static_cast<uint32_t>(t)) + 0x632be59bd9b4e019ull));
  return h;
}

std::span<const int32_t> PrefixCache::tokens_of(uint32_t block) const {
  return {tokens_.data() + static_cast<size_t>(block) * block_tokens_, block_tokens_};
}

uint32_t PrefixCache::find(PrefixChain& chain, std::span<const int32_t> tokens) const {
  if (tokens.size() != block_tokens_ || chain.broken) return kNone;
  const uint64_t hash = block_hash(chain.hash, tokens);
  const auto it = by_hash_.find(hash);
  if (it == by_hash_.end()) return kNone;
  const uint32_t block = it->second;
  const Entry& e = entries_[block];
  const std::span<const int32_t> stored = tokens_of(block);
  if (e.parent_serial != chain.serial || !std::equal(stored.begin(), stored.end(), tokens.begin())) return kNone;
  chain.hash = hash;
  chain.serial = e.serial;
  return block;
}

void PrefixCache::add(PrefixChain& chain, uint32_t block, std::span<const int32_t> tokens) {
  if (block >= entries_.size()) fail("block " + std::to_string(block) + " out of range");
  if (tokens.size() != block_tokens_) fail("a block holds exactly block_tokens tokens");
  if (chain.broken) return;
  if (holds(block)) fail("block " + std::to_string(block) + " is named already");
  PrefixChain probe = chain;
  if (find(probe, tokens) != kNone) {  // the same prefix is cached in another block
    chain = probe;
    return;
  }
  const uint64_t hash = block_hash(chain.hash, tokens);
  if (by_hash_.count(hash) != 0) {  // another content has this name: a 64-bit collision
    chain.broken = true;
    return;
  }
  Entry& e = entries_[block];
  e.hash = hash;
  e.serial = next_serial_++;
  e.parent_serial = chain.serial;
  std::copy(tokens.begin(), tokens.end(), tokens_.begin() + static_cast<std::ptrdiff_t>(block) * block_tokens_);
  by_hash_.emplace(hash, block);
  chain.hash = hash;
  chain.serial = e.serial;
}

void PrefixCache::push_free(uint32_t block) {
  Entry& e = entries_[block];
  if (e.serial == 0 || e.in_lru) fail("block " + std::to_string(block) + " is not a named block in use");
  e.in_lru = true;
  e.lru_prev = lru_tail_;
  e.lru_next = kNone;
  if (lru_tail_ != kNone) entries_[lru_tail_].lru_next = block;
  lru_tail_ = block;
  if (lru_head_ == kNone) lru_head_ = block;
  ++n_free_;
}

void PrefixCache::take_free(uint32_t block) {
  Entry& e = entries_[block];
  if (!e.in_lru) fail("block " + std::to_string(block) + " is not free");
  if (e.lru_prev != kNone) entries_[e.lru_prev].lru_next = e.lru_next;
  else lru_head_ = e.lru_next;
  if (e.lru_next != kNone) entries_[e.lru_next].lru_prev = e.lru_prev;
  else lru_tail_ = e.lru_prev;
  e.in_lru = false;
  e.lru_prev = e.lru_next = kNone;
  --n_free_;
}

void PrefixCache::forget(uint32_t block) {
  Entry& e = entries_[block];
  const auto it = by_hash_.find(e.hash);
  if (it != by_hash_.end() && it->second == block) by_hash_.erase(it);
  e.serial = 0;
  e.parent_serial = 0;
  e.hash = 0;
}

uint32_t PrefixCache::evict_oldest_free() {
  const uint32_t block = lru_head_;
  if (block == kNone) return kNone;
  take_free(block);
  forget(block);
  return block;
}

}  // namespace pocketllm
