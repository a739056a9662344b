#include "model/model_desc.h"

#include <cmath>

#include <fmt/format.h>

#include "util/error.h"

namespace pocketllm {

bool ModelDesc::layer_is_moe(uint32_t layer) const {
  return layer < layer_moe.size() && layer_moe[layer];
}

bool ModelDesc::layer_is_sliding(uint32_t layer) const {
  return sliding_window > 0 && layer < layer_sliding.size() && layer_sliding[layer];
}

uint32_t ModelDesc::n_sliding_layers() const {
  uint32_t count = 0;
  for (uint32_t layer = 0; layer < n_layers; ++layer) count += layer_is_sliding(layer) ? 1u : 0u;
  return count;
}

uint32_t ModelDesc::leading_dense_layers() const {
  uint32_t layer = 0;
  while (layer < n_layers && !layer_is_moe(layer)) ++layer;
  return is_moe() ? layer : n_layers;
}

double ModelDesc::softmax_scale() const {
  if (attn_scale > 0.0) return attn_scale;
  return 1.0 / std::sqrt(static_cast<double>(head_dim_k));
}

std::string_view norm_type_name(NormType norm) {
  switch (norm) {
    case NormType::RmsNorm: return "rmsnorm";
    case NormType::LayerNorm: return "layernorm";
  }
  return "?";
}

std::string_view activation_name(Activation activation) {
  switch (activation) {
    case Activation::SwiGLU: return "swiglu";
    case Activation::GeGLU: return "geglu";
    case Activation::SwiGLUOaiClamped: return "swiglu-oai-clamped";
    case Activation::Gelu: return "gelu";
  }
  return "?";
}

std::string_view rope_scaling_name(RopeScalingType scaling) {
  switch (scaling) {
    case RopeScalingType::None: return "none";
    case RopeScalingType::Linear: return "linear";
    case RopeScalingType::Llama3: return "llama3";
    case RopeScalingType::Yarn: return "yarn";
  }
  return "?";
}

std::string_view rope_layout_name(RopeLayout layout) {
  switch (layout) {
    case RopeLayout::HalfSplit: return "half-split";
    case RopeLayout::Interleaved: return "interleaved";
  }
  return "?";
}

std::string_view expert_gating_name(ExpertGating gating) {
  switch (gating) {
    case ExpertGating::Softmax: return "softmax";
    case ExpertGating::Sigmoid: return "sigmoid";
  }
  return "?";
}

void validate_model_desc(const ModelDesc& d, const std::string& source) {
  auto fail = [&](const std::string& problem) {
    throw InputError(fmt::format("{}: {}", source, problem));
  };
  auto positive = [&](uint32_t value, const char* what) {
    if (value == 0) fail(fmt::format("{} must be positive", what));
  };
  positive(d.n_layers, "layer count");
  positive(d.n_embd, "embedding size");
  positive(d.n_heads, "attention head count");
  positive(d.n_kv_heads, "KV head count");
  positive(d.head_dim_k, "key head size");
  positive(d.head_dim_v, "value head size");
  positive(d.vocab_size, "vocabulary size");
  if (d.n_heads % d.n_kv_heads != 0) {
    fail(fmt::format("{} attention heads are not a multiple of {} KV heads", d.n_heads,
                     d.n_kv_heads));
  }
  if (d.rope.n_dims == 0 || d.rope.n_dims > d.head_dim_k || d.rope.n_dims % 2 != 0) {
    fail(fmt::format("rotary dimension count {} must be even and within the key head size {}",
                     d.rope.n_dims, d.head_dim_k));
  }
  if (!(d.rope.theta > 0.0) || !std::isfinite(d.rope.theta)) fail("RoPE base must be positive");
  if (!(d.rope.factor > 0.0) || !std::isfinite(d.rope.factor)) {
    fail("RoPE scaling factor must be positive");
  }
  if ((d.rope.scaling == RopeScalingType::Llama3 || d.rope.scaling == RopeScalingType::Yarn) &&
      d.rope.original_context == 0) {
    fail("RoPE scaling needs the original context length");
  }
  if (!(d.norm_eps > 0.0) || !std::isfinite(d.norm_eps)) fail("norm epsilon must be positive");
  if (d.layer_sliding.size() != d.n_layers || d.layer_moe.size() != d.n_layers) {
    fail("per-layer tables do not have one entry per layer");
  }
  bool any_sliding = false;
  for (bool sliding : d.layer_sliding) any_sliding = any_sliding || sliding;
  if (any_sliding && d.sliding_window == 0) fail("sliding-window layers without a window size");
  bool any_moe = false;
  for (bool moe : d.layer_moe) any_moe = any_moe || moe;
  if (any_moe != d.is_moe()) fail("MoE layers and expert count disagree");
  if (d.is_moe()) {
    positive(d.moe.expert_ffn, "expert feed-forward size");
    if (d.moe.n_experts_used == 0 || d.moe.n_experts_used > d.moe.n_experts) {
      fail(fmt::format("experts used per token ({}) must be between 1 and the expert count ({})",
                       d.moe.n_experts_used, d.moe.n_experts));
    }
    if (d.moe.n_groups == 0 || d.moe.topk_groups == 0 || d.moe.topk_groups > d.moe.n_groups ||
        d.moe.n_experts % d.moe.n_groups != 0) {
      fail(fmt::format("expert groups ({} chosen of {}) do not divide {} experts",
                       d.moe.topk_groups, d.moe.n_groups, d.moe.n_experts));
    }
    if (d.moe.n_shared_experts > 0) positive(d.moe.shared_expert_ffn, "shared expert size");
  }
  bool any_dense = false;
  for (bool moe : d.layer_moe) any_dense = any_dense || !moe;
  if (any_dense) positive(d.n_ff, "feed-forward size");
  if (d.is_mla()) {
    positive(d.mla.qk_rope_head_dim, "MLA rotary head size");
    positive(d.mla.v_head_dim, "MLA value head size");
    if (d.head_dim_k != d.mla.qk_nope_head_dim + d.mla.qk_rope_head_dim) {
      fail("MLA key head size is not nope + rope");
    }
  }
}

}  // namespace pocketllm
