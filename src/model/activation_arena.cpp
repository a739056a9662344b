#include "model/activation_arena.h"

#include <algorithm>

#include "model/blocks/attention_block.h"
#include "model/blocks/cpu_context.h"

namespace pocketllm {

size_t ActivationShape::floats() const {
  return x + cur + qkv + attn + gate_up + hidden + logit_rows + 2 * rope_sets * rope_per_set();
}

ActivationShape activation_shape(const ModelDesc& desc, size_t n_rows) {
  const AttentionDims dims = attention_dims(desc);
  const size_t embd = desc.n_embd;
  const size_t ff = desc.n_ff;
  ActivationShape s;
  s.rows = n_rows;
  s.x = n_rows * embd;
  s.cur = n_rows * embd;
  s.qkv = n_rows * dims.qkv_dim();
  s.attn = n_rows * dims.out_dim();
  s.gate_up = n_rows * 2 * ff;
  s.hidden = n_rows * ff;
  s.logit_rows = n_rows * embd;
  s.rope_half = desc.rope.n_dims / 2;
  s.rope_sets = desc.rope.theta_sliding > 0.0 && desc.n_sliding_layers() > 0 ? 2 : 1;
  return s;
}

size_t quantized_activation_bytes(const MatmulKernels& kernels, std::span<const WeightMatrix> matrices,
                                  size_t n_rows, unsigned n_threads) {
  size_t most = 0;
  for (const WeightMatrix& w : matrices) {
    most = std::max(most, kernels.activation_bytes(w.type, static_cast<int64_t>(n_rows), w.k));
    if (n_threads > 1 && kernels.activation_format(w.type) != ActivationFormat::F32) {
      most = std::max(most, CpuContext::thread_activation_bytes(kernels.activation_bytes(w.type, 1, w.k), n_threads));
    }
  }
  return most;
}

AttentionParams attention_scratch_params(const ModelDesc& desc) {
  AttentionParams p;
  p.n_heads = desc.n_heads;
  p.n_kv_heads = desc.n_kv_heads;
  p.head_dim_k = desc.head_dim_k;
  p.head_dim_v = desc.head_dim_v;
  return p;
}

ActivationArenaBytes activation_arena_bytes(const ModelDesc& desc, const MatmulKernels& kernels,
                                            std::span<const WeightMatrix> matrices,
                                            const ActivationArenaOptions& options) {
  ActivationArenaBytes bytes;
  bytes.row_buffers = activation_shape(desc, options.n_rows).floats() * sizeof(float);
  // The forward's logits rows, the generator's copy of them, and its last row.
  const size_t logit_rows = std::min(options.n_logit_rows, options.n_rows);
  bytes.logits = (2 * logit_rows + 1) * uint64_t{desc.vocab_size} * sizeof(float);
  bytes.quantized_activations = quantized_activation_bytes(kernels, matrices, options.n_rows, options.n_threads);
  const AttentionScratch one(attention_scratch_params(desc), options.kv_block_tokens);
  bytes.attention_scratch = uint64_t{one.bytes()} * std::max(1u, options.n_threads);
  bytes.attention_partials = uint64_t{attention_split_floats(attention_scratch_params(desc))} * sizeof(float);
  return bytes;
}

}  // namespace pocketllm
