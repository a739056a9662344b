#pragma once
// Linear projections Y = X · W^T on the thread pool. Several projections of
// the same input (q/k/v, gate/up) run in one parallel pass: each thread takes
// its share of the rows of every matrix, so a decode step pays one fork/join
// for them. Rows are split, never the reduction, so results are the same for
// any thread count and any batch composition (matmul.h's contract).
#include <cstdint>
#include <span>

#include "backends/cpu/matmul/matmul.h"
#include "model/blocks/cpu_context.h"

namespace pocketllm {

// One projection: Y [n x w.rows] written at y[t * ldy + r].
struct LinearOutput {
  const WeightMatrix* w = nullptr;
  float* y = nullptr;
  int64_t ldy = 0;
};

// Work on rows [row_begin, row_end) of every output, for all n tokens, run by
// the task that computed those rows right after it did (a gated FFN's
// activation, say): no extra fork/join, no serial pass over the outputs.
struct RowEpilogue {
  void (*fn)(const void* context, int64_t row_begin, int64_t row_end) = nullptr;
  const void* context = nullptr;
};

// X [n x k] f32 row-major (k = every output's w.k). With an epilogue, every
// output has the same number of rows.
void run_linear(CpuContext& ctx, const float* x, int64_t n, std::span<const LinearOutput> outputs,
                const RowEpilogue* epilogue = nullptr);

inline void run_linear(CpuContext& ctx, const float* x, int64_t n, const WeightMatrix& w, float* y) {
  const LinearOutput out{&w, y, w.rows};
  run_linear(ctx, x, n, std::span<const LinearOutput>(&out, 1));
}

}  // namespace pocketllm
