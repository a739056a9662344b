#pragma once
// The gated feed-forward block of the dense architectures:
//   [gate | up] = x · [Wgate; Wup]^T       separate, or one fused gate_up tensor (Phi-3:
//                                          gate rows first, stored as ffn_up [2 * n_ff, n_embd])
//   h = act(gate) * up                     SwiGLU (silu) or GeGLU (gelu_tanh)
//   y = h · Wdown^T
// Row buffers: gate_up [n x 2 * n_ff] (gate then up per row), h [n x n_ff].
#include <cstdint>

#include "backends/cpu/matmul/matmul.h"
#include "model/blocks/cpu_context.h"
#include "model/model_desc.h"
#include "model/model_weights.h"

namespace pocketllm {

struct GatedFfnWeights {
  bool fused = false;
  WeightMatrix gate, up;  // [n_ff, n_embd] each, unless fused
  WeightMatrix gate_up;   // [2 * n_ff, n_embd] when fused
  WeightMatrix down;      // [n_embd, n_ff]
  Activation activation = Activation::SwiGLU;
  uint32_t n_ff = 0;
};

// blk.L.ffn_gate / ffn_up / ffn_down (fused: ffn_up holds both halves).
GatedFfnWeights load_gated_ffn(const ModelWeights& weights, const ModelDesc& desc, uint32_t layer);

// y [n x n_embd] = ffn(x [n x n_embd]); gate_up and h are scratch as above.
void run_gated_ffn(CpuContext& ctx, const GatedFfnWeights& w, const float* x, size_t n, float* gate_up, float* h,
                   float* y);

}  // namespace pocketllm
