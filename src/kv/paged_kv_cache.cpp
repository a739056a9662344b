#include "kv/paged_kv_cache.h"

#include <cstring>
#include <new>
#include <stdexcept>
#include <string>

#include "backends/cpu/attention/fp16_convert.h"

namespace pocketllm {
namespace {

constexpr size_t kPoolAlignment = 64;

[[noreturn]] void fail(const std::string& what) { throw std::invalid_argument("PagedKvCache: " + what); }

// Writes n f32 values as `dtype` at `dst`.
void write_row(KvDtype dtype, const float* src, std::byte* dst, size_t n) {
  switch (dtype) {
    case KvDtype::F32: std::memcpy(dst, src, n * sizeof(float)); return;
    case KvDtype::F16: f32_to_f16_row(src, reinterpret_cast<uint16_t*>(dst), n); return;
  }
}

}  // namespace

size_t kv_dtype_bytes(KvDtype dtype) {
  switch (dtype) {
    case KvDtype::F32: return 4;
    case KvDtype::F16: return 2;
  }
  return 0;
}

void PagedKvCache::AlignedFree::operator()(std::byte* p) const {
  ::operator delete(p, std::align_val_t{kPoolAlignment});
}

PagedKvCache::PagedKvCache(const ModelDesc& desc, const KvCacheOptions& options)
    : options_(options),
      n_kv_heads_(desc.n_kv_heads),
      head_dim_k_(desc.head_dim_k),
      head_dim_v_(desc.head_dim_v) {
  if (options.block_tokens == 0) fail("block_tokens must be positive");
  if (desc.n_layers == 0 || n_kv_heads_ == 0 || head_dim_k_ == 0 || head_dim_v_ == 0) {
    fail("model has no layers, KV heads or head dims");
  }
  if (options.n_blocks >= kNoBlock || options.n_window_blocks >= kNoBlock) fail("too many blocks");
  const size_t slots = static_cast<size_t>(n_kv_heads_) * options.block_tokens;
  k_block_bytes_ = slots * head_dim_k_ * kv_dtype_bytes(options.k_dtype);
  v_block_bytes_ = slots * head_dim_v_ * kv_dtype_bytes(options.v_dtype);

  // Groups: full-attention layers first (if any), then sliding-window layers.
  int full_group = -1;
  int window_group = -1;
  layer_group_.resize(desc.n_layers);
  for (uint32_t layer = 0; layer < desc.n_layers; ++layer) {
    const bool sliding = desc.layer_is_sliding(layer);
    int& group = sliding ? window_group : full_group;
    if (group < 0) {
      group = static_cast<int>(groups_.size());
      Group g;
      g.window = sliding ? desc.sliding_window : 0;
      g.n_blocks = sliding && options.n_window_blocks != 0 ? options.n_window_blocks : options.n_blocks;
      groups_.push_back(std::move(g));
    }
    layer_group_[layer] = static_cast<uint32_t>(group);
  }

  // Offsets: group by group, layer by layer, all K blocks then all V blocks.
  layer_k_offset_.resize(desc.n_layers);
  layer_v_offset_.resize(desc.n_layers);
  size_t offset = 0;
  for (uint32_t group = 0; group < groups_.size(); ++group) {
    const size_t n = groups_[group].n_blocks;
    for (uint32_t layer = 0; layer < desc.n_layers; ++layer) {
      if (layer_group_[layer] != group) continue;
      layer_k_offset_[layer] = offset;
      offset += n * k_block_bytes_;
      layer_v_offset_[layer] = offset;
      offset += n * v_block_bytes_;
    }
  }
  pool_bytes_ = offset;
  if (pool_bytes_ > 0) {
    pool_.reset(static_cast<std::byte*>(::operator new(pool_bytes_, std::align_val_t{kPoolAlignment})));
  }

  for (Group& g : groups_) {
    g.free_list.resize(g.n_blocks);
    // Stack: block 0 comes out first.
    for (uint32_t i = 0; i < g.n_blocks; ++i) g.free_list[i] = g.n_blocks - 1 - i;
    g.ref_count.assign(g.n_blocks, 0);
  }
}

const KvCacheOptions& PagedKvCache::options() const { return options_; }

uint32_t PagedKvCache::blocks_for_tokens(uint32_t n_tokens, uint32_t n_seqs, uint32_t block_tokens) {
  if (block_tokens == 0) fail("block_tokens must be positive");
  const uint64_t slack = static_cast<uint64_t>(n_seqs) * (block_tokens - 1);
  const uint64_t blocks = (n_tokens + slack) / block_tokens;
  if (blocks >= kNoBlock) fail("too many blocks for " + std::to_string(n_tokens) + " tokens");
  return static_cast<uint32_t>(blocks);
}

size_t PagedKvCache::pool_bytes() const { return pool_bytes_; }

uint32_t PagedKvCache::layer_window(uint32_t layer) const { return groups_[layer_group(layer)].window; }

uint32_t PagedKvCache::layer_group(uint32_t layer) const {
  if (layer >= layer_group_.size()) fail("layer " + std::to_string(layer) + " out of range");
  return layer_group_[layer];
}

uint32_t PagedKvCache::free_blocks_in_group(uint32_t group) const {
  return static_cast<uint32_t>(groups_.at(group).free_list.size());
}

uint32_t PagedKvCache::free_blocks() const {
  uint32_t least = kNoBlock;
  for (const Group& g : groups_) {
    const auto n = static_cast<uint32_t>(g.free_list.size());
    least = n < least ? n : least;
  }
  return least;
}

bool PagedKvCache::reserve(SeqId seq, uint32_t n_new) {
  if (seq < 0) fail("negative sequence id " + std::to_string(seq));
  const auto it = seqs_.find(seq);
  const uint32_t length = it == seqs_.end() ? 0 : it->second.length;
  const uint64_t new_length = static_cast<uint64_t>(length) + n_new;
  if (new_length >= kNoBlock) return false;
  const uint32_t bt = options_.block_tokens;
  const auto have = static_cast<uint32_t>((length + bt - 1) / bt);
  const auto want = static_cast<uint32_t>((new_length + bt - 1) / bt);
  const uint32_t needed = want - have;
  for (const Group& g : groups_) {
    if (g.free_list.size() < needed) return false;
  }
  Sequence& s = it != seqs_.end() ? it->second : seqs_[seq];
  if (s.tables.empty()) {
    s.tables.resize(groups_.size());
    s.first_live.assign(groups_.size(), 0);
  }
  for (size_t gi = 0; gi < groups_.size(); ++gi) {
    Group& g = groups_[gi];
    std::vector<uint32_t>& table = s.tables[gi];
    for (uint32_t i = 0; i < needed; ++i) {
      const uint32_t block = g.free_list.back();
      g.free_list.pop_back();
      g.ref_count[block] = 1;
      table.push_back(block);
    }
  }
  s.length = static_cast<uint32_t>(new_length);
  return true;
}

void PagedKvCache::release_block(Group& group, uint32_t block) {
  if (--group.ref_count[block] == 0) group.free_list.push_back(block);
}

void PagedKvCache::free_sequence(SeqId seq) {
  const auto it = seqs_.find(seq);
  if (it == seqs_.end()) return;
  for (size_t gi = 0; gi < groups_.size(); ++gi) {
    for (const uint32_t block : it->second.tables[gi]) {
      if (block != kNoBlock) release_block(groups_[gi], block);
    }
  }
  seqs_.erase(it);
}

uint32_t PagedKvCache::sequence_length(SeqId seq) const {
  const auto it = seqs_.find(seq);
  return it == seqs_.end() ? 0 : it->second.length;
}

PagedKvCache::Sequence& PagedKvCache::sequence_or_throw(SeqId seq) {
  const auto it = seqs_.find(seq);
  if (it == seqs_.end()) fail("unknown sequence " + std::to_string(seq));
  return it->second;
}

void PagedKvCache::store(uint32_t layer, SeqId seq, uint32_t pos, const float* k, const float* v) {
  const uint32_t group = layer_group(layer);
  const Sequence& s = sequence_or_throw(seq);
  if (pos >= s.length) {
    fail("position " + std::to_string(pos) + " of sequence " + std::to_string(seq) + " not reserved");
  }
  const uint32_t bt = options_.block_tokens;
  const uint32_t block = s.tables[group][pos / bt];
  if (block == kNoBlock) fail("position " + std::to_string(pos) + " is outside the window (released)");
  const size_t slot = pos % bt;
  std::byte* kb = pool_.get() + layer_k_offset_[layer] + block * k_block_bytes_;
  std::byte* vb = pool_.get() + layer_v_offset_[layer] + block * v_block_bytes_;
  const size_t k_elem = kv_dtype_bytes(options_.k_dtype);
  const size_t v_elem = kv_dtype_bytes(options_.v_dtype);
  for (size_t h = 0; h < n_kv_heads_; ++h) {
    write_row(options_.k_dtype, k + h * head_dim_k_, kb + (h * bt + slot) * head_dim_k_ * k_elem, head_dim_k_);
    write_row(options_.v_dtype, v + h * head_dim_v_, vb + (h * bt + slot) * head_dim_v_ * v_elem, head_dim_v_);
  }
}

uint32_t PagedKvCache::release_outside_window(SeqId seq, uint32_t next_query_pos) {
  const auto it = seqs_.find(seq);
  if (it == seqs_.end()) return 0;
  Sequence& s = it->second;
  const uint32_t bt = options_.block_tokens;
  uint32_t released = 0;
  for (size_t gi = 0; gi < groups_.size(); ++gi) {
    Group& g = groups_[gi];
    if (g.window == 0) continue;
    // Queries at p >= next_query_pos see keys j > p - window, so every key
    // j <= next_query_pos - window is dead: logical blocks whose last slot
    // (i + 1) * bt - 1 is at most that.
    if (next_query_pos < g.window) continue;
    const uint64_t dead_keys = static_cast<uint64_t>(next_query_pos) - g.window + 1;
    std::vector<uint32_t>& table = s.tables[gi];
    const auto dead_blocks = static_cast<uint32_t>(
        dead_keys / bt < table.size() ? dead_keys / bt : table.size());
    for (uint32_t i = s.first_live[gi]; i < dead_blocks; ++i) {
      release_block(g, table[i]);
      table[i] = kNoBlock;
      ++released;
    }
    if (dead_blocks > s.first_live[gi]) s.first_live[gi] = dead_blocks;
  }
  return released;
}

std::span<const uint32_t> PagedKvCache::block_table(uint32_t layer, SeqId seq) const {
  const uint32_t group = layer_group(layer);
  const auto it = seqs_.find(seq);
  if (it == seqs_.end()) return {};
  return it->second.tables[group];
}

const void* PagedKvCache::k_block(uint32_t layer, uint32_t block) const {
  return pool_.get() + layer_k_offset_[layer] + block * k_block_bytes_;
}

const void* PagedKvCache::v_block(uint32_t layer, uint32_t block) const {
  return pool_.get() + layer_v_offset_[layer] + block * v_block_bytes_;
}

}  // namespace pocketllm
