// Llama 2 and 3.x (and the Mistral / Mixtral-shaped GGUF files that llama.cpp
// names "llama", such as stories260K): pre-norm blocks, GQA, SwiGLU, RoPE with
// llama3 scaling (config.json parameters, or GGUF's rope_freqs tensor); q/k/v/o
// biases when attention_bias says so.
#include "model/arch/arch_builders.h"
#include "model/transformer.h"

namespace pocketllm {

std::unique_ptr<Model> build_llama(ModelSource source, const ModelLoadOptions& options) {
  const ModelDesc& d = *source.desc;
  require_arch(!d.fused_qkv && !d.qk_norm, source, "separate q/k/v projections and no q/k norms");
  require_arch(d.activation == Activation::SwiGLU, source, "a SwiGLU feed-forward");
  return std::make_unique<DenseTransformer>(std::move(source), DenseTransformerStyle{}, options);
}

}  // namespace pocketllm
