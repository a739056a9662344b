#pragma once
// Attention mass per cached token of one sequence, for the importance-based
// eviction policy (H2O, Zhang et al. 2023: "heavy hitters" keep most of the
// attention; kv/kv_eviction.h). The attention kernels do not report their
// probabilities, so they are computed again here, from the queries the model
// reports after each layer (Model::set_query_observer) and the keys as the
// cache stores them: p = softmax(scale * q . K) of every query head over the
// keys it sees (causal, the layer's window, soft-cap), as attention does.
// Costs about one more attention pass, only when the policy is on.
//
// Each token gathers the sum of the probabilities it received and how many
// (query, head, layer) triples gave them; its score is their mean, which does
// not favour old tokens just for having been seen by more queries (the raw
// sum, as the H2O paper accumulates, evicts the blocks just before the recent
// window first: on stories260K it raised held-out perplexity at a 128-token
// budget from 4.42 to 4.84, the mean keeps 4.42; test_kv_eviction.cpp).
#include <cstdint>
#include <vector>

#include "engine/forward_batch.h"
#include "kv/paged_kv_cache.h"
#include "model/model_desc.h"

namespace pocketllm {

class KvImportance {
 public:
  KvImportance(const ModelDesc& desc, SeqId seq);

  // Adds the probabilities that the rows of `batch` in this sequence gave the
  // cached keys of `layer` (q: row i at q + i * stride, n_heads * head_dim_k,
  // after RoPE; every row's K already stored).
  void observe(const PagedKvCache& cache, uint32_t layer, const ForwardBatch& batch, const float* q, size_t stride);
  // The cache dropped tokens [first, first + n): later ones move down.
  void erase(uint32_t first, uint32_t n);

  // Mean probability per (query, head, layer) that saw it, averaged over each
  // logical block's tokens (0 for tokens never seen).
  std::vector<double> block_scores(uint32_t block_tokens) const;
  // The mean probability token `pos` received (0 if never seen).
  double token_score(uint32_t pos) const;
  uint32_t n_tokens() const { return static_cast<uint32_t>(mass_.size()); }
  // Probabilities received by the tokens still held (each query head's sum to 1).
  double total_mass() const;

 private:
  const ModelDesc& desc_;
  SeqId seq_;
  float scale_;
  float softcap_;
  std::vector<double> mass_;     // [token] probabilities received
  std::vector<uint64_t> seen_;   // [token] (query, head, layer) triples that saw it
  std::vector<float> keys_;      // [visible keys][head_dim_k] of one KV head
  std::vector<float> scores_;    // [visible keys]
};

}  // namespace pocketllm
