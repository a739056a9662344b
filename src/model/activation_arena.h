#pragma once
// The activation memory of one forward pass of up to `n_rows` rows (a prefill
// chunk or a decode batch): the sizes DenseTransformer allocates and the
// memory estimate (planner/memory_estimate) budgets come from these functions,
// so the two cannot drift. None of it depends on the context length: keys and
// values live in the paged KV cache, and attention is tiled (per-thread
// scratch of one KV block), so peak activation memory follows the chunk size.
#include <cstddef>
#include <cstdint>
#include <span>

#include "backends/cpu/attention/paged_attention.h"
#include "backends/cpu/matmul/matmul.h"
#include "model/model_desc.h"

namespace pocketllm {

// f32 element counts of the row buffers for n rows.
struct ActivationShape {
  size_t rows = 0;
  size_t x = 0;           // [n x n_embd] residual stream
  size_t cur = 0;         // [n x n_embd] block input, then block output
  size_t qkv = 0;         // [n x (q_dim + k_dim + v_dim)]
  size_t attn = 0;        // [n x n_heads * head_dim_v]
  size_t gate_up = 0;     // [n x 2 * n_ff]
  size_t hidden = 0;      // [n x n_ff]
  size_t logit_rows = 0;  // [n x n_embd] final-normed rows that want logits
  size_t rope_half = 0;   // n_dims / 2 of one RoPE set
  size_t rope_sets = 0;   // 1, or 2 when sliding layers have their own base (Gemma 3)
  // cos and sin of every row for one RoPE set: [n x rope_half] each.
  size_t rope_per_set() const { return rows * rope_half; }
  size_t floats() const;
};

ActivationShape activation_shape(const ModelDesc& desc, size_t n_rows);

// Scratch bytes for the quantized X of the largest of `matrices` (only type
// and k are read) over n rows: the matmul kernels' own activation_bytes, or,
// where more, every thread's own copy of one decode token (linear.cpp).
size_t quantized_activation_bytes(const MatmulKernels& kernels, std::span<const WeightMatrix> matrices,
                                  size_t n_rows, unsigned n_threads);

// The attention parameters every layer shares (per-layer windows, soft-caps
// and sinks do not change the scratch size).
AttentionParams attention_scratch_params(const ModelDesc& desc);

// The whole arena in bytes, by part.
struct ActivationArenaBytes {
  uint64_t row_buffers = 0;            // ActivationShape::floats() * 4
  uint64_t logits = 0;                 // logit rows kept per forward x vocab x 4, and the caller's copy
  uint64_t quantized_activations = 0;  // quantized_activation_bytes (n_rows, n_threads)
  uint64_t attention_scratch = 0;      // AttentionScratch::bytes() x threads
  uint64_t attention_partials = 0;     // split attention's partials: attention_split_floats x 4
  uint64_t total() const {
    return row_buffers + logits + quantized_activations + attention_scratch + attention_partials;
  }
};

struct ActivationArenaOptions {
  size_t n_rows = 512;        // rows per forward (--max-num-batched-tokens)
  size_t n_logit_rows = 1;    // rows per forward whose logits are kept (run: 1; logits, perplexity: n_rows)
  unsigned n_threads = 1;     // one attention scratch and one quantized decode token each
  uint32_t kv_block_tokens = 16;
};

ActivationArenaBytes activation_arena_bytes(const ModelDesc& desc, const MatmulKernels& kernels,
                                            std::span<const WeightMatrix> matrices,
                                            const ActivationArenaOptions& options);

}  // namespace pocketllm
