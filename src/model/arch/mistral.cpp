// Mistral: Llama's block (pre-norm, GQA, SwiGLU, no biases), with a sliding
// window on every layer when config.json sets sliding_window.
#include "model/arch/arch_builders.h"
#include "model/transformer.h"

namespace pocketllm {

std::unique_ptr<Model> build_mistral(ModelSource source, const ModelLoadOptions& options) {
  const ModelDesc& d = *source.desc;
  require_arch(!d.fused_qkv && !d.qk_norm && !d.qkv_bias, source, "plain q/k/v projections");
  require_arch(d.activation == Activation::SwiGLU, source, "a SwiGLU feed-forward");
  return std::make_unique<DenseTransformer>(std::move(source), DenseTransformerStyle{}, options);
}

}  // namespace pocketllm
