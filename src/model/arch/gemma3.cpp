// Gemma 3 (text): Gemma 2's sandwich blocks with per-head q/k norms instead of
// soft-capping, and local (sliding-window) layers that rotate with their own
// RoPE base and no scaling, between global layers with the scaled RoPE.
// Norms multiply by (1 + w) with w stored in HF files, q/k norms included.
#include "model/arch/arch_builders.h"
#include "model/transformer.h"

namespace pocketllm {

std::unique_ptr<Model> build_gemma3(ModelSource source, const ModelLoadOptions& options) {
  const ModelDesc& d = *source.desc;
  require_arch(d.post_norms && d.qk_norm, source, "post norms and q/k norms");
  require_arch(!d.fused_qkv, source, "separate q/k/v projections");
  const DenseTransformerStyle style{.norms = NormPlacement::Sandwich, .hf_norm_offset = 1.0f};
  return std::make_unique<DenseTransformer>(std::move(source), style, options);
}

}  // namespace pocketllm
