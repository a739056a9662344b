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
// per-K/V storage dtypes (f32, f16 now; q8/q4 later with per-block scales),
// reference-counted blocks (prefix caching), and sink + recent windows
// (eviction) all live behind this interface.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <unordered_map>
#include <vector>

#include "engine/forward_batch.h"
#include "model/model_desc.h"

namespace pocketllm {

enum class KvDtype { F32, F16 };

// Bytes of one stored element.
size_t kv_dtype_bytes(KvDtype dtype);

struct KvCacheOptions {
  KvDtype k_dtype = KvDtype::F16;
  KvDtype v_dtype = KvDtype::F16;
  uint32_t block_tokens = 16;   // tokens per block
  uint32_t n_blocks = 0;        // blocks in the pool (per layer group); see blocks_for_tokens
  // Blocks in the sliding-window group's pool; 0 = n_blocks. Sliding layers
  // release old blocks, so window + one prefill chunk is enough for them.
  uint32_t n_window_blocks = 0;
};

class PagedKvCache {
 public:
  PagedKvCache(const ModelDesc& desc, const KvCacheOptions& options);

  const KvCacheOptions& options() const;
  // Pool blocks that hold `n_tokens` tokens in all, spread over `n_seqs`
  // sequences in any way: each sequence wastes at most one partly filled block,
  // so floor((n_tokens + n_seqs * (block_tokens - 1)) / block_tokens).
  static uint32_t blocks_for_tokens(uint32_t n_tokens, uint32_t n_seqs, uint32_t block_tokens);
  // Bytes the pool takes (what the planner budgets).
  size_t pool_bytes() const;

  // Sequence bookkeeping. A sequence starts empty; reserve() makes room for
  // `n_new` more tokens after its current length, taking blocks from the pool
  // (false, and nothing changed, when the pool cannot hold them). Sequence
  // ids are any non-negative ints.
  bool reserve(SeqId seq, uint32_t n_new);
  void free_sequence(SeqId seq);
  uint32_t sequence_length(SeqId seq) const;  // tokens stored (reserved) so far
  // Free blocks of the tightest group (what limits the next reserve).
  uint32_t free_blocks() const;

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
  // Block `block` of `layer`: K as [n_kv_heads][block_tokens][head_dim_k]
  // and V as [n_kv_heads][block_tokens][head_dim_v], in k_dtype / v_dtype.
  const void* k_block(uint32_t layer, uint32_t block) const;
  const void* v_block(uint32_t layer, uint32_t block) const;

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
    std::vector<uint32_t> free_list;    // stack of free block ids (capacity n_blocks)
    std::vector<uint16_t> ref_count;    // [n_blocks]; > 1 once prefix caching shares blocks
  };
  struct Sequence {
    uint32_t length = 0;
    std::vector<std::vector<uint32_t>> tables;  // [group][logical block]
    std::vector<uint32_t> first_live;           // [group] logical blocks before it are released
  };
  struct AlignedFree {
    void operator()(std::byte* p) const;
  };

  void release_block(Group& group, uint32_t block);
  Sequence& sequence_or_throw(SeqId seq);

  KvCacheOptions options_;
  uint32_t n_kv_heads_ = 0;
  uint32_t head_dim_k_ = 0;
  uint32_t head_dim_v_ = 0;
  size_t k_block_bytes_ = 0;            // one layer's K of one block
  size_t v_block_bytes_ = 0;
  std::vector<uint32_t> layer_group_;   // [n_layers]
  std::vector<size_t> layer_k_offset_;  // [n_layers] byte offset of block 0's K in the pool
  std::vector<size_t> layer_v_offset_;
  std::vector<Group> groups_;
  size_t pool_bytes_ = 0;
  // Pool layout: per group, per layer of the group, K of blocks 0..n-1 then V
  // of blocks 0..n-1 (64-byte aligned; pages untouched until written).
  std::unique_ptr<std::byte, AlignedFree> pool_;
  std::unordered_map<SeqId, Sequence> seqs_;
};

}  // namespace pocketllm
