#pragma once
// Opens whatever the user named as a model and says what it is: a GGUF file,
// a Hugging Face folder (config.json + safetensors), a bare config.json, a
// lone .safetensors file, or (no path) the embedded default model. Owns the
// mappings, so tensor views stay valid while it lives.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "formats/gguf.h"
#include "formats/hf_model_dir.h"
#include "formats/safetensors.h"
#include "model/model_desc.h"

namespace pocketllm {

enum class ModelFormat { Gguf, HuggingFace, Safetensors };

// Tensors of one storage type in the file ("Q4_K", "BF16", ...).
struct TensorTypeTotals {
  std::string type;
  bool supported = true;   // false for ggml types pocketllm cannot compute with
  uint64_t n_tensors = 0;
  uint64_t n_elements = 0;
  uint64_t n_bytes = 0;
};

struct ModelSource {
  std::string name;           // the path, or the embedded model's name
  ModelFormat format = ModelFormat::Gguf;
  std::optional<GgufFile> gguf;
  std::optional<HfModelDir> hf;
  std::optional<SafetensorsModel> safetensors;  // a lone .safetensors file
  // Absent only for a lone .safetensors file with no config.json beside it.
  std::optional<ModelDesc> desc;

  // Totals over the tensors actually in the file(s), by type in first-seen
  // order; empty when there are no weights (a bare config.json).
  std::vector<TensorTypeTotals> tensor_types;
  uint64_t n_tensors = 0;
  uint64_t n_tensor_elements = 0;
  uint64_t n_tensor_bytes = 0;

  bool has_weights() const { return n_tensors > 0; }
};

// `path` empty: the embedded default model. Throws InputError for anything
// unreadable, malformed, or not a model.
ModelSource open_model_source(const std::string& path);

}  // namespace pocketllm
