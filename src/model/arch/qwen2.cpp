// Qwen2 / Qwen2.5: Llama's block with biases on the q, k and v projections
// (never on o), usually tied embeddings in the small sizes.
#include "model/arch/arch_builders.h"
#include "model/transformer.h"

namespace pocketllm {

std::unique_ptr<Model> build_qwen2(ModelSource source, const ModelLoadOptions& options) {
  const ModelDesc& d = *source.desc;
  require_arch(d.qkv_bias && !d.o_bias, source, "q/k/v biases and no output bias");
  require_arch(!d.fused_qkv && !d.qk_norm, source, "separate q/k/v projections and no q/k norms");
  return std::make_unique<DenseTransformer>(std::move(source), DenseTransformerStyle{}, options);
}

}  // namespace pocketllm
