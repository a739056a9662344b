#pragma once
// Model shapes shared by the unit tests that build a KV cache or run
// attention without a model file (header-only, as test_support.h).
#include <cmath>
#include <cstdint>

#include "backends/cpu/attention/paged_attention.h"
#include "model/model_desc.h"

namespace pocketllm::test_support {

// Two layers: 0 full attention, 1 sliding window (when window > 0).
inline ModelDesc two_layer_desc(uint32_t n_heads, uint32_t n_kv_heads, uint32_t dk, uint32_t dv,
                                uint32_t window = 0) {
  ModelDesc d;
  d.architecture = "test";
  d.n_layers = 2;
  d.n_heads = n_heads;
  d.n_kv_heads = n_kv_heads;
  d.head_dim_k = dk;
  d.head_dim_v = dv;
  d.sliding_window = window;
  d.layer_sliding = {false, window > 0};
  return d;
}

// The model's heads at `scale_factor` / sqrt(dk), keys limited to `window`.
inline AttentionParams attention_params(const ModelDesc& d, float scale_factor, uint32_t window) {
  AttentionParams p;
  p.n_heads = d.n_heads;
  p.n_kv_heads = d.n_kv_heads;
  p.head_dim_k = d.head_dim_k;
  p.head_dim_v = d.head_dim_v;
  p.scale = scale_factor / std::sqrt(static_cast<float>(d.head_dim_k));
  p.window = window;
  return p;
}

}  // namespace pocketllm::test_support
