#include "model/blocks/attention_block.h"

#include <fmt/format.h>

#include "backends/cpu/ops/norm.h"
#include "model/blocks/linear.h"
#include "model/blocks/row_ops.h"

namespace pocketllm {
namespace {

std::string tensor(uint32_t layer, std::string_view suffix) { return fmt::format("blk.{}.{}", layer, suffix); }

void append(std::vector<float>& out, const std::vector<float>& part) { out.insert(out.end(), part.begin(), part.end()); }

}  // namespace

AttentionDims attention_dims(const ModelDesc& desc) {
  return {desc.n_heads, desc.n_kv_heads, desc.head_dim_k, desc.head_dim_v};
}

void RopeRows::compute(std::span<const int32_t> positions) {
  const size_t h = half();
  cos.resize(positions.size() * h);
  sin.resize(positions.size() * h);
  for (size_t i = 0; i < positions.size(); ++i) {
    ops::rope_cos_sin(positions[i], freq.inv_freq, freq.attention_factor, {cos.data() + i * h, h},
                      {sin.data() + i * h, h});
  }
}

AttentionLayerWeights load_attention_layer(const ModelWeights& weights, const ModelDesc& d, uint32_t layer,
                                           float norm_offset, uint32_t rope_set) {
  const AttentionDims dims = attention_dims(d);
  AttentionLayerWeights w;
  w.fused_qkv = d.fused_qkv;
  if (w.fused_qkv) {
    w.qkv = weights.matrix(tensor(layer, "attn_qkv.weight"), dims.qkv_dim(), d.n_embd);
    if (d.qkv_bias) w.qkv_bias = weights.vector_f32(tensor(layer, "attn_qkv.bias"), dims.qkv_dim());
  } else {
    w.q = weights.matrix(tensor(layer, "attn_q.weight"), dims.q_dim(), d.n_embd);
    w.k = weights.matrix(tensor(layer, "attn_k.weight"), dims.k_dim(), d.n_embd);
    w.v = weights.matrix(tensor(layer, "attn_v.weight"), dims.v_dim(), d.n_embd);
    if (d.qkv_bias) {
      append(w.qkv_bias, weights.vector_f32(tensor(layer, "attn_q.bias"), dims.q_dim()));
      append(w.qkv_bias, weights.vector_f32(tensor(layer, "attn_k.bias"), dims.k_dim()));
      append(w.qkv_bias, weights.vector_f32(tensor(layer, "attn_v.bias"), dims.v_dim()));
    }
  }
  w.o = weights.matrix(tensor(layer, "attn_output.weight"), d.n_embd, dims.out_dim());
  if (d.o_bias) w.o_bias = weights.vector_f32(tensor(layer, "attn_output.bias"), d.n_embd);
  if (d.qk_norm) {
    w.q_norm = weights.vector_f32(tensor(layer, "attn_q_norm.weight"), d.head_dim_k, norm_offset);
    w.k_norm = weights.vector_f32(tensor(layer, "attn_k_norm.weight"), d.head_dim_k, norm_offset);
  }
  w.norm_eps = static_cast<float>(d.norm_eps);
  w.params.n_heads = d.n_heads;
  w.params.n_kv_heads = d.n_kv_heads;
  w.params.head_dim_k = d.head_dim_k;
  w.params.head_dim_v = d.head_dim_v;
  w.params.scale = static_cast<float>(d.softmax_scale());
  w.params.softcap = static_cast<float>(d.attn_softcap);
  w.params.window = d.layer_is_sliding(layer) ? d.sliding_window : 0;
  w.rope_layout = d.rope.layout;
  w.rope_set = rope_set;
  return w;
}

void run_attention(const AttentionRun& run, const AttentionLayerWeights& w, uint32_t layer, const float* x,
                   float* y) {
  const AttentionDims& dims = run.dims;
  const size_t n = run.batch.size();
  const size_t ld = dims.qkv_dim();
  const auto ldy = static_cast<int64_t>(ld);
  if (w.fused_qkv) {
    const LinearOutput out{&w.qkv, run.qkv, ldy};
    run_linear(run.ctx, x, static_cast<int64_t>(n), {&out, 1});
  } else {
    const LinearOutput outs[] = {{&w.q, run.qkv, ldy},
                                 {&w.k, run.qkv + dims.q_dim(), ldy},
                                 {&w.v, run.qkv + dims.q_dim() + dims.k_dim(), ldy}};
    run_linear(run.ctx, x, static_cast<int64_t>(n), outs);
  }

  // Per row: bias, q/k norm, RoPE, then into the cache (all rows before any query).
  const RopeRows& rope = run.rope[w.rope_set];
  const size_t half = rope.half();
  for (size_t i = 0; i < n; ++i) {
    float* row = run.qkv + i * ld;
    if (!w.qkv_bias.empty()) add_in_place(row, w.qkv_bias.data(), ld);
    float* q = row;
    float* k = row + dims.q_dim();
    if (!w.q_norm.empty()) {
      for (uint32_t h = 0; h < dims.n_heads; ++h) {
        std::span<float> head(q + size_t{h} * dims.head_dim_k, dims.head_dim_k);
        ops::rms_norm(head, w.q_norm, w.norm_eps, ops::NormWeight::Plain, head);
      }
      for (uint32_t h = 0; h < dims.n_kv_heads; ++h) {
        std::span<float> head(k + size_t{h} * dims.head_dim_k, dims.head_dim_k);
        ops::rms_norm(head, w.k_norm, w.norm_eps, ops::NormWeight::Plain, head);
      }
    }
    std::span<const float> cos(rope.cos.data() + i * half, half);
    std::span<const float> sin(rope.sin.data() + i * half, half);
    ops::rope_apply({q, dims.q_dim()}, dims.n_heads, dims.head_dim_k, w.rope_layout, cos, sin);
    ops::rope_apply({k, dims.k_dim()}, dims.n_kv_heads, dims.head_dim_k, w.rope_layout, cos, sin);
    run.cache.store(layer, run.batch.seq_ids[i], static_cast<uint32_t>(run.batch.positions[i]), k,
                    k + dims.k_dim());
  }

  const size_t out_dim = dims.out_dim();
  // One task per (row, KV head): a lone decode row still uses every thread.
  // Each head's output is computed the same way whoever runs it, so the
  // split changes no bits (batch invariance).
  const uint32_t n_kv_heads = w.params.n_kv_heads;
  auto attend = [&](size_t task, unsigned thread) {
    const size_t i = task / n_kv_heads;
    const auto kv_head = static_cast<uint32_t>(task % n_kv_heads);
    paged_attention_kv_heads(w.params, run.cache, layer, run.batch.seq_ids[i],
                             static_cast<uint32_t>(run.batch.positions[i]), run.qkv + i * ld, run.attn + i * out_dim,
                             run.scratch[thread], kv_head, kv_head + 1);
  };
  const size_t n_tasks = n * n_kv_heads;
  if (n_tasks == 1) {
    attend(0, 0);  // no fork/join for a single task
  } else {
    run.ctx.pool.parallel_for(n_tasks, attend);
  }

  run_linear(run.ctx, run.attn, static_cast<int64_t>(n), w.o, y);
  if (!w.o_bias.empty()) {
    for (size_t i = 0; i < n; ++i) add_in_place(y + i * w.o_bias.size(), w.o_bias.data(), w.o_bias.size());
  }
}

}  // namespace pocketllm
