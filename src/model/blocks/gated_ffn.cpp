#include "model/blocks/gated_ffn.h"

#include <fmt/format.h>

#include "backends/cpu/ops/activations.h"
#include "model/blocks/linear.h"
#include "util/error.h"

namespace pocketllm {

GatedFfnWeights load_gated_ffn(const ModelWeights& weights, const ModelDesc& d, uint32_t layer) {
  GatedFfnWeights w;
  w.n_ff = d.n_ff;
  w.activation = d.activation;
  if (w.activation != Activation::SwiGLU && w.activation != Activation::GeGLU) {
    throw InputError(fmt::format("{}: activation {} is not a dense gated FFN", weights.source_name(),
                                 activation_name(w.activation)));
  }
  const std::string prefix = fmt::format("blk.{}.", layer);
  w.fused = d.fused_qkv;
  if (w.fused) {
    w.gate_up = weights.matrix(prefix + "ffn_up.weight", uint64_t{2} * d.n_ff, d.n_embd);
  } else {
    w.gate = weights.matrix(prefix + "ffn_gate.weight", d.n_ff, d.n_embd);
    w.up = weights.matrix(prefix + "ffn_up.weight", d.n_ff, d.n_embd);
  }
  w.down = weights.matrix(prefix + "ffn_down.weight", d.n_embd, d.n_ff);
  return w;
}

namespace {

// h[t][c] = act(gate[t][c]) * up[t][c] for channels [c0, c1) of n tokens;
// gate_up rows hold a token's gate channels, then its up channels.
struct GatedActivation {
  Activation activation;
  const float* gate_up;
  float* h;
  size_t n;
  size_t ff;

  void operator()(size_t c0, size_t c1) const {
    for (size_t i = 0; i < n; ++i) {
      std::span<const float> gate(gate_up + i * 2 * ff + c0, c1 - c0);
      std::span<const float> up(gate_up + i * 2 * ff + ff + c0, c1 - c0);
      std::span<float> out(h + i * ff + c0, c1 - c0);
      if (activation == Activation::GeGLU) {
        ops::geglu(gate, up, out);
      } else {
        ops::swiglu(gate, up, out);
      }
    }
  }
};

}  // namespace

void run_gated_ffn(CpuContext& ctx, const GatedFfnWeights& w, const float* x, size_t n, float* gate_up, float* h,
                   float* y) {
  const size_t ff = w.n_ff;
  const auto ld = static_cast<int64_t>(2 * ff);
  const auto rows = static_cast<int64_t>(n);
  const GatedActivation act{w.activation, gate_up, h, n, ff};
  if (w.fused) {
    const LinearOutput out{&w.gate_up, gate_up, ld};
    run_linear(ctx, x, rows, {&out, 1});
    act(0, ff);
  } else {
    // Each task activates the channels whose gate and up rows it computed.
    const RowEpilogue epilogue{[](const void* context, int64_t c0, int64_t c1) {
                                 (*static_cast<const GatedActivation*>(context))(static_cast<size_t>(c0),
                                                                                 static_cast<size_t>(c1));
                               },
                               &act};
    const LinearOutput outs[] = {{&w.gate, gate_up, ld}, {&w.up, gate_up + ff, ld}};
    run_linear(ctx, x, rows, outs, &epilogue);
  }
  run_linear(ctx, h, rows, w.down, y);
}

}  // namespace pocketllm
