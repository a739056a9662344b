#pragma once
// The paged KV cache: one pool of fixed-size blocks, allocated once up front,
// and a block table per sequence (vLLM's PagedAttention layout). Nothing is
// allocated per step. Attention (backends/cpu/attention) reads the blocks in
// place.
//
// Positions map to slots: a sequence's token at position p lives in slot
// p % block_tokens of its (p / block_tokens)-th logical block. Layers that use
// a sliding window keep only the blocks that intersect their window; the
// blocks before it are returned to the pool (release_outside_window).
//
// Layers form groups that share block tables (vLLM's hybrid KV cache groups):
// group "full" holds the full-attention layers, group "window" the
// sliding-window layers. Each group has its own pool of blocks; a block id of
// a group names the same logical block in every layer of that group.
//
// Designed so the long-context issue fits in without changing callers:
// per-K/V storage dtypes (f32, f16, bf16, q8, q4: kv/kv_quant_formats.h),
// reference-counted blocks (prefix caching), and sink + recent windows
// (eviction) all live behind this interface.
//
// Storage: a block of a layer holds, per KV head, one slab of block_tokens
// rows in the layout of its dtype (kv_quant_formats.h). Rows are quantized as
// store() writes them, except q4 K, whose per-channel scales need the whole
// block: its rows are staged in f16 (a staging block per filling block, taken
// when the block's first row is written and given back when the block's last
// row has been written in every layer of its group, or the block is freed)
// and quantized into the pool when the block's last row arrives. Attention
// reads a staged block's rows from the staging block (k_slabs says where).
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <unordered_map>
#include <vector>

#include "engine/forward_batch.h"
#include "kv/kv_quant_formats.h"
#include "kv/prefix_cache.h"
#include "model/model_desc.h"
#include "util/anonymous_memory.h"

namespace pocketllm {

// Bytes of one stored element of a plain dtype (f32 4, f16 and bf16 2);
// invalid_argument for q8 / q4, whose rows carry scales (kv_slab_bytes).
size_t kv_dtype_bytes(KvDtype dtype);

// Where attention finds one block's rows of one layer: the slab of KV head h
// starts at base + h * slab_bytes and is in `layout`.
struct KvSlabs {
  KvLayout layout = KvLayout::F16;
  const std::byte* base = nullptr;
  size_t slab_bytes = 0;
};

struct KvCacheOptions {
  KvDtype k_dtype = KvDtype::F16;
  KvDtype v_dtype = KvDtype::F16;
  uint32_t block_tokens = 16;   // tokens per block
  uint32_t n_blocks = 0;        // blocks in the pool (per layer group); see blocks_for_tokens
  // Blocks in the sliding-window group's pool; 0 = n_blocks. Sliding layers
  // release old blocks, so window + one prefill chunk is enough for them.
  uint32_t n_window_blocks = 0;
  // Automatic prefix caching (kv/prefix_cache.h). Used only where it is safe:
  // every layer attends to the full context (no sliding-window group, whose
  // blocks are released as a sequence moves on). See prefix_caching().
  bool enable_prefix_caching = true;
};

// Prefix-cache counters since the cache was made (64-bit: they only grow).
struct PrefixCacheStats {
  uint64_t queried_tokens = 0;  // prompt tokens looked up
  uint64_t reused_tokens = 0;   // of those, found cached (whole blocks)
  uint64_t cached_blocks = 0;   // blocks holding a named prefix now (in use or free)
};

class PagedKvCache {
 public:
  PagedKvCache(const ModelDesc& desc, const KvCacheOptions& options);

  const KvCacheOptions& options() const;
  // Pool blocks that hold `n_tokens` tokens in all, spread over `n_seqs`
  // sequences in any way: each sequence wastes at most one partly filled block,
  // so floor((n_tokens + n_seqs * (block_tokens - 1)) / block_tokens).
  static uint32_t blocks_for_tokens(uint32_t n_tokens, uint32_t n_seqs, uint32_t block_tokens);
  // Bytes the pool takes (what the planner budgets): the blocks, plus for q4
  // K the staging blocks allocated so far (one per layer group for each
  // sequence filling a block at once; one sequence's worth up front).
  size_t pool_bytes() const;
  // Bytes of the staging blocks alone (0 unless K is q4).
  size_t staging_bytes() const;

