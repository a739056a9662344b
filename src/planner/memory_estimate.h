#pragma once
// What a run of a model will take in memory, before anything is loaded or
// allocated, from the model file's description and the run's options:
//   weights      the file's tensors (mapped in place, counted whole)
//   KV cache     the paged pool for n_ctx tokens (PagedKvCache's own layout)
//   activations  the arena of one forward of a chunk of max_batched_tokens
//                rows (model/activation_arena.h: the sizes DenseTransformer
//                allocates), independent of the prompt length
// The memory planner builds on this; peak RSS of a run is this total plus
// the runtime (binary, libraries, tokenizer tables, thread stacks), which the
// long-prompt RSS test measures with a tiny prompt.
#include <cstdint>
#include <string>

#include "kv/paged_kv_cache.h"
#include "model/activation_arena.h"
#include "model/model_source.h"

namespace pocketllm {

struct MemoryEstimateOptions {
  uint32_t n_ctx = 4096;               // tokens the KV cache holds
  uint32_t n_seqs = 1;                 // sequences sharing the pool (one partly filled block each)
  uint32_t max_batched_tokens = 512;   // rows per forward (the prefill chunk)
  uint32_t n_logit_rows = 1;           // rows per forward whose logits are kept
  unsigned n_threads = 0;              // 0: ThreadPool::default_thread_count()
  KvCacheOptions kv;                   // dtypes and block size; n_blocks is set from n_ctx
};

struct MemoryEstimate {
  uint64_t weights_bytes = 0;
  uint64_t kv_bytes = 0;
  ActivationArenaBytes activations;
  uint64_t total() const { return weights_bytes + kv_bytes + activations.total(); }
};

// Throws InputError when the source has no weights or no description.
MemoryEstimate estimate_memory(const ModelSource& source, const MemoryEstimateOptions& options);

// "weights 607.9 MiB + KV 704.0 MiB (32768 tokens) + activations 38.2 MiB
// (512-token chunks) = 1.3 GiB"
std::string format_memory_estimate(const MemoryEstimate& estimate, const MemoryEstimateOptions& options);

}  // namespace pocketllm
