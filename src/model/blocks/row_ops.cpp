#include "model/blocks/row_ops.h"

#include "backends/cpu/ops/elementwise.h"
#include "backends/cpu/ops/norm.h"
#include "backends/cpu/quant/dequantize.h"

namespace pocketllm {
namespace {

// Below this many values, a fork/join costs more than the loop.
constexpr size_t kParallelMinValues = 1 << 14;

template <typename Fn>
void for_rows(CpuContext& ctx, size_t n, size_t dim, Fn&& fn) {
  if (n * dim < kParallelMinValues || n == 1) {
    for (size_t i = 0; i < n; ++i) fn(i);
    return;
  }
  ctx.pool.parallel_for(n, [&](size_t i, unsigned) { fn(i); });
}

}  // namespace

RowTable load_row_table(const ModelWeights& weights, std::string_view name, uint32_t rows, uint32_t cols) {
  const WeightTensor& t = weights.row_table(name, rows, cols);
  RowTable table;
  table.type = *t.type;
  table.data = t.data.data();
  table.row_bytes = t.data.size() / rows;
  table.rows = rows;
  table.cols = cols;
  return table;
}

void gather_rows(CpuContext& ctx, const RowTable& table, std::span<const int32_t> ids, float scale, float* out) {
  for_rows(ctx, ids.size(), table.cols, [&](size_t i) {
    float* row = out + i * table.cols;
    dequantize_row_unchecked(table.type, table.data + static_cast<size_t>(ids[i]) * table.row_bytes, row,
                             table.cols);
    if (scale != 1.0f) {
      for (size_t j = 0; j < table.cols; ++j) row[j] *= scale;
    }
  });
}

void rms_norm_rows(CpuContext& ctx, const float* x, float* out, size_t n, size_t dim,
                   std::span<const float> weight, float eps) {
  for_rows(ctx, n, dim, [&](size_t i) {
    ops::rms_norm({x + i * dim, dim}, weight, eps, ops::NormWeight::Plain, {out + i * dim, dim});
  });
}

void add_in_place(float* acc, const float* x, size_t n) { ops::add({acc, n}, {x, n}, {acc, n}); }

}  // namespace pocketllm
