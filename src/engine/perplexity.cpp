#include "engine/perplexity.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <vector>

#include "engine/forward_batch.h"
#include "util/error.h"

namespace pocketllm {

double token_nll(std::span<const float> logits, TokenId target) {
  if (target < 0 || static_cast<size_t>(target) >= logits.size()) {
    throw std::invalid_argument("token_nll: target outside the logits");
  }
  float max_logit = logits[0];
  for (const float v : logits) max_logit = std::max(max_logit, v);
  double sum_exp = 0.0;
  for (const float v : logits) sum_exp += static_cast<double>(std::exp(v - max_logit));
  return -(static_cast<double>(logits[static_cast<size_t>(target)] - max_logit) - std::log(sum_exp));
}

void NllStats::add(double nll) {
  ++count_;
  nll_ += nll;
  nll2_ += nll * nll;
}

double NllStats::mean_nll() const { return count_ == 0 ? 0.0 : nll_ / static_cast<double>(count_); }

double NllStats::perplexity() const { return std::exp(mean_nll()); }

double NllStats::perplexity_error() const {
  const double mean = mean_nll();
  const double variance = nll2_ / static_cast<double>(count_) - mean * mean;
  if (count_ < 2 || !(variance > 0.0)) return std::numeric_limits<double>::quiet_NaN();
  return perplexity() * std::sqrt(variance / static_cast<double>(count_ - 1));
}

PerplexityResult evaluate_perplexity(Model& model, PagedKvCache& cache, std::span<const TokenId> tokens,
                                     TokenId bos, const PerplexityOptions& options,
                                     const PerplexityProgress& progress) {
  const uint32_t n_ctx = options.n_ctx;
  if (n_ctx < 4) throw InputError(fmt::format("context size {} is too small for perplexity (at least 4)", n_ctx));
  if (tokens.size() < 2 * static_cast<size_t>(n_ctx)) {
    throw InputError(fmt::format("the text has {} tokens; perplexity with a context of {} needs at least {}",
                                 tokens.size(), n_ctx, 2 * static_cast<size_t>(n_ctx)));
  }
  const size_t vocab = model.desc().vocab_size;
  for (const TokenId id : tokens) {
    if (id < 0 || static_cast<size_t>(id) >= vocab) {
      throw InputError(fmt::format("token id {} is outside the vocabulary of {}", id, vocab));
    }
  }
  const uint32_t n_batch = std::max<uint32_t>(1, options.n_batch);
  const uint32_t first = n_ctx / 2;  // first scored logit row (predicts position first + 1)
  constexpr SeqId kSeq = 0;

  PerplexityResult result;
  result.n_chunks = tokens.size() / n_ctx;
  if (options.max_chunks > 0) result.n_chunks = std::min(result.n_chunks, options.max_chunks);
  std::vector<TokenId> chunk(n_ctx);
  ForwardBatch batch;
  std::vector<float> logits;
  for (size_t c = 0; c < result.n_chunks; ++c) {
    const std::span<const TokenId> text = tokens.subspan(c * n_ctx, n_ctx);
    std::copy(text.begin(), text.end(), chunk.begin());
    if (bos != kNoToken) chunk[0] = bos;

    for (uint32_t begin = 0; begin < n_ctx; begin += n_batch) {
      const uint32_t n = std::min(n_batch, n_ctx - begin);
      if (!cache.reserve(kSeq, n)) throw InputError("KV cache full while scoring a chunk");
      batch.clear();
      batch.add_sequence_chunk(kSeq, chunk.data() + begin, n, static_cast<int32_t>(begin), false);
      // Logits only where they are scored: rows first .. n_ctx - 2.
      for (uint32_t i = 0; i < n; ++i) {
        const uint32_t pos = begin + i;
        batch.want_logits[i] = (pos >= first && pos + 1 < n_ctx) ? 1 : 0;
      }
      model.forward(batch, cache, logits);
      size_t row = 0;
      for (uint32_t i = 0; i < n; ++i) {
        if (batch.want_logits[i] == 0) continue;
        const std::span<const float> row_logits(logits.data() + row * vocab, vocab);
        result.stats.add(token_nll(row_logits, chunk[begin + i + 1]));
        ++row;
      }
    }
    cache.free_sequence(kSeq);  // each chunk starts from an empty cache
    if (progress) progress(c + 1, result.stats.perplexity());
  }
  return result;
}

}  // namespace pocketllm
