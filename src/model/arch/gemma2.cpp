// Gemma 2: sandwich norms (after attention and after the FFN as well as
// before), GeGLU, embeddings scaled by sqrt(n_embd), RMSNorm by (1 + w) with w
// stored in HF files, soft-capped attention scores and final logits,
// query_pre_attn_scalar as the softmax scale, sliding window on even layers.
#include "model/arch/arch_builders.h"
#include "model/transformer.h"

namespace pocketllm {

std::unique_ptr<Model> build_gemma2(ModelSource source, const ModelLoadOptions& options) {
  const ModelDesc& d = *source.desc;
  require_arch(d.post_norms, source, "post-attention and post-FFN norms");
  require_arch(!d.fused_qkv, source, "separate q/k/v projections");
  const DenseTransformerStyle style{.norms = NormPlacement::Sandwich, .hf_norm_offset = 1.0f};
  return std::make_unique<DenseTransformer>(std::move(source), style, options);
}

}  // namespace pocketllm
