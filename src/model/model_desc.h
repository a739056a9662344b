#pragma once
// One architecture-neutral description of a transformer LLM, filled from GGUF
// metadata (model_desc_gguf.cpp) or a Hugging Face config.json
// (model_desc_hf.cpp). Everything downstream (planner, loader, forward pass,
// `info`) reads this, never the file's own keys. Per-architecture defaults and
// names live in architectures.cpp (one registry line per architecture).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pocketllm {

enum class NormType { RmsNorm, LayerNorm };

// Feed-forward activation (gated unless noted).
enum class Activation {
  SwiGLU,            // silu(gate) * up
  GeGLU,             // gelu_tanh(gate) * up (Gemma)
  SwiGLUOaiClamped,  // gpt-oss: clamped gate/up, gate * sigmoid(alpha * gate), (up + 1)
  Gelu,              // plain gelu, not gated
};

enum class RopeScalingType { None, Linear, Llama3, Yarn };

// How rotary pairs are formed: NeoX/HF "rotate_half" pairs (i, i + d/2);
// interleaved (GPT-J, llama.cpp "norm" on permuted GGUF weights) pairs (2i, 2i+1).
enum class RopeLayout { HalfSplit, Interleaved };

struct RopeDesc {
  double theta = 10000.0;
  uint32_t n_dims = 0;                 // rotated dims per head (partial rotary)
  RopeLayout layout = RopeLayout::HalfSplit;
  RopeScalingType scaling = RopeScalingType::None;
  double factor = 1.0;                 // linear / llama3 / yarn factor
  uint32_t original_context = 0;       // llama3 / yarn original_max_position_embeddings
  double low_freq_factor = 1.0;        // llama3
  double high_freq_factor = 4.0;       // llama3
  double beta_fast = 32.0;             // yarn
  double beta_slow = 1.0;              // yarn
  double mscale = 1.0;                 // yarn (DeepSeek), 1 = unused
  double mscale_all_dim = 0.0;         // yarn (DeepSeek), 0 = unused
  bool truncate = true;                // yarn (gpt-oss: false)
  // GGUF llama3 models carry their scaled frequencies as tensor rope_freqs
  // [n_dims / 2] instead of the llama3 parameters.
  bool freq_factors_tensor = false;
  // Sliding-window layers of Gemma 3 rotate with their own base and no scaling.
  double theta_sliding = 0.0;          // 0 = same as theta / scaling
};

enum class ExpertGating { Softmax, Sigmoid };

struct MoeDesc {
  uint32_t n_experts = 0;              // routed experts; 0 = dense model
  uint32_t n_experts_used = 0;         // top-k
  uint32_t n_shared_experts = 0;
  uint32_t expert_ffn = 0;             // per-expert intermediate size
  uint32_t shared_expert_ffn = 0;      // per shared expert (usually expert_ffn)
  ExpertGating gating = ExpertGating::Softmax;
  bool norm_topk_prob = false;         // renormalise the chosen weights
  bool score_bias = false;             // e_score_correction_bias (selection only)
  double routed_scaling = 1.0;
  uint32_t n_groups = 1;               // grouped routing (DeepSeek-V3)
  uint32_t topk_groups = 1;
  bool router_bias = false;            // gpt-oss
  bool expert_bias = false;            // gpt-oss
};

// Multi-head latent attention (DeepSeek-V2/V3, GLM-4.7-Flash).
struct MlaDesc {
  uint32_t q_lora_rank = 0;            // 0 = no query compression
  uint32_t kv_lora_rank = 0;           // 0 = not MLA
  uint32_t qk_nope_head_dim = 0;
  uint32_t qk_rope_head_dim = 0;
  uint32_t v_head_dim = 0;
};

struct ModelDesc {
  std::string architecture;      // canonical registry name (architectures.h): llama,
                                 // mistral, mixtral, qwen2, qwen3, qwen3moe, deepseek2, deepseek3,
                                 // glm4moe, glm4moelite, gemma2, gemma3, gptoss, phi3
  std::string source_architecture;  // GGUF general.architecture or HF architectures[0]
  std::string name;              // general.name / _name_or_path when present

  uint32_t n_layers = 0;         // decoder layers used for generation
  uint32_t n_nextn_layers = 0;   // multi-token-prediction layers stored after them
                                 // (GLM, DeepSeek-V3); not run, not counted
  uint32_t n_embd = 0;
  uint32_t n_heads = 0;
  uint32_t n_kv_heads = 0;       // MLA: = n_heads (the expanded view)
  uint32_t head_dim_k = 0;       // per-head width of Q and K (MLA: nope + rope)
  uint32_t head_dim_v = 0;       // per-head width of V
  uint32_t n_ff = 0;             // dense FFN intermediate size (0 if no dense layer)
  uint32_t vocab_size = 0;
  uint32_t context_length = 0;   // max positions the model was built for

  NormType norm = NormType::RmsNorm;
  double norm_eps = 1e-5;
  Activation activation = Activation::SwiGLU;
  double swiglu_limit = 0.0;     // gpt-oss clamp; 0 = none
  bool tied_embeddings = false;
  bool qkv_bias = false;
  bool o_bias = false;
  bool qk_norm = false;          // per-head RMSNorm on q and k
  bool fused_qkv = false;        // single qkv projection and gate_up tensor (Phi-3)
  bool post_norms = false;       // Gemma 2/3: extra norms after attention and FFN

  RopeDesc rope;
  MoeDesc moe;
  MlaDesc mla;
  std::vector<bool> layer_moe;        // [n_layers]; true = routed-expert FFN

  uint32_t sliding_window = 0;        // 0 = none; a query at i sees keys (i - window, i]
  std::vector<bool> layer_sliding;    // [n_layers]; true = sliding-window layer
  bool attention_sinks = false;       // gpt-oss learned sinks
  double attn_softcap = 0.0;          // 0 = none (Gemma 2)
  double final_softcap = 0.0;         // 0 = none (Gemma 2)
  double attn_scale = 0.0;            // softmax scale override; 0 = 1/sqrt(head_dim_k)
  double embedding_scale = 1.0;       // Gemma: sqrt(n_embd)

  bool is_moe() const { return moe.n_experts > 0; }
  bool is_mla() const { return mla.kv_lora_rank > 0; }
  bool layer_is_moe(uint32_t layer) const;
  bool layer_is_sliding(uint32_t layer) const;
  uint32_t n_sliding_layers() const;
  uint32_t leading_dense_layers() const;  // dense layers before the first MoE layer
  // The softmax scale attention uses (attn_scale, or 1/sqrt(head_dim_k)).
  double softmax_scale() const;
};

std::string_view norm_type_name(NormType norm);
std::string_view activation_name(Activation activation);
std::string_view rope_scaling_name(RopeScalingType scaling);
std::string_view rope_layout_name(RopeLayout layout);
std::string_view expert_gating_name(ExpertGating gating);

// Checks the invariants every consumer relies on (positive sizes, heads that
// divide, per-layer vectors of n_layers entries, rotated dims within the head)
// and throws InputError "SOURCE: problem" otherwise. Both fillers call it.
void validate_model_desc(const ModelDesc& desc, const std::string& source);

}  // namespace pocketllm
