// Qwen3 (dense): Llama's block with a per-head RMSNorm on q and k before RoPE
// and an explicit head_dim (n_heads * head_dim need not equal n_embd).
#include "model/arch/arch_builders.h"
#include "model/transformer.h"

namespace pocketllm {

std::unique_ptr<Model> build_qwen3(ModelSource source, const ModelLoadOptions& options) {
  const ModelDesc& d = *source.desc;
  require_arch(d.qk_norm, source, "q/k norms (attn_q_norm, attn_k_norm)");
  require_arch(!d.fused_qkv, source, "separate q/k/v projections");
  return std::make_unique<DenseTransformer>(std::move(source), DenseTransformerStyle{}, options);
}

}  // namespace pocketllm
