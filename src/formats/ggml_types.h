#pragma once
// The ggml tensor types that GGUF files use: ids as written in the file,
// names as llama.cpp prints them, and the block geometry that sizes a row.
#include <cstdint>
#include <optional>
#include <string_view>

namespace pocketllm {

// Ids are the on-disk values of ggml's `enum ggml_type` (gaps are ids that
// ggml removed; they never appear in valid files).
enum class GgmlType : uint32_t {
  F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
  Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15,
  IQ2_XXS = 16, IQ2_XS = 17, IQ3_XXS = 18, IQ1_S = 19, IQ4_NL = 20, IQ3_S = 21,
  IQ2_S = 22, IQ4_XS = 23, I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28,
  IQ1_M = 29, BF16 = 30, TQ1_0 = 34, TQ2_0 = 35, MXFP4 = 39,
};

struct GgmlTypeTraits {
  GgmlType type;
  std::string_view name;  // "Q4_K", "MXFP4", ...
  uint32_t block_size;    // elements per block (1 for plain types)
  uint32_t type_size;     // bytes per block
  // pocketllm reads (and will compute with) this type. Others are known,
  // sized and reported, but a model that needs them is refused by name.
  bool supported;
};

// nullptr for an id that no ggml version defines.
const GgmlTypeTraits* ggml_type_traits(uint32_t id);
const GgmlTypeTraits& ggml_type_traits(GgmlType type);
std::string_view ggml_type_name(GgmlType type);
std::optional<GgmlType> ggml_type_from_name(std::string_view name);

// Bytes of `n_elements` elements laid out in blocks; nullopt when
// n_elements is not a multiple of the block size or the size overflows.
std::optional<uint64_t> ggml_tensor_bytes(GgmlType type, uint64_t n_elements);

}  // namespace pocketllm