  // Sequence bookkeeping. A sequence starts empty; reserve() makes room for
  // `n_new` more tokens after its current length, taking blocks from the pool
  // (false, and nothing changed, when the pool cannot hold them). Sequence
  // ids are any non-negative ints.
  bool reserve(SeqId seq, uint32_t n_new);
  void free_sequence(SeqId seq);
  uint32_t sequence_length(SeqId seq) const;  // tokens stored (reserved) so far
  // Free blocks of the tightest group (what limits the next reserve),
  // counting free blocks that still hold a cached prefix.
  uint32_t free_blocks() const;

  // --- prefix caching (allocation side; see kv/prefix_cache.h) ---
  // On when the options ask for it and every layer is full attention.
  bool prefix_caching() const { return prefix_caching_; }
  // Why prefix caching is off ("" when it is on), for a log line.
  const char* prefix_caching_off_reason() const;
  // For a sequence with nothing stored yet: shares every cached full block
  // that starts `prompt`, except that the block holding the last prompt token
  // is never reused (at least one token must run to give logits). The
  // sequence's length becomes the tokens reused (a multiple of block_tokens),
  // which are returned; 0 when prefix caching is off.
  uint32_t reuse_cached_prefix(SeqId seq, std::span<const int32_t> prompt);
  // Records the token ids of the positions just computed (appended after the
  // ones recorded before; together at most sequence_length) and names every
  // block that became full, so later requests can reuse it. No-op when
  // prefix caching is off.
  void commit_tokens(SeqId seq, std::span<const int32_t> tokens);
  PrefixCacheStats prefix_cache_stats() const;

  // --- eviction (allocation side; policy in kv/kv_eviction.h) ---
  // Removes `seq`'s logical blocks [first_block, first_block + n_blocks) from
  // every group and returns them to the pool; later tokens move down by
  // n_blocks * block_tokens positions (their K must be re-rotated by the
  // caller first: Model::shift_key_positions). Refused (std::logic_error)
  // with prefix caching on: blocks may be shared, and rotation edits them.
  void drop_blocks(SeqId seq, uint32_t first_block, uint32_t n_blocks);
  // Edits K of `block` in `layer` as f32 [n_kv_heads][block_tokens][head_dim_k]:
  // rows [0, n_rows) of each head are read (dequantized), `edit`ed and written
  // back in the cache dtype (the others read as 0 and are not written). Every
  // K dtype: per-token layouts rewrite row by row; q4 K re-quantizes the
  // whole block (per-channel scales), or edits its f16 staging rows while it
  // is still filling.
  void rewrite_k_block(uint32_t layer, uint32_t block, uint32_t n_rows,
                       const std::function<void(std::span<float>)>& edit);

  // Writes K [n_kv_heads * head_dim_k] and V [n_kv_heads * head_dim_v] (f32,
  // converted to the cache dtype) of `seq` at `pos` (< sequence_length) in `layer`.
  void store(uint32_t layer, SeqId seq, uint32_t pos, const float* k, const float* v);

  // Returns to the pool the blocks of sliding-window layers that no query at
  // position >= `next_query_pos` can see any more (keys j <= next_query_pos -
  // window); the number of blocks returned by this call.
  uint32_t release_outside_window(SeqId seq, uint32_t next_query_pos);

  // --- what attention reads (see paged_attention.h) ---
  // Block ids of `seq` for `layer`'s group, in logical order; entries for
  // blocks already released are kNoBlock. Empty for an unknown sequence.
  static constexpr uint32_t kNoBlock = 0xffffffffu;
  std::span<const uint32_t> block_table(uint32_t layer, SeqId seq) const;
  // Block `block` of `layer` in the pool: K as [n_kv_heads] slabs of
  // block_tokens rows of head_dim_k in k_layout(), V likewise.
  const void* k_block(uint32_t layer, uint32_t block) const;
  const void* v_block(uint32_t layer, uint32_t block) const;
  // What attention reads: the pool block, or for a q4 K block still filling,
  // its f16 staging block.
  KvSlabs k_slabs(uint32_t layer, uint32_t block) const;
  KvSlabs v_slabs(uint32_t layer, uint32_t block) const;
  KvLayout k_layout() const { return k_layout_; }
  KvLayout v_layout() const { return v_layout_; }

  // Geometry, as attention checks it.
  uint32_t n_layers() const { return static_cast<uint32_t>(layer_group_.size()); }
  uint32_t n_kv_heads() const { return n_kv_heads_; }
  uint32_t head_dim_k() const { return head_dim_k_; }
  uint32_t head_dim_v() const { return head_dim_v_; }
  // The layer's window (0 = full attention) and group (0 .. n_groups()-1).
  uint32_t layer_window(uint32_t layer) const;
  uint32_t layer_group(uint32_t layer) const;
  uint32_t n_groups() const { return static_cast<uint32_t>(groups_.size()); }
  uint32_t free_blocks_in_group(uint32_t group) const;

