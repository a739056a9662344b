// The portable kernel: dequantize a chunk of a weight row with the reference
// dequantizer and take f32 dot products with the unquantized activations.
// It is the fallback for any type an ISA has no kernel for.
#include <algorithm>

#include "backends/cpu/matmul/matmul_kernel_table.h"
#include "backends/cpu/quant/dequantize.h"

namespace pocketllm::matmul_detail {
namespace {

// A multiple of every block size (1, 32, 256).
constexpr int64_t kChunk = 256;

void multiply_rows_scalar(const WeightMatrix& w, const PreparedActivations& a, float* y,
                          int64_t ldy, int64_t row_begin, int64_t row_end) {
  const GgmlTypeTraits& traits = ggml_type_traits(w.type);
  const size_t row_bytes = w.row_bytes();
  float chunk[kChunk];
  for (int64_t r = row_begin; r < row_end; ++r) {
    const std::byte* row = w.data + static_cast<size_t>(r) * row_bytes;
    for (int64_t t = 0; t < a.n; ++t) y[t * ldy + r] = 0.0f;
    for (int64_t i0 = 0; i0 < w.k; i0 += kChunk) {
      const int64_t len = std::min(kChunk, w.k - i0);
      dequantize_row_unchecked(w.type, row + static_cast<size_t>(i0) / traits.block_size * traits.type_size,
                               chunk, len);
      for (int64_t t = 0; t < a.n; ++t) {
        const float* x = a.f32 + t * a.k + i0;
        float sum = 0.0f;
        for (int64_t i = 0; i < len; ++i) sum += chunk[i] * x[i];
        y[t * ldy + r] += sum;
      }
    }
  }
}

}  // namespace

TypeKernel scalar_kernel(GgmlType) { return {ActivationFormat::F32, multiply_rows_scalar}; }

}  // namespace pocketllm::matmul_detail
