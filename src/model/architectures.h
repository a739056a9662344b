#pragma once
// The architecture registry: one line per supported architecture with the
// names it goes by in Hugging Face configs and GGUF files and the facts that
// its config does not spell out (norm, activation, RoPE pair layout, which
// layers slide, fixed biases and norms). Adding an architecture is one line
// here (architectures.cpp) plus its forward file.
#include <span>
#include <string_view>
#include <vector>

#include "model/model_desc.h"

namespace pocketllm {

// Which layers use the sliding window when config.json has no `layer_types`.
enum class SlidingLayers {
  AllIfWindow,     // every layer when sliding_window is set (Mistral, Mixtral, Phi-3)
  EvenLayers,      // layers 0, 2, 4, ... (Gemma 2, gpt-oss)
  Pattern,         // all but every sliding_window_pattern-th layer (Gemma 3)
  QwenMaxWindow,   // layers >= max_window_layers when use_sliding_window (Qwen)
};

// Which attention projections carry a bias.
enum class AttentionBias {
  None,            // never (Mistral, Mixtral, Phi-3, DeepSeek)
  QkvAlways,       // q/k/v always, o never (Qwen2)
  QkvIfFlag,       // q/k/v when attention_bias (GLM-4.5)
  QkvoIfFlag,      // q/k/v/o when attention_bias (Llama, Qwen3, Gemma, gpt-oss)
};

struct ArchitectureInfo {
  std::string_view name;                       // canonical (ModelDesc::architecture)
  std::vector<std::string_view> hf_model_types;  // config.json model_type
  std::vector<std::string_view> hf_classes;    // config.json architectures[]
  std::string_view gguf_name;                  // general.architecture; empty when GGUF
                                               // files store it under another name
  NormType norm;
  Activation activation;
  RopeLayout hf_rope_layout;                   // pairs as the HF checkpoint's weights are laid out
  RopeLayout gguf_rope_layout;                 // pairs as llama.cpp's converter lays them out
  SlidingLayers sliding;
  AttentionBias bias;
  bool qk_norm_always;                         // Qwen3, Gemma 3
  bool post_norms;                             // Gemma 2/3 sandwich norms
  bool gemma_embedding_scale;                  // embeddings times sqrt(n_embd)
  bool mla;                                    // DeepSeek-style latent attention
  bool fused_qkv;                              // Phi-3
  bool attention_sinks;                        // gpt-oss
  ExpertGating gating;                         // when config.json has no scoring_func
  bool score_bias;                             // e_score_correction_bias by default
  bool norm_topk_default;                      // when config.json has no norm_topk_prob
  bool expert_biases;                          // gpt-oss router and expert biases
  // The transformers config class defaults for keys a config.json may omit
  // (a JSON object; keys present in config.json, even null, win).
  std::string_view hf_defaults;
};

std::span<const ArchitectureInfo> all_architectures();
// nullptr when unknown.
const ArchitectureInfo* find_architecture(std::string_view canonical_name);
const ArchitectureInfo* find_architecture_by_hf_model_type(std::string_view model_type);
const ArchitectureInfo* find_architecture_by_hf_class(std::string_view class_name);
const ArchitectureInfo* find_architecture_by_gguf(std::string_view gguf_name);

}  // namespace pocketllm
