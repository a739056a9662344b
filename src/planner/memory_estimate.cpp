#include "planner/memory_estimate.h"

#include <fmt/format.h>

#include <vector>

#include "backends/cpu/cpu_info.h"
#include "backends/cpu/thread_pool.h"
#include "model/model_stats.h"
#include "model/model_weights.h"
#include "planner/memory_probe.h"
#include "util/error.h"

namespace pocketllm {
namespace {

// Type and k of every matrix the forward multiplies by, as the file stores
// them (the data pointers are not needed to size the scratch).
std::vector<WeightMatrix> forward_matrices(const ModelSource& source, const ModelDesc& desc) {
  const ModelWeights weights(source);
  std::vector<WeightMatrix> out;
  for (const TensorSpec& spec : expected_tensors(desc)) {
    const bool multiplied = spec.group == TensorGroup::Attention || spec.group == TensorGroup::DenseFfn ||
                            spec.group == TensorGroup::Output ||
                            (spec.group == TensorGroup::TokenEmbedding && desc.tied_embeddings);
    if (!multiplied || spec.shape.size() != 2) continue;
    const WeightTensor* t = weights.find(spec.name);
    if (t == nullptr || !t->type || !MatmulKernels::supports(*t->type)) continue;
    WeightMatrix w;
    w.type = *t->type;
    w.rows = static_cast<int64_t>(spec.shape[0]);
    w.k = static_cast<int64_t>(spec.shape[1]);
    out.push_back(w);
  }
  return out;
}

}  // namespace

MemoryEstimate estimate_memory(const ModelSource& source, const MemoryEstimateOptions& options) {
  if (!source.desc) throw InputError(fmt::format("{}: no model description (config.json) to plan from", source.name));
  if (!source.has_weights()) throw InputError(fmt::format("{}: no weights to plan for", source.name));
  const ModelDesc& desc = *source.desc;

  MemoryEstimate estimate;
  estimate.weights_bytes = source.n_tensor_bytes;

  // The cache computes its own pool size; its pages stay untouched (no RSS).
  KvCacheOptions kv = options.kv;
  kv.n_blocks = PagedKvCache::blocks_for_tokens(options.n_ctx, options.n_seqs, kv.block_tokens);
  estimate.kv_bytes = PagedKvCache(desc, kv).pool_bytes();

  ActivationArenaOptions arena;
  arena.n_rows = options.max_batched_tokens;
  arena.n_logit_rows = options.n_logit_rows;
  arena.n_threads = options.n_threads > 0 ? options.n_threads : ThreadPool::default_thread_count();
  arena.kv_block_tokens = kv.block_tokens;
  const MatmulKernels kernels(best_matmul_isa(probe_cpu().simd));
  estimate.activations = activation_arena_bytes(desc, kernels, forward_matrices(source, desc), arena);
  return estimate;
}

std::string format_memory_estimate(const MemoryEstimate& estimate, const MemoryEstimateOptions& options) {
  return fmt::format("weights {} + KV {} ({} tokens) + activations {} ({}-token chunks) = {}",
                     format_memory_size(estimate.weights_bytes), format_memory_size(estimate.kv_bytes), options.n_ctx,
                     format_memory_size(estimate.activations.total()), options.max_batched_tokens,
                     format_memory_size(estimate.total()));
}

}  // namespace pocketllm
