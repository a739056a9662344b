#pragma once
// Per-token ops over a batch of rows: embedding lookup and normalisation.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "formats/ggml_types.h"
#include "model/blocks/cpu_context.h"
#include "model/model_weights.h"

namespace pocketllm {

// A [rows x cols] table read one row at a time, in any dequantizable type
// (the token embedding), used in place.
struct RowTable {
  GgmlType type = GgmlType::F32;
  const std::byte* data = nullptr;
  size_t row_bytes = 0;
  uint32_t rows = 0;
  uint32_t cols = 0;
};

RowTable load_row_table(const ModelWeights& weights, std::string_view name, uint32_t rows, uint32_t cols);

// out [ids.size() x cols] = table rows ids[i], times `scale`. Ids must be < rows.
void gather_rows(CpuContext& ctx, const RowTable& table, std::span<const int32_t> ids, float scale, float* out);

// RMSNorm of each row of x [n x dim] into out (may alias x) with weight [dim].
void rms_norm_rows(CpuContext& ctx, const float* x, float* out, size_t n, size_t dim,
                   std::span<const float> weight, float eps);

// acc [n] += x [n].
void add_in_place(float* acc, const float* x, size_t n);

}  // namespace pocketllm
