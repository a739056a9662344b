#include "model/blocks/linear.h"

#include <algorithm>
#include <span>
#include <stdexcept>
#include <utility>

namespace pocketllm {
namespace {

// Below this many multiply-adds a fork/join costs more than it saves
// (decode steps of tiny models): the calling thread does the work alone.
constexpr int64_t kParallelMinMacs = 1 << 16;

// Grains of matrix-vector products (ThreadPool::parallel_chunks): whole
// 8-row groups of the repacked layouts, 32 rows per grain (~36 KB of a
// 2048-wide Q4_0 matrix, about a microsecond) so that taking one (an
// uncontended compare-exchange) costs little next to the streaming.
constexpr int64_t kRowsPerUnit = 8;
constexpr size_t kUnitsPerGrain = 4;

// Runs outputs that share one activation format (and panel choice) on one prepared X.
// The epilogue, when given, runs after this group's rows: the caller passes
// it to the last group only, once the earlier groups have finished.
void run_group(CpuContext& ctx, const float* x, int64_t n, std::span<const LinearOutput> group,
               const RowEpilogue* epilogue) {
  const WeightMatrix& first = *group.front().w;
  int64_t macs = 0;
  for (const LinearOutput& out : group) macs += n * out.w->rows * out.w->k;
  const bool parallel = macs >= kParallelMinMacs && ctx.pool.size() > 1;
  // A decode token's X: every thread quantizes its own copy as its share
  // starts (0.6 us for k = 2048 on AVX-512, in parallel) instead of one
  // thread before the fork while the others wait, then fetch its lines: no
  // serial section, whatever the thread count. Measured (2 threads, cold
  // Q4_0 GEMVs, same process): with X not in cache the serial form ran
  // 7-10% slower than products on an X quantized beforehand, the per-thread
  // form within noise of them; with X just written (as a norm leaves it) the
  // two forms are within noise at 2 threads.
  const bool per_thread_x =
      parallel && n == 1 && ctx.kernels.activation_format(first.type) != ActivationFormat::F32;
  const size_t bytes = ctx.kernels.activation_bytes(first.type, n, first.k);
  // (The slots are the scratch's first bytes: sized before X is described on it.)
  const std::span<std::byte> slots = per_thread_x ? ctx.thread_activation_slots(bytes) : std::span<std::byte>();
  if (ctx.activation_scratch.size() < bytes) ctx.activation_scratch.resize(bytes);
  const PreparedActivations a =
      ctx.kernels.describe_activations(first.type, x, n, first.k, ctx.activation_scratch);
  if (a.format != ActivationFormat::F32 && !per_thread_x) {
    if (parallel && n > 1) {
      ctx.pool.parallel_for(static_cast<size_t>(n), [&](size_t token, unsigned) {
        MatmulKernels::quantize_tokens(a, static_cast<int64_t>(token), static_cast<int64_t>(token) + 1);
      });
    } else {
      MatmulKernels::quantize_tokens(a, 0, n);
    }
  }
  int64_t max_rows = 0;
  for (const LinearOutput& out : group) max_rows = std::max(max_rows, out.w->rows);
  // Rows [begin, end) of every output that has them, then their epilogue.
  const auto run_rows = [&](const PreparedActivations& x_rows, int64_t begin, int64_t end) {
    for (const LinearOutput& out : group) {
      const int64_t last = std::min(end, out.w->rows);
      if (begin < last) ctx.kernels.multiply_rows(*out.w, x_rows, out.y, out.ldy, begin, last);
    }
    if (epilogue != nullptr) epilogue->fn(epilogue->context, begin, std::min(end, first.rows));
  };
  if (!parallel) {
    run_rows(a, 0, max_rows);
    return;
  }
  if (!a.panels) {
    // Matrix-vector products stream the weights once: grains taken and stolen
    // as the threads go keep every stream busy to the end (ThreadPool::parallel_chunks).
    const auto units = static_cast<size_t>((max_rows + kRowsPerUnit - 1) / kRowsPerUnit);
    const auto rows_of = [&](size_t begin, size_t end) {
      return std::pair(static_cast<int64_t>(begin) * kRowsPerUnit,
                       std::min(max_rows, static_cast<int64_t>(end) * kRowsPerUnit));
    };
    if (!per_thread_x) {
      ctx.pool.parallel_chunks(units, kUnitsPerGrain, [&](size_t begin, size_t end, unsigned) {
        const auto [row_begin, row_end] = rows_of(begin, end);
        run_rows(a, row_begin, row_end);
      });
      return;
    }
    const size_t slot_bytes = slots.size() / ctx.pool.size();
    const auto own_x = [&](unsigned thread) {
      return ctx.kernels.describe_activations(first.type, x, 1, first.k, slots.subspan(thread * slot_bytes, slot_bytes));
    };
    ctx.pool.parallel_chunks(
        units, kUnitsPerGrain,
        [&](size_t begin, size_t end, unsigned thread) {
          const auto [row_begin, row_end] = rows_of(begin, end);
          run_rows(own_x(thread), row_begin, row_end);
        },
        [&](unsigned thread) { MatmulKernels::quantize_tokens(own_x(thread), 0, 1); });
    return;
  }
  // Panels (prefill GEMMs, compute-bound): a static share of every output's rows.
  const unsigned n_threads = ctx.pool.size();
  ctx.pool.parallel_for(n_threads, [&](size_t task, unsigned) {
    const auto t = static_cast<unsigned>(task);
    for (const LinearOutput& out : group) {
      const auto rows = static_cast<size_t>(out.w->rows);
      const auto begin = static_cast<int64_t>(ThreadPool::task_begin(rows, t, n_threads));
      const auto end = static_cast<int64_t>(ThreadPool::task_begin(rows, t + 1, n_threads));
      ctx.kernels.multiply_rows(*out.w, a, out.y, out.ldy, begin, end);
    }
    if (epilogue != nullptr) {
      const auto rows = static_cast<size_t>(first.rows);
      epilogue->fn(epilogue->context, static_cast<int64_t>(ThreadPool::task_begin(rows, t, n_threads)),
                   static_cast<int64_t>(ThreadPool::task_begin(rows, t + 1, n_threads)));
    }
  });
}

}  // namespace

void run_linear(CpuContext& ctx, const float* x, int64_t n, std::span<const LinearOutput> outputs,
                const RowEpilogue* epilogue) {
  if (n == 0) return;
  if (epilogue != nullptr) {
    for (const LinearOutput& out : outputs) {
      if (out.w->rows != outputs.front().w->rows) {
        throw std::invalid_argument("run_linear: an epilogue needs outputs with equal row counts");
      }
    }
  }
  size_t i = 0;
  while (i < outputs.size()) {
    const WeightMatrix& w = *outputs[i].w;
    // One prepared X serves one activation format, as panels or as rows.
    const auto shares_x = [&](GgmlType type) {
      return ctx.kernels.activation_format(type) == ctx.kernels.activation_format(w.type) &&
             ctx.kernels.uses_panels(type, n) == ctx.kernels.uses_panels(w.type, n);
    };
    size_t j = i + 1;
    while (j < outputs.size() && shares_x(outputs[j].w->type)) {
      if (outputs[j].w->k != w.k) throw std::invalid_argument("run_linear: outputs differ in k");
      ++j;
    }
    run_group(ctx, x, n, outputs.subspan(i, j - i), j == outputs.size() ? epilogue : nullptr);
    i = j;
  }
}

}  // namespace pocketllm
