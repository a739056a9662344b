#pragma once
// The self-attention block shared by the dense architectures:
//   qkv = x · [Wq; Wk; Wv]^T (+ bias)          separate or fused (Phi-3) projections
//   q, k = per-head RMSNorm(q), (k)             when the model has q/k norms (Qwen3, Gemma 3)
//   q, k = RoPE(q, k, position)                 first n_dims of each head (partial rotary)
//   cache[layer, seq, pos] = k, v               every row of the batch first,
//   attn = paged_attention(q, cache)            then every row's query (causal, window, soft-cap)
//   y = attn · Wo^T (+ bias)
// Row buffers: qkv [n x (q_dim + k_dim + v_dim)] with q, k, v side by side
// per row (the fused tensor's layout; separate projections write into it
// with a row stride), attn [n x n_heads * head_dim_v].
#include <cstdint>
#include <span>
#include <vector>

#include "backends/cpu/attention/paged_attention.h"
#include "backends/cpu/ops/rope.h"
#include "engine/forward_batch.h"
#include "kv/paged_kv_cache.h"
#include "model/blocks/cpu_context.h"
#include "model/model_desc.h"
#include "model/model_weights.h"

namespace pocketllm {

struct AttentionDims {
  uint32_t n_heads = 0;
  uint32_t n_kv_heads = 0;
  uint32_t head_dim_k = 0;
  uint32_t head_dim_v = 0;
  size_t q_dim() const { return size_t{n_heads} * head_dim_k; }
  size_t k_dim() const { return size_t{n_kv_heads} * head_dim_k; }
  size_t v_dim() const { return size_t{n_kv_heads} * head_dim_v; }
  size_t qkv_dim() const { return q_dim() + k_dim() + v_dim(); }
  size_t out_dim() const { return size_t{n_heads} * head_dim_v; }
};

AttentionDims attention_dims(const ModelDesc& desc);

// cos / sin of every row's position for one set of rotary frequencies.
struct RopeRows {
  ops::RopeFrequencies freq;
  std::vector<float> cos;  // [n_rows x n_dims / 2]
  std::vector<float> sin;  // [n_rows x n_dims / 2]
  size_t half() const { return freq.inv_freq.size(); }
  void compute(std::span<const int32_t> positions);
};

struct AttentionLayerWeights {
  bool fused_qkv = false;
  WeightMatrix q, k, v;               // [q_dim / k_dim / v_dim, n_embd] unless fused
  WeightMatrix qkv;                   // [qkv_dim, n_embd] when fused
  WeightMatrix o;                     // [n_embd, out_dim]
  std::vector<float> qkv_bias;        // [qkv_dim] or empty
  std::vector<float> o_bias;          // [n_embd] or empty
  std::vector<float> q_norm, k_norm;  // [head_dim_k] or empty
  float norm_eps = 1e-6f;
  AttentionParams params;             // scale, soft-cap and window of this layer
  RopeLayout rope_layout = RopeLayout::HalfSplit;
  uint32_t rope_set = 0;              // which RopeRows this layer rotates with
};

// Canonical tensors blk.L.attn_* as the description says they exist.
// `norm_offset` is added to q/k norm weights (Gemma's HF (1 + w) convention).
AttentionLayerWeights load_attention_layer(const ModelWeights& weights, const ModelDesc& desc, uint32_t layer,
                                           float norm_offset, uint32_t rope_set);

// Buffers the attention step reuses from one forward to the next (no
// allocation per step): row tiles, and the split form's partition results
// (sized once: attention_split_floats).
struct AttentionWork {
  std::vector<size_t> tiles;             // first row of each row tile, then n
  std::vector<size_t> partial_offsets;   // per row: index of its first partial, then the total
  std::vector<AttentionPartitions> partitions;  // per row
  std::vector<float> partials;
};

struct AttentionRun {
  CpuContext& ctx;
  const AttentionDims& dims;
  const ForwardBatch& batch;
  std::span<const RopeRows> rope;
  PagedKvCache& cache;
  std::vector<AttentionScratch>& scratch;  // one per pool thread
  AttentionWork& work;
  float* qkv;                              // [n x qkv_dim] scratch
  float* attn;                             // [n x out_dim] scratch
};

// y [n x n_embd] = attention(x [n x n_embd]) of `layer`.
void run_attention(const AttentionRun& run, const AttentionLayerWeights& w, uint32_t layer, const float* x,
                   float* y);

}  // namespace pocketllm
