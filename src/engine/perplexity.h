#pragma once
// Perplexity with llama-perplexity's method (tools/perplexity/perplexity.cpp),
// so that figures compare with llama.cpp's:
//   - the whole text is tokenized once (with the BOS the model adds);
//   - it is cut into non-overlapping chunks of n_ctx tokens (the tail that
//     does not fill a chunk is dropped; at least 2 chunks are required);
//   - each chunk runs from an empty cache with its first token replaced by
//     BOS (when the model uses one);
//   - only the second half is scored: the logits at positions
//     n_ctx/2 .. n_ctx-2 predict the tokens at n_ctx/2+1 .. n_ctx-1.
// PPL = exp(mean NLL); its uncertainty is llama.cpp's:
//   PPL * sqrt((mean(NLL^2) - mean(NLL)^2) / (count - 1)).
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>

#include "kv/paged_kv_cache.h"
#include "model/model.h"
#include "tokenizer/vocab.h"

namespace pocketllm {

// -log softmax(logits)[target], computed as llama.cpp's log_softmax does
// (float max, expf terms summed in double).
double token_nll(std::span<const float> logits, TokenId target);

// Sums of per-token NLL and NLL^2, and the estimate made from them.
class NllStats {
 public:
  void add(double nll);
  size_t count() const { return count_; }
  double mean_nll() const;
  double perplexity() const;  // exp(mean NLL)
  // The uncertainty of perplexity(); NaN when the variance is not positive
  // (llama.cpp then prints "Unexpected negative standard deviation").
  double perplexity_error() const;

 private:
  size_t count_ = 0;
  double nll_ = 0.0;
  double nll2_ = 0.0;
};

struct PerplexityOptions {
  uint32_t n_ctx = 512;    // tokens per chunk
  uint32_t n_batch = 512;  // tokens per forward call within a chunk
  size_t max_chunks = 0;   // score at most this many chunks (llama-perplexity --chunks); 0 = all
};

struct PerplexityResult {
  NllStats stats;
  size_t n_chunks = 0;
};

// Called after each chunk with its number (1-based) and the running perplexity.
using PerplexityProgress = std::function<void(size_t chunk, double perplexity)>;

// Scores `tokens` on `model`. `bos`: the token each chunk starts with
// (kNoToken: the chunk's own first token). `cache` must hold n_ctx tokens of
// one sequence. Throws InputError when the text has fewer than 2 * n_ctx tokens.
PerplexityResult evaluate_perplexity(Model& model, PagedKvCache& cache, std::span<const TokenId> tokens,
                                     TokenId bos, const PerplexityOptions& options,
                                     const PerplexityProgress& progress = {});

}  // namespace pocketllm
