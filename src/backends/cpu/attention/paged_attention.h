#pragma once
// Causal attention of query rows against a sequence's paged KV cache, tiled
// block by block with an online softmax (running max and sum, as in
// FlashAttention): no n x n score matrix and no allocation per call.
//
// For query row at position p of sequence s in layer l, head h (KV head
// h / (n_heads / n_kv_heads)):
//   score(j) = softcap(scale * q_h . k_j)            for visible keys j
//   out_h    = sum_j softmax(score)_j * v_j
// Visible keys: positions j <= p, and j > p - window on sliding layers.
// softcap(x) = c * tanh(x / c) when attn_softcap c > 0 (Gemma 2).
// With sinks (gpt-oss), head h's learned logit sinks[h] joins the softmax
// denominator only (it has no value).
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "engine/forward_batch.h"
#include "kv/paged_kv_cache.h"

namespace pocketllm {

struct AttentionParams {
  uint32_t n_heads = 0;
  uint32_t n_kv_heads = 0;
  uint32_t head_dim_k = 0;
  uint32_t head_dim_v = 0;
  float scale = 1.0f;
  float softcap = 0.0f;          // 0 = none
  uint32_t window = 0;           // 0 = full causal attention
  const float* sinks = nullptr;  // [n_heads] or nullptr
};

// Per-thread scratch that paged_attention needs; sized once for the model.
// The query heads that share one KV head are processed together, so that each
// K/V tile is read from memory once.
struct AttentionScratch {
  // Query rows of one sequence that one call can take (paged_attention_rows).
  static constexpr size_t kMaxRows = 16;
  explicit AttentionScratch(const AttentionParams& params, uint32_t block_tokens);
  // Bytes its buffers hold (what the memory estimate counts per thread).
  size_t bytes() const;
  uint32_t group_size = 0;     // query heads per KV head
  uint32_t block_tokens = 0;
  std::vector<float> scores;   // [group_size][block_tokens]: one block of scores per query head
  // Running softmax states: each row's total, then each row's current partition.
  std::vector<float> acc;      // [2][kMaxRows][group_size][head_dim_v]: running (unnormalised) outputs
  std::vector<float> row_max;  // [2][kMaxRows][group_size]: running max of the scores
  std::vector<float> row_sum;  // [2][kMaxRows][group_size]: running sum of e^(score - max)
  std::vector<float> alpha;    // [group_size]: rescale of acc for the current block
  std::vector<float> k_tile;   // [block_tokens][head_dim_k]: a K tile converted / dequantized to f32
  std::vector<float> v_tile;   // [block_tokens][head_dim_v]
  // Quantized slabs read in place (attention_quant_vnni.h): the query heads
  // as int8 with their scales and 128 * sums (q8 K), and q4 K's work area.
  std::vector<int8_t> q_int8;         // [kMaxRows][group_size][query_stride(head_dim_k)]
  std::vector<float> q_int8_scale;    // [kMaxRows][group_size]
  std::vector<int32_t> q_int8_sum128;  // [kMaxRows][group_size]
  std::vector<float> vnni_work;       // see attention_vnni::scores_q4_channel
};

// Quantized K/V are read with integer dot products where the CPU has AVX-512
// VNNI (on by default); off, they are dequantized into f32 tiles as on other
// CPUs. For tests that compare the two paths.
void set_quantized_kv_integer_attention(bool enabled);

// f32 / f16 / bf16 K and V are read with 512-bit vectors where the CPU has
// AVX-512 and the head dims are multiples of 16 (on by default); off, with
// the 256-bit loops. For tests that run both.
void set_512_bit_float_attention(bool enabled);

// q: [n_heads * head_dim_k] f32 for the row at `pos`; out: [n_heads * head_dim_v].
// Throws std::invalid_argument when the parameters do not match the cache or
// the scratch, or the sequence has no key at `pos`.
void paged_attention(const AttentionParams& params, const PagedKvCache& cache, uint32_t layer, SeqId seq,
                     uint32_t pos, const float* q, float* out, AttentionScratch& scratch);

// The same for KV heads [kv_head_begin, kv_head_end) only (their query heads'
// outputs are written, the rest of `out` is untouched): how threads split one
// decode row.
void paged_attention_kv_heads(const AttentionParams& params, const PagedKvCache& cache, uint32_t layer,
                              SeqId seq, uint32_t pos, const float* q, float* out, AttentionScratch& scratch,
                              uint32_t kv_head_begin, uint32_t kv_head_end);

// A row's keys are taken in partitions of kAttentionPartitionKeys (whole
// blocks): each partition's softmax is computed on its own and the
// partitions are merged in order (split-K / flash decoding). The result
// depends on the partition boundaries, which are fixed positions, so it is
// the same whether the partitions run one after another (paged_attention*)
// or on different threads (paged_attention_partition + _merge): one decode
// row can use every thread and still match the sequential form bit for bit.
inline constexpr uint32_t kAttentionPartitionKeys = 1024;
uint32_t attention_partition_blocks(uint32_t block_tokens);

// Partitions [first, last] that hold the visible keys of the row at `pos`.
struct AttentionPartitions {
  uint32_t first = 0;
  uint32_t last = 0;
  uint32_t count() const { return last - first + 1; }
};
AttentionPartitions attention_partitions(const AttentionParams& params, uint32_t block_tokens, uint32_t pos);

// Floats of one partition's result for one KV head: its query heads' max,
// sum and unnormalised outputs.
size_t attention_partial_floats(const AttentionParams& params);

// The buffer a model keeps for split attention's partials: the partitions of
// kAttentionSplitKeys keys of all KV heads (one row up to that context, or
// several shorter rows); beyond it, rows are not split. A fixed size, so
// the activation memory does not depend on the context length.
inline constexpr uint32_t kAttentionSplitKeys = 128 * 1024;
size_t attention_split_floats(const AttentionParams& params);

// One partition (attention_partitions(...).first <= partition <= last) of
// the row at `pos` (q: all its heads) for one KV head, into `partial`
// (attention_partial_floats).
void paged_attention_partition(const AttentionParams& params, const PagedKvCache& cache, uint32_t layer, SeqId seq,
                               uint32_t pos, const float* q, uint32_t kv_head, uint32_t partition, float* partial,
                               AttentionScratch& scratch);

// Merges a row's n_partitions consecutive partials of one KV head (first
// partition first; overwrites the first) and writes that head group's
// outputs into out [n_heads * head_dim_v].
void paged_attention_merge(const AttentionParams& params, KvLayout v_layout, uint32_t kv_head,
                           float* partials, uint32_t n_partitions, float* out);

// Query rows of one sequence (a prefill chunk's, say): row i at positions[i]
// has its query at q + i * q_stride and its output at out + i * out_stride
// (a stride of 0 means n_heads * head_dim).
struct AttentionRows {
  std::span<const uint32_t> positions;  // 1 to AttentionScratch::kMaxRows
  const float* q = nullptr;
  size_t q_stride = 0;
  float* out = nullptr;
  size_t out_stride = 0;
};

// The same for up to kMaxRows rows of one sequence at once: the KV blocks are
// walked once, each block serving every row that sees it while it is in
// cache, so a prefill chunk reads the cache 1/rows as often. Each row's
// result is bit-identical to computing it alone.
void paged_attention_rows(const AttentionParams& params, const PagedKvCache& cache, uint32_t layer, SeqId seq,
                          const AttentionRows& rows, AttentionScratch& scratch, uint32_t kv_head_begin,
                          uint32_t kv_head_end);

}  // namespace pocketllm
