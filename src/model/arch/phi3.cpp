// Phi-3 / Phi-4-mini: pre-norm blocks with one fused qkv projection and one
// fused gate_up projection (gate rows first), and partial rotary embedding
// (the first partial_rotary_factor * head_dim dims of each head rotate).
#include "model/arch/arch_builders.h"
#include "model/transformer.h"

namespace pocketllm {

std::unique_ptr<Model> build_phi3(ModelSource source, const ModelLoadOptions& options) {
  const ModelDesc& d = *source.desc;
  require_arch(d.fused_qkv, source, "fused qkv and gate_up projections");
  require_arch(!d.qk_norm, source, "no q/k norms");
  return std::make_unique<DenseTransformer>(std::move(source), DenseTransformerStyle{}, options);
}

}  // namespace pocketllm
