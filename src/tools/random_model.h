#pragma once
// Random-weight models at real shapes, written as GGUF files that llama.cpp
// loads: for speed measurements and loader tests where the weights' values
// do not matter but their shapes, types and byte counts do.
//
// Weights are uniform with standard deviation 0.02 (the usual initializer
// scale), so with RMSNorm between blocks the activations stay O(1) and
// finite through every layer; norm weights are 1. Each tensor has its own
// random stream (seed, tensor index), and rows are generated, quantized (on
// all cores, each row alone: the bytes do not depend on the core count) and
// written one batch at a time, so a 7B file needs no more than a few tens of
// MiB of memory. The vocabulary (all tokenizer.ggml.* keys) is copied from a GGUF
// that has one, e.g. llama.cpp's ggml-vocab-llama-spm.gguf (32000 tokens).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "formats/ggml_types.h"

namespace pocketllm {

// The hyper-parameters of a published model (llama architecture).
struct RandomModelPreset {
  std::string_view name;
  std::string_view description;
  uint32_t n_embd;
  uint32_t n_layers;
  uint32_t n_heads;
  uint32_t n_kv_heads;
  uint32_t n_ff;
  uint32_t vocab_size;  // 0: whatever the vocabulary file holds
  uint32_t context_length;
  double rope_theta;
  double norm_eps;
};

const std::vector<RandomModelPreset>& random_model_presets();
// Throws InputError naming the known presets when `name` is not one.
const RandomModelPreset& find_random_model_preset(std::string_view name);

// llama.cpp's K-quant mixes (llama_ftype MOSTLY_Q4_K_M / MOSTLY_Q5_K_M, as
// llama_tensor_get_type picks them without an importance matrix): the base
// type (Q4_K / Q5_K) for most matrices, token_embd included; Q6_K for
// output.weight and for attn_v and ffn_down in the layers given "more bits"
// (the first and last eighth of the layers and every third one between).
enum class QuantMix { kNone, kQ4_K_M, kQ5_K_M };

// What `gen --type` takes: the types with a quantizer and a file type, and the mixes.
inline constexpr std::string_view kRandomModelTypes =
    "f32, f16, bf16, q4_0, q4_1, q5_0, q5_1, q8_0, q4_k, q5_k, q6_k, q4_k_m, q5_k_m";

struct RandomModelOptions {
  std::string arch = "llama";  // the only architecture so far
  std::string preset;
  GgmlType type = GgmlType::Q4_0;   // of every matrix unless `mix` is set; norms are F32
  QuantMix mix = QuantMix::kNone;   // when set, its types replace `type`
  uint64_t seed = 1;
  std::string vocab_path;           // GGUF whose tokenizer.ggml.* keys are copied
  std::optional<uint32_t> n_layers; // fewer (or more) blocks than the preset
};

// Writes the model to `path`. Throws InputError for an unknown arch or
// preset, a type without a quantizer (weight_quantizer.h), a row width that
// is not whole blocks of a tensor's type, or a vocabulary file without a
// tokenizer or with a size other than the preset's.
void write_random_model(const RandomModelOptions& options, const std::string& path);

// llama.cpp's general.file_type (enum llama_ftype) for a model whose
// matrices are all `type` (Q4_K, Q5_K: the _S file types); nullopt for
// types without one.
std::optional<uint32_t> llama_file_type_of(GgmlType type);
// ... and for a mix (Q4_K_M: 15, Q5_K_M: 17).
uint32_t llama_file_type_of(QuantMix mix);

// "Q4_K_M" / "Q5_K_M" (upper case), else nullopt.
std::optional<QuantMix> quant_mix_from_name(std::string_view name);

// The type of a matrix of the mix: `role` is the tensor name without the
// "blk.N." prefix (e.g. "attn_v.weight"), `layer` its block (ignored for
// token_embd / output).
GgmlType mix_tensor_type(QuantMix mix, std::string_view role, uint32_t layer, uint32_t n_layers);

}  // namespace pocketllm
