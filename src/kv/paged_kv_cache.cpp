#include "kv/paged_kv_cache.h"

#include <algorithm>
#include <cstring>
#include <new>
#include <stdexcept>
#include <string>

#include "backends/cpu/attention/fp16_convert.h"

namespace pocketllm {
namespace {

[[noreturn]] void fail(const std::string& what) { throw std::invalid_argument("PagedKvCache: " + what); }


}  // namespace

size_t kv_dtype_bytes(KvDtype dtype) {
  switch (dtype) {
    case KvDtype::F32: return 4;
    case KvDtype::F16:
    case KvDtype::BF16: return 2;
    case KvDtype::Q8:
    case KvDtype::Q4: break;
  }
  throw std::invalid_argument("kv_dtype_bytes: " + std::string(kv_dtype_name(dtype)) +
                              " rows carry scales; see kv_slab_bytes");
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
  k_layout_ = kv_layout(options.k_dtype, true);
  v_layout_ = kv_layout(options.v_dtype, false);
  k_slab_bytes_ = kv_slab_bytes(k_layout_, options.block_tokens, head_dim_k_);
  v_slab_bytes_ = kv_slab_bytes(v_layout_, options.block_tokens, head_dim_v_);
  k_block_bytes_ = n_kv_heads_ * k_slab_bytes_;
  v_block_bytes_ = n_kv_heads_ * v_slab_bytes_;
  row_scratch_.resize(std::max(head_dim_k_, head_dim_v_));

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
    pool_ = AnonymousMemory(pool_bytes_, /*huge_pages=*/true);
  }

  // Each layer's index among its group's layers (its part of a staging block).
  group_layers_.assign(groups_.size(), 0);
  layer_in_group_.resize(desc.n_layers);
  for (uint32_t layer = 0; layer < desc.n_layers; ++layer) layer_in_group_[layer] = group_layers_[layer_group_[layer]]++;
  if (stages_k()) {
    staging_of_block_.resize(groups_.size());
    for (size_t gi = 0; gi < groups_.size(); ++gi) {
      staging_of_block_[gi].assign(groups_[gi].n_blocks, kNoBlock);
      // One sequence's staging up front; more sequences filling blocks at
      // once add theirs on first use.
      Staging st;
      st.group = static_cast<uint32_t>(gi);
      st.rows.resize(staging_block_bytes(st.group) / sizeof(uint16_t));
      st.written.resize(size_t{group_layers_[gi]} * options.block_tokens);
      st.n_written.resize(group_layers_[gi]);
      staging_.push_back(std::move(st));
    }
  }

