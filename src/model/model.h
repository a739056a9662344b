#pragma once
// A loaded model ready to run: its description, its weights (views into the
// mapped file: zero copy, except HF bf16/f16 tensors that a kernel cannot use
// as stored), its tokenizer when the file has one, and the forward pass.
//
// forward() runs one ForwardBatch through every layer. The caller has
// reserved the batch's slots in the KV cache (PagedKvCache::reserve) first.
// Logits come back as [batch.n_logit_rows() x vocab_size] f32, in row order.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/forward_batch.h"
#include "kv/paged_kv_cache.h"
#include "model/model_desc.h"
#include "model/model_source.h"
#include "tokenizer/tokenizer.h"

namespace pocketllm {

class ThreadPool;

// Sees one layer's queries once a forward has run that layer: row i of the
// batch at q + i * stride, n_heads * head_dim_k values after q-norm and RoPE
// (what attention multiplied the keys with). For scores computed outside
// the attention kernels (kv/kv_importance.h).
using QueryObserver = std::function<void(uint32_t layer, const ForwardBatch& batch, const float* q, size_t stride)>;

struct ModelLoadOptions {
  unsigned n_threads = 0;  // 0 = ThreadPool::default_thread_count()
};

class Model {
 public:
  virtual ~Model() = default;

  // `path` as for open_model_source (empty: the embedded default model).
  // Throws InputError for files it cannot run (unsupported architecture or
  // tensor type, missing or mis-shaped tensors), naming the file and tensor.
  static std::unique_ptr<Model> load(const std::string& path, const ModelLoadOptions& options = {});

  virtual const ModelDesc& desc() const = 0;
  // nullptr when the model file carries no tokenizer (e.g. the golden HF bundles).
  virtual const Tokenizer* tokenizer() const = 0;
  // The chat template from the file (tokenizer.chat_template), if any.
  virtual std::optional<std::string> chat_template() const = 0;

  virtual void forward(const ForwardBatch& batch, PagedKvCache& cache, std::vector<float>& logits) = 0;

  // The opened file(s) the weights live in, for the memory estimate without
  // a second parse (planner/memory_estimate.h); nullptr when there are none.
  virtual const ModelSource* source() const { return nullptr; }

  // Context shift for cache eviction (kv/kv_eviction.h): rotates the stored
  // K of `seq`'s logical blocks [first_block, end_block) in every layer by
  // `delta` positions with each layer's own RoPE, so that a key stored at p
  // becomes the key at p + delta (RoPE is a rotation by position: rotating
  // by delta composes). Released blocks are skipped. Throws InputError for a
  // model that cannot (the default).
  virtual void shift_key_positions(PagedKvCache& cache, SeqId seq, uint32_t first_block, uint32_t end_block,
                                   int64_t delta);

  // Calls `observer` (empty: none) for every layer of every later forward.
  // Throws InputError for a model that cannot (the default).
  virtual void set_query_observer(QueryObserver observer);
};

}  // namespace pocketllm
