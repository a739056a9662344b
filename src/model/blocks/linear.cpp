#include "model/blocks/linear.h"

#include <stdexcept>

namespace pocketllm {
namespace {

// Below this many multiply-adds a fork/join costs more than it saves
// (decode steps of tiny models): the calling thread does the work alone.
constexpr int64_t kParallelMinMacs = 1 << 16;

// Runs outputs that share one activation format on one prepared X.
void run_group(CpuContext& ctx, const float* x, int64_t n, std::span<const LinearOutput> group) {
  const WeightMatrix& first = *group.front().w;
  const size_t bytes = ctx.kernels.activation_bytes(first.type, n, first.k);
  if (ctx.activation_scratch.size() < bytes) ctx.activation_scratch.resize(bytes);
  const PreparedActivations a =
      ctx.kernels.describe_activations(first.type, x, n, first.k, ctx.activation_scratch);
  int64_t macs = 0;
  for (const LinearOutput& out : group) macs += n * out.w->rows * out.w->k;
  const bool parallel = macs >= kParallelMinMacs && ctx.pool.size() > 1;
  if (a.format != ActivationFormat::F32) {
    if (parallel && n > 1) {
      ctx.pool.parallel_for(static_cast<size_t>(n), [&](size_t token, unsigned) {
        MatmulKernels::quantize_tokens(a, static_cast<int64_t>(token), static_cast<int64_t>(token) + 1);
      });
    } else {
      MatmulKernels::quantize_tokens(a, 0, n);
    }
  }
  if (!parallel) {
    for (const LinearOutput& out : group) ctx.kernels.multiply_rows(*out.w, a, out.y, out.ldy, 0, out.w->rows);
    return;
  }
  const unsigned n_threads = ctx.pool.size();
  ctx.pool.parallel_for(n_threads, [&](size_t task, unsigned) {
    const auto t = static_cast<unsigned>(task);
    for (const LinearOutput& out : group) {
      const auto rows = static_cast<size_t>(out.w->rows);
      const auto begin = static_cast<int64_t>(ThreadPool::task_begin(rows, t, n_threads));
      const auto end = static_cast<int64_t>(ThreadPool::task_begin(rows, t + 1, n_threads));
      ctx.kernels.multiply_rows(*out.w, a, out.y, out.ldy, begin, end);
    }
  });
}

}  // namespace

void run_linear(CpuContext& ctx, const float* x, int64_t n, std::span<const LinearOutput> outputs) {
  if (n == 0) return;
  size_t i = 0;
  while (i < outputs.size()) {
    const WeightMatrix& w = *outputs[i].w;
    const ActivationFormat format = ctx.kernels.activation_format(w.type);
    size_t j = i + 1;
    while (j < outputs.size() && ctx.kernels.activation_format(outputs[j].w->type) == format) {
      if (outputs[j].w->k != w.k) throw std::invalid_argument("run_linear: outputs differ in k");
      ++j;
    }
    run_group(ctx, x, n, outputs.subspan(i, j - i));
    i = j;
  }
}

}  // namespace pocketllm