  for (Group& g : groups_) {
    g.free_list.resize(g.n_blocks);
    // Stack: block 0 comes out first.
    for (uint32_t i = 0; i < g.n_blocks; ++i) g.free_list[i] = g.n_blocks - 1 - i;
    g.ref_count.assign(g.n_blocks, 0);
  }
  // Prefix caching is safe when every layer sees the whole prefix: one group,
  // full attention. (A sliding-window group releases blocks behind the
  // window, so a cached prefix would lack them: vLLM's hybrid allocator
  // caches those per window; here prefix caching is simply off.)
  if (options.enable_prefix_caching && groups_.size() == 1 && groups_[0].window == 0 && groups_[0].n_blocks > 0) {
    groups_[0].prefix = std::make_unique<PrefixCache>(groups_[0].n_blocks, options.block_tokens);
    prefix_caching_ = true;
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

size_t PagedKvCache::pool_bytes() const { return pool_bytes_ + staging_bytes(); }

size_t PagedKvCache::staging_bytes() const {
  size_t bytes = 0;
  for (const Staging& st : staging_) bytes += st.rows.size() * sizeof(uint16_t);
  return bytes;
}

size_t PagedKvCache::staging_block_bytes(uint32_t group) const {
  return size_t{group_layers_[group]} * n_kv_heads_ * options_.block_tokens * head_dim_k_ * sizeof(uint16_t);
}

uint32_t PagedKvCache::layer_window(uint32_t layer) const { return groups_[layer_group(layer)].window; }

uint32_t PagedKvCache::layer_group(uint32_t layer) const {
  if (layer >= layer_group_.size()) fail("layer " + std::to_string(layer) + " out of range");
  return layer_group_[layer];
}

uint32_t PagedKvCache::free_in_group(const Group& group) {
  return static_cast<uint32_t>(group.free_list.size()) + (group.prefix ? group.prefix->n_free() : 0);
}

uint32_t PagedKvCache::free_blocks_in_group(uint32_t group) const { return free_in_group(groups_.at(group)); }

uint32_t PagedKvCache::free_blocks() const {
  uint32_t least = kNoBlock;
  for (const Group& g : groups_) least = std::min(least, free_in_group(g));
  return least;
}

uint32_t PagedKvCache::take_block(Group& group) {
  // Never-named blocks first; then the least recently freed cached prefix.
  uint32_t block = kNoBlock;
  if (!group.free_list.empty()) {
    block = group.free_list.back();
    group.free_list.pop_back();
  } else if (group.prefix) {
    block = group.prefix->evict_oldest_free();
  }
  if (block == kNoBlock || block == PrefixCache::kNone) fail("no free block (reserve checks first)");
  group.ref_count[block] = 1;
  return block;
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
    if (free_in_group(g) < needed) return false;
  }
  Sequence& s = it != seqs_.end() ? it->second : seqs_[seq];
  if (s.tables.empty()) {
    s.tables.resize(groups_.size());
    s.first_live.assign(groups_.size(), 0);
  }
  for (size_t gi = 0; gi < groups_.size(); ++gi) {
    Group& g = groups_[gi];
    std::vector<uint32_t>& table = s.tables[gi];
    for (uint32_t i = 0; i < needed; ++i) table.push_back(take_block(g));
  }
  s.length = static_cast<uint32_t>(new_length);
  return true;
}

void PagedKvCache::release_block(Group& group, uint32_t block) {
  if (group.ref_count[block] == 0) fail("block " + std::to_string(block) + " released twice");
  if (--group.ref_count[block] != 0) return;
  if (stages_k()) drop_staging(static_cast<uint32_t>(&group - groups_.data()), block);
  // A named block keeps its prefix and waits in the LRU list for a hit.
  if (group.prefix && group.prefix->holds(block)) {
    group.prefix->push_free(block);
  } else {
    group.free_list.push_back(block);
  }
}

void PagedKvCache::free_sequence(SeqId seq) {
  const auto it = seqs_.find(seq);
  if (it == seqs_.end()) return;
  for (size_t gi = 0; gi < groups_.size(); ++gi) {
    // With prefix caching, last block first: in the LRU list a cached
    // chain's tail is then older than its head and is reused first (vLLM
    // frees in the same order).
    const std::vector<uint32_t>& table = it->second.tables[gi];
    if (groups_[gi].prefix) {
      for (auto block = table.rbegin(); block != table.rend(); ++block) {
        if (*block != kNoBlock) release_block(groups_[gi], *block);
      }
    } else {
      for (const uint32_t block : table) {
        if (block != kNoBlock) release_block(groups_[gi], block);
      }
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
  const auto slot = static_cast<uint32_t>(pos % bt);
  std::byte* vb = pool_.data() + layer_v_offset_[layer] + block * v_block_bytes_;
  for (size_t h = 0; h < n_kv_heads_; ++h) {
    kv_write_row(v_layout_, v + h * head_dim_v_, vb + h * v_slab_bytes_, bt, head_dim_v_, slot, row_scratch_);
  }
  if (stages_k()) return store_staged_k(layer, group, block, slot, k);
  std::byte* kb = pool_.data() + layer_k_offset_[layer] + block * k_block_bytes_;
  for (size_t h = 0; h < n_kv_heads_; ++h) {
    kv_write_row(k_layout_, k + h * head_dim_k_, kb + h * k_slab_bytes_, bt, head_dim_k_, slot, row_scratch_);
  }
}

PagedKvCache::Staging& PagedKvCache::staging_for(uint32_t group, uint32_t block) {
  uint32_t& index = staging_of_block_[group][block];
  if (index != kNoBlock) return staging_[index];
  for (size_t i = 0; i < staging_.size(); ++i) {
    if (staging_[i].block == kNoBlock && staging_[i].group == group) {
      index = static_cast<uint32_t>(i);
      break;
    }
  }
  if (index == kNoBlock) {
    // Another sequence fills a block at the same time: one more staging block.
    Staging st;
    st.group = group;
    st.rows.resize(staging_block_bytes(group) / sizeof(uint16_t));
    st.written.resize(size_t{group_layers_[group]} * options_.block_tokens);
    st.n_written.resize(group_layers_[group]);
    index = static_cast<uint32_t>(staging_.size());
    staging_.push_back(std::move(st));
  }
  Staging& st = staging_[index];
  st.block = block;
  std::fill(st.written.begin(), st.written.end(), uint8_t{0});
  std::fill(st.n_written.begin(), st.n_written.end(), 0u);
  st.layers_done = 0;
  return st;
}

void PagedKvCache::store_staged_k(uint32_t layer, uint32_t group, uint32_t block, uint32_t slot, const float* k) {
  const uint32_t bt = options_.block_tokens;
  const size_t dk = head_dim_k_;
  Staging& st = staging_for(group, block);
  const uint32_t li = layer_in_group_[layer];
  if (st.n_written[li] == bt) fail("q4 K row of a block already quantized written again");
  uint16_t* rows = st.rows.data() + size_t{li} * n_kv_heads_ * bt * dk;
  for (size_t h = 0; h < n_kv_heads_; ++h) f32_to_f16_row(k + h * dk, rows + (h * bt + slot) * dk, dk);
  uint8_t& written = st.written[size_t{li} * bt + slot];
  if (written != 0) return;
  written = 1;
  if (++st.n_written[li] < bt) return;
  // The block's last row in this layer: quantize it into the pool.
  std::byte* kb = pool_.data() + layer_k_offset_[layer] + block * k_block_bytes_;
  for (size_t h = 0; h < n_kv_heads_; ++h) {
    kv_quantize_channel_slab(rows + h * bt * dk, kb + h * k_slab_bytes_, bt, head_dim_k_);
  }
  if (++st.layers_done == group_layers_[group]) drop_staging(group, block);
}

void PagedKvCache::drop_staging(uint32_t group, uint32_t block) {
  uint32_t& index = staging_of_block_[group][block];
  if (index == kNoBlock) return;
  staging_[index].block = kNoBlock;
  index = kNoBlock;
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
  return pool_.data() + layer_k_offset_[layer] + block * k_block_bytes_;
}

const void* PagedKvCache::v_block(uint32_t layer, uint32_t block) const {
  return pool_.data() + layer_v_offset_[layer] + block * v_block_bytes_;
}

KvSlabs PagedKvCache::k_slabs(uint32_t layer, uint32_t block) const {
  if (stages_k()) {
    const uint32_t index = staging_of_block_[layer_group_[layer]][block];
    if (index != kNoBlock) {
      const Staging& st = staging_[index];
      const uint32_t li = layer_in_group_[layer];
      if (st.n_written[li] < options_.block_tokens) {
        const size_t slab = size_t{options_.block_tokens} * head_dim_k_;
        return {KvLayout::F16, reinterpret_cast<const std::byte*>(st.rows.data() + li * n_kv_heads_ * slab),
                slab * sizeof(uint16_t)};
      }
    }
  }
  return {k_layout_, static_cast<const std::byte*>(k_block(layer, block)), k_slab_bytes_};
}

KvSlabs PagedKvCache::v_slabs(uint32_t layer, uint32_t block) const {
  return {v_layout_, static_cast<const std::byte*>(v_block(layer, block)), v_slab_bytes_};
}

const char* PagedKvCache::prefix_caching_off_reason() const {
  if (prefix_caching_) return "";
  if (!options_.enable_prefix_caching) return "turned off";
  if (groups_.size() != 1 || groups_[0].window != 0) {
    return "the model has sliding-window layers, whose blocks are released behind the window";
  }
  return "the pool has no blocks";
}

uint32_t PagedKvCache::reuse_cached_prefix(SeqId seq, std::span<const int32_t> prompt) {
  if (seq < 0) fail("negative sequence id " + std::to_string(seq));
  if (!prefix_caching_ || prompt.empty()) return 0;
  const auto existing = seqs_.find(seq);
  if (existing != seqs_.end() && existing->second.length != 0) {
    fail("sequence " + std::to_string(seq) + " already holds tokens; prefixes are reused only at its start");
  }
  Group& g = groups_[0];
  const uint32_t bt = options_.block_tokens;
  // The last prompt token must be computed (its logits are wanted), so its
  // block is never reused: at most floor((n - 1) / bt) blocks.
  const size_t max_blocks = (prompt.size() - 1) / bt;
  PrefixChain chain;
  std::vector<uint32_t> hits;
  for (size_t i = 0; i < max_blocks; ++i) {
    const uint32_t block = g.prefix->find(chain, prompt.subspan(i * bt, bt));
    if (block == PrefixCache::kNone) break;
    hits.push_back(block);
  }
  prefix_queried_tokens_ += prompt.size();
  if (hits.empty()) return 0;
  if (static_cast<uint64_t>(hits.size()) * bt >= kNoBlock) fail("prefix too long");

  Sequence& s = seqs_[seq];
  s.tables.assign(groups_.size(), {});
  s.first_live.assign(groups_.size(), 0);
  for (const uint32_t block : hits) {
    if (g.ref_count[block] == 0) g.prefix->take_free(block);
    ++g.ref_count[block];
    s.tables[0].push_back(block);
  }
  const auto reused = static_cast<uint32_t>(hits.size() * bt);
  s.length = reused;
  s.tokens.assign(prompt.begin(), prompt.begin() + reused);
  s.chain = chain;
  s.named_blocks = static_cast<uint32_t>(hits.size());
  prefix_reused_tokens_ += reused;
  return reused;
}

void PagedKvCache::commit_tokens(SeqId seq, std::span<const int32_t> tokens) {
  if (!prefix_caching_ || tokens.empty()) return;
  Sequence& s = sequence_or_throw(seq);
  if (s.tokens.size() + tokens.size() > s.length) {
    fail("sequence " + std::to_string(seq) + ": more tokens committed than reserved");
  }
  s.tokens.insert(s.tokens.end(), tokens.begin(), tokens.end());
  const size_t bt = options_.block_tokens;
  PrefixCache& prefix = *groups_[0].prefix;
  while ((s.named_blocks + size_t{1}) * bt <= s.tokens.size() && !s.chain.broken) {
    const uint32_t block = s.tables[0][s.named_blocks];
    const std::span<const int32_t> block_ids(s.tokens.data() + s.named_blocks * bt, bt);
    // A block reused from the cache is named already; ours get named now.
    if (!prefix.holds(block)) prefix.add(s.chain, block, block_ids);
    else prefix.find(s.chain, block_ids);
    ++s.named_blocks;
  }
}

PrefixCacheStats PagedKvCache::prefix_cache_stats() const {
  PrefixCacheStats stats;
  stats.queried_tokens = prefix_queried_tokens_;
  stats.reused_tokens = prefix_reused_tokens_;
  stats.cached_blocks = prefix_caching_ ? groups_[0].prefix->n_cached() : 0;
  return stats;
}

void PagedKvCache::drop_blocks(SeqId seq, uint32_t first_block, uint32_t n_blocks) {
  if (prefix_caching_) throw std::logic_error("PagedKvCache: blocks cannot be dropped with prefix caching on");
  Sequence& s = sequence_or_throw(seq);
  const uint32_t bt = options_.block_tokens;
  const uint64_t end_block = static_cast<uint64_t>(first_block) + n_blocks;
  // Only whole blocks before the last one (the one being filled) can go, so
  // every later token keeps its slot within a block.
  if (n_blocks == 0) return;
  if (end_block * bt >= s.length) {
    fail("cannot drop blocks [" + std::to_string(first_block) + ", " + std::to_string(end_block) +
         ") of a sequence of " + std::to_string(s.length) + " tokens");
  }
  for (size_t gi = 0; gi < groups_.size(); ++gi) {
    std::vector<uint32_t>& table = s.tables[gi];
    const auto begin = table.begin() + first_block;
    const auto end = table.begin() + static_cast<std::ptrdiff_t>(end_block);
    for (auto block = end; block != begin;) {
      --block;
      if (*block != kNoBlock) release_block(groups_[gi], *block);
    }
    table.erase(begin, end);
    // Released blocks behind a window stay released: the live range moves down with the rest.
    uint32_t& live = s.first_live[gi];
    if (live > first_block) live = live >= end_block ? static_cast<uint32_t>(live - n_blocks) : first_block;
  }
  s.length -= n_blocks * bt;
}

void PagedKvCache::rewrite_k_block(uint32_t layer, uint32_t block, uint32_t n_rows,
                                   const std::function<void(std::span<float>)>& edit) {
  const uint32_t group = layer_group(layer);
  if (block >= groups_[group].n_blocks) fail("block " + std::to_string(block) + " out of range");
  const uint32_t bt = options_.block_tokens;
  if (n_rows > bt) fail("more rows than a block holds");
  const size_t dk = head_dim_k_;
  const size_t slab = size_t{bt} * dk;  // values of one head's rows
  std::vector<float> values(n_kv_heads_ * slab, 0.0f);
  // A q4 K block still filling in this layer lives in its f16 staging rows.
  if (stages_k()) {
    const uint32_t index = staging_of_block_[group][block];
    const uint32_t li = layer_in_group_[layer];
    if (index != kNoBlock && staging_[index].n_written[li] < bt) {
      uint16_t* rows = staging_[index].rows.data() + size_t{li} * n_kv_heads_ * slab;
      f16_to_f32_row(rows, values.data(), values.size());
      edit(values);
      f32_to_f16_row(values.data(), rows, values.size());
      return;
    }
  }
  std::byte* kb = pool_.data() + layer_k_offset_[layer] + block * k_block_bytes_;
  // Only written rows are read: the others may hold another sequence's old bytes.
  const uint32_t n_read = k_layout_ == KvLayout::Q4Channel ? bt : n_rows;
  for (size_t h = 0; h < n_kv_heads_; ++h) {
    kv_dequantize_rows(k_layout_, kb + h * k_slab_bytes_, bt, head_dim_k_, 0, n_read, values.data() + h * slab);
  }
  edit(values);
  if (k_layout_ == KvLayout::Q4Channel) {
    // Per-channel scales span the block: quantize it again from f16 rows, as
    // store_staged_k does when a block fills.
    std::vector<uint16_t> f16_rows(slab);
    for (size_t h = 0; h < n_kv_heads_; ++h) {
      f32_to_f16_row(values.data() + h * slab, f16_rows.data(), slab);
      kv_quantize_channel_slab(f16_rows.data(), kb + h * k_slab_bytes_, bt, head_dim_k_);
    }
    return;
  }
  for (size_t h = 0; h < n_kv_heads_; ++h) {
    for (uint32_t slot = 0; slot < n_rows; ++slot) {
      kv_write_row(k_layout_, values.data() + h * slab + size_t{slot} * dk, kb + h * k_slab_bytes_, bt, head_dim_k_,
                   slot, row_scratch_);
    }
  }
}

}  // namespace pocketllm
