#pragma once
// Random-weight models at real shapes, written as GGUF files that llama.cpp
// loads: for speed measurements and loader tests where the weights' values
// do not matter but their shapes, types and byte counts do.
//
// Weights are uniform with standard deviation 0.02 (the usual initializer
// scale), so with RMSNorm between blocks the activations stay O(1) and
// finite through every layer; norm weights are 1. Each tensor has its own
// random stream (seed, tensor index), and rows are generated, quantized and
// written one batch at a time, so a 7B file needs no more than a few MiB of
// memory. The vocabulary (all tokenizer.ggml.* keys) is copied from a GGUF
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

struct RandomModelOptions {
  std::string arch = "llama";  // the only architecture so far
  std::string preset;
  GgmlType type = GgmlType::Q4_0;   // of every matrix; norms are F32
  uint64_t seed = 1;
  std::string vocab_path;           // GGUF whose tokenizer.ggml.* keys are copied
  std::optional<uint32_t> n_layers; // fewer (or more) blocks than the preset
};

// Writes the model to `path`. Throws InputError for an unknown arch or
// preset, a type without a quantizer (weight_quantizer.h), a row width that
// is not whole blocks of the type, or a vocabulary file without a
// tokenizer or with a size other than the preset's.
void write_random_model(const RandomModelOptions& options, const std::string& path);

// llama.cpp's general.file_type (enum llama_ftype) for a model whose
// matrices are all `type`; nullopt for types without one.
std::optional<uint32_t> llama_file_type_of(GgmlType type);

}  // namespace pocketllm
