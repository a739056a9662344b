#pragma once
// The weight tensors of an opened model under their canonical names (the
// GGUF / llama.cpp names: "token_embd.weight", "blk.3.attn_q.weight", ...),
// whatever file they came from. Hugging Face safetensors names are mapped
// to canonical ones here (hf_to_canonical_name); GGUF names already are.
//
// Matrices are views into the mapping (zero copy): GGUF tensors in their
// ggml type, safetensors F32 / F16 / BF16 as the ggml types of the same
// layout, which the matmul kernels use as stored. Small 1-D tensors (norms,
// biases) are converted to f32 copies once, at load.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "backends/cpu/matmul/matmul.h"
#include "formats/ggml_types.h"
#include "model/model_desc.h"
#include "model/model_source.h"

namespace pocketllm {

// One tensor as stored. Shape is row-major, outermost first, as PyTorch
// prints it ([rows, k] for a matrix; a GGUF `ne` reversed).
struct WeightTensor {
  std::string file_name;          // the name in the file (errors name both)
  std::optional<GgmlType> type;   // nullopt: a safetensors dtype with no ggml equivalent
  std::string dtype_name;         // "BF16", "Q4_K", ... as the file spells it
  std::vector<uint64_t> shape;
  std::span<const std::byte> data;
};

// The canonical name of a Hugging Face tensor, or nullopt for tensors the
// forward pass does not read (rotary inv_freq buffers, vision towers, ...).
// `post_norms` (Gemma 2/3) decides what post_attention_layernorm is: the norm
// after attention there, the pre-FFN norm everywhere else.
std::optional<std::string> hf_to_canonical_name(std::string_view hf_name, bool post_norms);

class ModelWeights {
 public:
  // Indexes every tensor of `source` (which must outlive this object).
  // Throws InputError when the source has no weights.
  explicit ModelWeights(const ModelSource& source);

  const std::string& source_name() const { return source_name_; }
  bool has(std::string_view name) const;
  // nullptr when absent.
  const WeightTensor* find(std::string_view name) const;

  // A matrix [rows, k] for the matmul kernels, used in place. Throws
  // InputError naming the file and tensor when it is missing, has another
  // shape, or is of a type without matmul kernels.
  WeightMatrix matrix(std::string_view name, uint64_t rows, uint64_t k) const;
  // A vector of `n` values converted to f32, plus `offset` added to each
  // (Gemma's HF norms store w where the model multiplies by 1 + w).
  std::vector<float> vector_f32(std::string_view name, uint64_t n, float offset = 0.0f) const;
  // A [rows, cols] tensor of any dequantizable type whose rows are read one
  // at a time (embedding lookup), checked for shape, type and size.
  const WeightTensor& row_table(std::string_view name, uint64_t rows, uint64_t cols) const;

 private:
  const WeightTensor& require(std::string_view name) const;
  [[noreturn]] void fail(const WeightTensor& tensor, std::string_view canonical, const std::string& problem) const;
  void check_shape(const WeightTensor& tensor, std::string_view canonical,
                   const std::vector<uint64_t>& shape) const;

  std::string source_name_;
  std::unordered_map<std::string, WeightTensor> tensors_;  // canonical name -> tensor
};

}  // namespace pocketllm
