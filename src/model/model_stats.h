#pragma once
// Figures derived from a ModelDesc alone, before any weight is read: the
// weight tensors the description implies, parameter counts (total and active
// per token), and KV-cache bytes per token by layer kind and cache type.
#include <cstdint>
#include <string>
#include <vector>

#include "model/model_desc.h"

namespace pocketllm {

// What a tensor is for; parameter counts are summed per group.
enum class TensorGroup {
  TokenEmbedding,  // token_embd: one row per token is read, the table is counted whole
  Output,          // output (lm head), absent when tied to the token embedding
  Attention,       // projections, biases, q/k norms, sinks
  Norm,            // per-layer and final norms
  DenseFfn,
  Router,          // expert router weight/bias and score-correction bias
  RoutedExperts,   // stacked per-expert tensors [n_experts, ...]
  SharedExperts,
  RopeFactors,     // GGUF llama3 rope_freqs
};

// One expected weight tensor under its llama.cpp/GGUF name. Shapes are
// row-major as PyTorch prints them ([out_features, in_features]); the ggml
// `ne` order of a GGUF file is the reverse. Routed experts are stacked:
// [n_experts, rows, cols].
struct TensorSpec {
  std::string name;              // "blk.3.attn_q.weight"
  std::vector<uint64_t> shape;
  int32_t layer = -1;            // -1 for tensors outside the layers
  TensorGroup group = TensorGroup::Attention;
  uint64_t n_elements() const;
};

// The weights a model of this description holds (MTP layers excluded),
// MLA's kv_b as one tensor, Phi-3's fused qkv and gate_up (as ffn_up).
std::vector<TensorSpec> expected_tensors(const ModelDesc& desc);

// KV cache element types, as the paged cache stores them
// (kv/kv_quant_formats.h, the --kv-cache-dtype names): f16 (2 bytes a
// value); q8 (a value a byte plus an f16 scale per row); q4 (half a byte a
// value; K adds an f16 scale and minimum per channel per 16-token block, V an
// f16 scale and minimum per row). Bytes per row are the default 16-token
// block's bytes / 16, rounded up. A row is one head's K or V vector, or one
// MLA latent (stored as K).
enum class KvType { F16, Q8, Q4 };
std::string_view kv_type_name(KvType type);
uint64_t kv_row_bytes(uint64_t n_values, KvType type, bool is_key);

// What one layer caches per token: k_rows rows of k_width values and
// v_rows rows of v_width values (MLA latent: one row, no V).
struct KvLayerShape {
  uint32_t k_rows = 0;
  uint32_t k_width = 0;
  uint32_t v_rows = 0;
  uint32_t v_width = 0;
  uint64_t values() const;
  uint64_t bytes(KvType type) const;
};

struct KvCacheStats {
  uint32_t n_full_layers = 0;      // attend to the whole context
  uint32_t n_sliding_layers = 0;   // keep at most sliding_window tokens
  uint32_t sliding_window = 0;
  bool mla = false;                // layer is the compressed latent (kv_lora_rank + rope dims)
  KvLayerShape layer;              // what each layer caches per token
  KvLayerShape expanded_layer;     // MLA: per-head K and V as if expanded; else = layer

  // Bytes per token summed over the full-attention layers / the sliding layers.
  uint64_t full_bytes_per_token(KvType type) const;
  uint64_t sliding_bytes_per_token(KvType type) const;
  // Cache bytes for n_ctx tokens: full layers grow with n_ctx, sliding layers
  // stop at the window.
  uint64_t bytes_for_context(uint64_t n_ctx, KvType type) const;
  // MLA only: per token over all layers if K and V were cached per head.
  uint64_t expanded_bytes_per_token(KvType type) const;
  uint64_t expanded_bytes_for_context(uint64_t n_ctx, KvType type) const;
};

// Parameter counts. Model cards differ on what "active" includes, so both
// usual conventions are given:
//   active_params: every weight a token uses: all non-expert weights, the
//     shared experts and n_experts_used routed experts per MoE layer, the
//     token-embedding table and the output head (Qwen's convention:
//     Qwen3-30B-A3B "3.3B activated").
//   active_params_excl_token_embd: the same without the token-embedding table
//     (a lookup, not a matmul), unless it is tied to the output head
//     (OpenAI's and DeepSeek's convention: gpt-oss-20b 3.6B,
//     DeepSeek-V2-Lite 2.4B).
// Dense models: active = total.
struct ModelStats {
  std::vector<TensorSpec> tensors;
  uint64_t total_params = 0;
  uint64_t token_embedding_params = 0;
  uint64_t output_params = 0;           // 0 when tied
  uint64_t non_embedding_params = 0;    // total minus token embedding and output head
  uint64_t routed_expert_params = 0;    // all routed experts of all layers
  uint64_t active_params = 0;
  uint64_t active_params_excl_token_embd = 0;
  KvCacheStats kv;
};

ModelStats compute_stats(const ModelDesc& desc);

}  // namespace pocketllm
