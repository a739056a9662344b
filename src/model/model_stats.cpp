#include "model/model_stats.h"

#include <algorithm>

#include <fmt/format.h>

#include "kv/kv_quant_formats.h"
#include "kv/paged_kv_cache.h"

namespace pocketllm {

uint64_t TensorSpec::n_elements() const {
  uint64_t count = 1;
  for (uint64_t dim : shape) count *= dim;
  return count;
}

namespace {

// Appends the tensors of one layer; `add` names them "blk.L.<suffix>".
class LayerTensors {
 public:
  LayerTensors(std::vector<TensorSpec>& out, uint32_t layer) : out_(out), layer_(layer) {}
  void add(std::string_view suffix, std::vector<uint64_t> shape, TensorGroup group) {
    out_.push_back({fmt::format("blk.{}.{}", layer_, suffix), std::move(shape),
                    static_cast<int32_t>(layer_), group});
  }

 private:
  std::vector<TensorSpec>& out_;
  uint32_t layer_;
};

void add_attention(const ModelDesc& d, LayerTensors& t) {
  const uint64_t embd = d.n_embd;
  const uint64_t q_out = uint64_t{d.n_heads} * d.head_dim_k;
  const uint64_t k_out = uint64_t{d.n_kv_heads} * d.head_dim_k;
  const uint64_t v_out = uint64_t{d.n_kv_heads} * d.head_dim_v;
  const uint64_t attn_out = uint64_t{d.n_heads} * d.head_dim_v;
  const auto A = TensorGroup::Attention;
  if (d.is_mla()) {
    const MlaDesc& m = d.mla;
    if (m.q_lora_rank > 0) {
      t.add("attn_q_a.weight", {m.q_lora_rank, embd}, A);
      t.add("attn_q_a_norm.weight", {m.q_lora_rank}, TensorGroup::Norm);
      t.add("attn_q_b.weight", {q_out, m.q_lora_rank}, A);
    } else {
      t.add("attn_q.weight", {q_out, embd}, A);
    }
    t.add("attn_kv_a_mqa.weight", {uint64_t{m.kv_lora_rank} + m.qk_rope_head_dim, embd}, A);
    t.add("attn_kv_a_norm.weight", {m.kv_lora_rank}, TensorGroup::Norm);
    t.add("attn_kv_b.weight",
          {uint64_t{d.n_heads} * (uint64_t{m.qk_nope_head_dim} + m.v_head_dim), m.kv_lora_rank}, A);
  } else if (d.fused_qkv) {
    t.add("attn_qkv.weight", {q_out + k_out + v_out, embd}, A);
    if (d.qkv_bias) t.add("attn_qkv.bias", {q_out + k_out + v_out}, A);
  } else {
    t.add("attn_q.weight", {q_out, embd}, A);
    t.add("attn_k.weight", {k_out, embd}, A);
    t.add("attn_v.weight", {v_out, embd}, A);
    if (d.qkv_bias) {
      t.add("attn_q.bias", {q_out}, A);
      t.add("attn_k.bias", {k_out}, A);
      t.add("attn_v.bias", {v_out}, A);
    }
  }
  t.add("attn_output.weight", {embd, attn_out}, A);
  if (d.o_bias) t.add("attn_output.bias", {embd}, A);
  if (d.qk_norm) {
    t.add("attn_q_norm.weight", {d.head_dim_k}, A);
    t.add("attn_k_norm.weight", {d.head_dim_k}, A);
  }
  if (d.attention_sinks) t.add("attn_sinks.weight", {d.n_heads}, A);
}

void add_ffn(const ModelDesc& d, uint32_t layer, LayerTensors& t) {
  const uint64_t embd = d.n_embd;
  if (!d.layer_is_moe(layer)) {
    const uint64_t ff = d.n_ff;
    if (d.fused_qkv) {  // Phi-3 stores gate and up as one [2 * n_ff, n_embd] tensor
      t.add("ffn_up.weight", {2 * ff, embd}, TensorGroup::DenseFfn);
    } else {
      t.add("ffn_gate.weight", {ff, embd}, TensorGroup::DenseFfn);
      t.add("ffn_up.weight", {ff, embd}, TensorGroup::DenseFfn);
    }
    t.add("ffn_down.weight", {embd, ff}, TensorGroup::DenseFfn);
    return;
  }
  const MoeDesc& m = d.moe;
  const uint64_t n_exp = m.n_experts;
  const uint64_t eff = m.expert_ffn;
  t.add("ffn_gate_inp.weight", {n_exp, embd}, TensorGroup::Router);
  if (m.router_bias) t.add("ffn_gate_inp.bias", {n_exp}, TensorGroup::Router);
  if (m.score_bias) t.add("exp_probs_b.bias", {n_exp}, TensorGroup::Router);
  const auto E = TensorGroup::RoutedExperts;
  t.add("ffn_gate_exps.weight", {n_exp, eff, embd}, E);
  t.add("ffn_up_exps.weight", {n_exp, eff, embd}, E);
  t.add("ffn_down_exps.weight", {n_exp, embd, eff}, E);
  if (m.expert_bias) {
    t.add("ffn_gate_exps.bias", {n_exp, eff}, E);
    t.add("ffn_up_exps.bias", {n_exp, eff}, E);
    t.add("ffn_down_exps.bias", {n_exp, embd}, E);
  }
  if (m.n_shared_experts > 0) {
    const uint64_t sff = m.shared_expert_ffn;
    t.add("ffn_gate_shexp.weight", {sff, embd}, TensorGroup::SharedExperts);
    t.add("ffn_up_shexp.weight", {sff, embd}, TensorGroup::SharedExperts);
    t.add("ffn_down_shexp.weight", {embd, sff}, TensorGroup::SharedExperts);
  }
}

}  // namespace

std::vector<TensorSpec> expected_tensors(const ModelDesc& d) {
  std::vector<TensorSpec> out;
  const uint64_t embd = d.n_embd;
  out.push_back({"token_embd.weight", {d.vocab_size, embd}, -1, TensorGroup::TokenEmbedding});
  if (d.rope.freq_factors_tensor) {
    out.push_back({"rope_freqs.weight", {d.rope.n_dims / 2}, -1, TensorGroup::RopeFactors});
  }
  for (uint32_t layer = 0; layer < d.n_layers; ++layer) {
    LayerTensors t(out, layer);
    t.add("attn_norm.weight", {embd}, TensorGroup::Norm);
    add_attention(d, t);
    if (d.post_norms) t.add("post_attention_norm.weight", {embd}, TensorGroup::Norm);
    t.add("ffn_norm.weight", {embd}, TensorGroup::Norm);
    add_ffn(d, layer, t);
    if (d.post_norms) t.add("post_ffw_norm.weight", {embd}, TensorGroup::Norm);
  }
  out.push_back({"output_norm.weight", {embd}, -1, TensorGroup::Norm});
  if (!d.tied_embeddings) {
    out.push_back({"output.weight", {d.vocab_size, embd}, -1, TensorGroup::Output});
  }
  return out;
}

std::string_view kv_type_name(KvType type) {
  switch (type) {
    case KvType::F16: return "f16";
    case KvType::Q8: return "q8";
    case KvType::Q4: return "q4";
  }
  return "?";
}

uint64_t kv_row_bytes(uint64_t n_values, KvType type, bool is_key) {
  if (n_values == 0) return 0;
  KvDtype dtype = KvDtype::F16;
  switch (type) {
    case KvType::F16: dtype = KvDtype::F16; break;
    case KvType::Q8: dtype = KvDtype::Q8; break;
    case KvType::Q4: dtype = KvDtype::Q4; break;
  }
  const uint64_t bt = KvCacheOptions().block_tokens;
  const uint64_t slab = kv_slab_bytes(kv_layout(dtype, is_key), static_cast<uint32_t>(bt),
                                      static_cast<uint32_t>(n_values));
  return (slab + bt - 1) / bt;
}

uint64_t KvLayerShape::values() const {
  return uint64_t{k_rows} * k_width + uint64_t{v_rows} * v_width;
}

uint64_t KvLayerShape::bytes(KvType type) const {
  return k_rows * kv_row_bytes(k_width, type, true) + v_rows * kv_row_bytes(v_width, type, false);
}

uint64_t KvCacheStats::full_bytes_per_token(KvType type) const {
  return n_full_layers * layer.bytes(type);
}

uint64_t KvCacheStats::sliding_bytes_per_token(KvType type) const {
  return n_sliding_layers * layer.bytes(type);
}

uint64_t KvCacheStats::bytes_for_context(uint64_t n_ctx, KvType type) const {
  const uint64_t sliding_tokens = std::min<uint64_t>(n_ctx, sliding_window);
  return full_bytes_per_token(type) * n_ctx + sliding_bytes_per_token(type) * sliding_tokens;
}

uint64_t KvCacheStats::expanded_bytes_per_token(KvType type) const {
  return (uint64_t{n_full_layers} + n_sliding_layers) * expanded_layer.bytes(type);
}

uint64_t KvCacheStats::expanded_bytes_for_context(uint64_t n_ctx, KvType type) const {
  const uint64_t sliding_tokens = std::min<uint64_t>(n_ctx, sliding_window);
  return expanded_layer.bytes(type) * (n_full_layers * n_ctx + n_sliding_layers * sliding_tokens);
}

ModelStats compute_stats(const ModelDesc& d) {
  ModelStats s;
  s.tensors = expected_tensors(d);
  for (const TensorSpec& t : s.tensors) {
    const uint64_t n = t.n_elements();
    s.total_params += n;
    if (t.group == TensorGroup::TokenEmbedding) s.token_embedding_params += n;
    if (t.group == TensorGroup::Output) s.output_params += n;
    if (t.group == TensorGroup::RoutedExperts) s.routed_expert_params += n;
  }
  s.non_embedding_params = s.total_params - s.token_embedding_params - s.output_params;
  // Routed expert tensors are stacked over n_experts, so the unused share is exact.
  const uint64_t unused_experts =
      d.is_moe() ? s.routed_expert_params / d.moe.n_experts * (d.moe.n_experts - d.moe.n_experts_used)
                 : 0;
  s.active_params = s.total_params - unused_experts;
  s.active_params_excl_token_embd =
      s.active_params - (d.tied_embeddings ? 0 : s.token_embedding_params);

  KvCacheStats& kv = s.kv;
  kv.n_sliding_layers = d.n_sliding_layers();
  kv.n_full_layers = d.n_layers - kv.n_sliding_layers;
  kv.sliding_window = kv.n_sliding_layers > 0 ? d.sliding_window : 0;
  kv.mla = d.is_mla();
  kv.expanded_layer = {d.n_kv_heads, d.head_dim_k, d.n_kv_heads, d.head_dim_v};
  kv.layer = kv.mla ? KvLayerShape{1, d.mla.kv_lora_rank + d.mla.qk_rope_head_dim, 0, 0}
                    : kv.expanded_layer;
  return s;
}

}  // namespace pocketllm
