#pragma once
// A dense decoder-only transformer, the body shared by the Llama family,
// Qwen2/3, Mistral, Phi-3 and Gemma 2/3:
//   x = embed(tokens) * embedding_scale
//   per layer: attention block and gated FFN block with residuals, norms
//              placed as the architecture says (NormPlacement)
//   logits = final_softcap(norm(x) · Woutput^T)   for the rows asked for
// The architecture files (model/arch/*.cpp) pick the style and check what
// they require; sizes, biases, q/k norms, fused tensors, RoPE, windows and
// soft-caps come from the ModelDesc.
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "backends/cpu/thread_pool.h"
#include "model/blocks/attention_block.h"
#include "model/blocks/cpu_context.h"
#include "model/blocks/gated_ffn.h"
#include "model/blocks/linear.h"
#include "model/blocks/row_ops.h"
#include "model/model.h"
#include "model/model_weights.h"
#include "model/weight_repack.h"

namespace pocketllm {

enum class NormPlacement {
  PreNorm,   // x += attn(norm(x)); x += ffn(norm(x))               (Llama, Qwen, Mistral, Phi-3)
  Sandwich,  // x += norm(attn(norm(x))); x += norm(ffn(norm(x)))   (Gemma 2/3)
};

struct DenseTransformerStyle {
  NormPlacement norms = NormPlacement::PreNorm;
  // Added to every norm weight read from Hugging Face files. Gemma multiplies
  // by (1 + w) and stores w there; llama.cpp's GGUF converter stores 1 + w.
  float hf_norm_offset = 0.0f;
};

class DenseTransformer final : public Model {
 public:
  DenseTransformer(ModelSource source, const DenseTransformerStyle& style, const ModelLoadOptions& options);
  ~DenseTransformer() override;

  const ModelDesc& desc() const override { return desc_; }
  const Tokenizer* tokenizer() const override { return tokenizer_ ? &*tokenizer_ : nullptr; }
  std::optional<std::string> chat_template() const override { return chat_template_; }
  const ModelSource* source() const override { return source_.get(); }
  void forward(const ForwardBatch& batch, PagedKvCache& cache, std::vector<float>& logits) override;
  // In transformer_key_shift.cpp.
  void shift_key_positions(PagedKvCache& cache, SeqId seq, uint32_t first_block, uint32_t end_block,
                           int64_t delta) override;
  void set_query_observer(QueryObserver observer) override { query_observer_ = std::move(observer); }

 private:
  struct Layer {
    std::vector<float> attn_norm;       // [n_embd]
    std::vector<float> post_attn_norm;  // [n_embd], Sandwich only
    std::vector<float> ffn_norm;        // [n_embd]
    std::vector<float> post_ffn_norm;   // [n_embd], Sandwich only
    AttentionLayerWeights attention;
    GatedFfnWeights ffn;
  };

  // Activations of one forward, sized for the largest batch so far by
  // activation_shape (model/activation_arena.h), which the memory estimate uses too.
  struct Buffers {
    size_t capacity = 0;       // rows
    std::vector<float> x;      // [n x n_embd] residual stream
    std::vector<float> cur;    // [n x n_embd] block input, then block output
    std::vector<float> qkv;    // [n x qkv_dim]
    std::vector<float> attn;   // [n x out_dim]
    std::vector<float> gate_up;  // [n x 2 * n_ff]
    std::vector<float> hidden;   // [n x n_ff]
    std::vector<float> logit_rows;  // [n x n_embd] final-normed rows that want logits
  };

  void load_weights();
  void check_batch(const ForwardBatch& batch, const PagedKvCache& cache) const;
  void reserve_buffers(size_t n);
  void prepare_attention_scratch(const PagedKvCache& cache);
  void run_layer(uint32_t layer, const AttentionRun& attention_run, size_t n);
  void compute_logits(const ForwardBatch& batch, std::vector<float>& logits);

  std::unique_ptr<ModelSource> source_;  // owns the mappings the weights view
  ModelDesc desc_;
  DenseTransformerStyle style_;
  ModelWeights weights_;
  std::optional<Tokenizer> tokenizer_;
  std::optional<std::string> chat_template_;

  ThreadPool pool_;
  CpuContext ctx_;
  AttentionDims dims_;

  RowTable token_embd_;
  WeightMatrix output_;              // the LM head (token_embd when tied)
  std::vector<float> output_norm_;   // [n_embd]
  std::vector<Layer> layers_;
  std::vector<RopeRows> rope_;       // [0] global; [1] sliding layers with their own base
  std::vector<WeightMatrix> matmuls_;  // every matrix a forward multiplies by: sizes the quantized-X scratch
  RepackedWeights repacked_;          // matrices in the kernels' preferred layout (the rest are file views)

  Buffers buffers_;
  std::vector<AttentionScratch> attention_scratch_;  // one per pool thread
  AttentionWork attention_work_;
  uint32_t scratch_block_tokens_ = 0;
  QueryObserver query_observer_;  // sees each layer's q rows (still in buffers_.qkv after the layer)
};

}  // namespace pocketllm
