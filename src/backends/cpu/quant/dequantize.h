#pragma once
// Scalar reference dequantizers: one row of a weight tensor, bytes as in the
// GGUF file, to f32. They follow ggml's formulas term by term (same products
// in the same order), so they are the ground truth the fast kernels are
// tested against.
#include <cstddef>
#include <cstdint>
#include <span>

#include "formats/ggml_types.h"

namespace pocketllm {

// Types with a reference dequantizer (and matmul kernels): F32, F16, BF16,
// Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K..Q6_K, Q8_K, IQ4_NL, IQ4_XS, MXFP4.
bool has_dequantizer(GgmlType type);

// Writes out.size() elements; `row` must hold exactly their bytes
// (ggml_tensor_bytes). Throws InputError on an unsupported type, a count
// that is not a multiple of the block size, or a byte count that differs.
void dequantize_row(GgmlType type, std::span<const std::byte> row, std::span<float> out);

// The same without checks, for kernels that already know the geometry:
// `n` elements (a multiple of the block size) from `src`.
void dequantize_row_unchecked(GgmlType type, const void* src, float* out, int64_t n);

}  // namespace pocketllm