 private:
  // Layers sharing block tables, and their pool of blocks.
  struct Group {
    uint32_t window = 0;                // 0 = full attention
    uint32_t n_blocks = 0;
    std::vector<uint32_t> free_list;    // stack of free never-named block ids (capacity n_blocks)
    std::vector<uint32_t> ref_count;    // [n_blocks]; > 1 when prefix caching shares a block
    std::unique_ptr<PrefixCache> prefix;  // named blocks and their LRU free list; null = off
  };
  struct Sequence {
    uint32_t length = 0;
    std::vector<std::vector<uint32_t>> tables;  // [group][logical block]
    std::vector<uint32_t> first_live;           // [group] logical blocks before it are released
    // Prefix caching only: token ids of the computed positions, and the chain
    // of named blocks so far (the first `named_blocks` blocks of tables[0]).
    std::vector<int32_t> tokens;
    PrefixChain chain;
    uint32_t named_blocks = 0;
  };

  void release_block(Group& group, uint32_t block);

  // q4 K staging (see the file comment). A staging block holds, for each
  // layer of its group, [n_kv_heads][block_tokens][head_dim_k] f16 rows.
  struct Staging {
    uint32_t group = 0;
    uint32_t block = kNoBlock;          // kNoBlock: free
    std::vector<uint16_t> rows;         // [layer in group][head][slot][dim]
    std::vector<uint8_t> written;       // [layer in group][slot]: row stored
    std::vector<uint32_t> n_written;    // [layer in group]: distinct rows stored
    uint32_t layers_done = 0;           // layers whose block was quantized
  };
  bool stages_k() const { return k_layout_ == KvLayout::Q4Channel; }
  Staging& staging_for(uint32_t group, uint32_t block);
  void store_staged_k(uint32_t layer, uint32_t group, uint32_t block, uint32_t slot, const float* k);
  void drop_staging(uint32_t group, uint32_t block);
  size_t staging_block_bytes(uint32_t group) const;
  uint32_t take_block(Group& group);
  static uint32_t free_in_group(const Group& group);
  Sequence& sequence_or_throw(SeqId seq);

  KvCacheOptions options_;
  uint32_t n_kv_heads_ = 0;
  uint32_t head_dim_k_ = 0;
  uint32_t head_dim_v_ = 0;
  KvLayout k_layout_ = KvLayout::F16;
  KvLayout v_layout_ = KvLayout::F16;
  size_t k_slab_bytes_ = 0;             // one KV head's K rows of one block
  size_t v_slab_bytes_ = 0;
  size_t k_block_bytes_ = 0;            // one layer's K of one block
  size_t v_block_bytes_ = 0;
  std::vector<float> row_scratch_;      // store(): one row being quantized
  std::vector<uint32_t> layer_in_group_;  // [n_layers] index among its group's layers
  std::vector<uint32_t> group_layers_;    // [group] layers in the group
  std::vector<Staging> staging_;
  std::vector<std::vector<uint32_t>> staging_of_block_;  // [group][block] index in staging_, or kNoBlock
  std::vector<uint32_t> layer_group_;   // [n_layers]
  std::vector<size_t> layer_k_offset_;  // [n_layers] byte offset of block 0's K in the pool
  std::vector<size_t> layer_v_offset_;
  std::vector<Group> groups_;
  size_t pool_bytes_ = 0;
  // Pool layout: per group, per layer of the group, K of blocks 0..n-1 then V
  // of blocks 0..n-1 (64-byte aligned; pages untouched until written).
  // On huge pages: attention reads blocks scattered over the pool, and with
  // 4 KiB pages nearly every block's first access missed the TLB (f16 decode
  // attention at 4K context, 8 KV heads: 12.8 -> 8.4 ms per row through 16
  // layers on Zen 5; q8 3.8 -> 3.3 ms). The planner budgets the whole pool,
  // so pages made resident 2 MiB at a time are within the plan.
  AnonymousMemory pool_;
  std::unordered_map<SeqId, Sequence> seqs_;
  bool prefix_caching_ = false;
  uint64_t prefix_queried_tokens_ = 0;
  uint64_t prefix_reused_tokens_ = 0;
};

}  // namespace pocketllm
