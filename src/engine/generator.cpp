#include "engine/generator.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>
#include <string>

#include "tokenizer/stream_decoder.h"
#include "util/error.h"

namespace pocketllm {

std::unique_ptr<PagedKvCache> make_single_sequence_cache(const ModelDesc& desc, uint32_t n_ctx, KvCacheTypes types,
                                                         bool enable_prefix_caching) {
  KvCacheOptions options;
  options.enable_prefix_caching = enable_prefix_caching;
  options.k_dtype = types.k;
  options.v_dtype = types.v;
  options.n_blocks = PagedKvCache::blocks_for_tokens(n_ctx, 1, options.block_tokens);
  return std::make_unique<PagedKvCache>(desc, options);
}

Generator::Generator(Model& model, PagedKvCache& cache, uint32_t n_ctx, const Tokenizer* tokenizer, SeqId seq)
    : model_(model),
      cache_(cache),
      tokenizer_(tokenizer),
      seq_(seq),
      n_ctx_(n_ctx),
      vocab_size_(model.desc().vocab_size) {
  if (n_ctx_ == 0) throw InputError("context size must be at least 1 token");
}

Generator::~Generator() {
  if (importance_) model_.set_query_observer({});
  if (holds_sequence_) cache_.free_sequence(seq_);
}

void Generator::set_prefill_chunk(uint32_t n_tokens) { prefill_chunk_ = std::max<uint32_t>(1, n_tokens); }

void Generator::set_cache_eviction(const CacheEvictionConfig& config) {
  validate_cache_eviction(config, cache_.options().block_tokens);
  if (cache_.prefix_caching()) {
    throw std::invalid_argument("Generator: cache eviction needs a cache without prefix caching");
  }
  if (config.policy == EvictionPolicy::H2O && !importance_) {
    // The observer first: importance_ is set only once the model took it.
    model_.set_query_observer([this](uint32_t layer, const ForwardBatch& batch, const float* q, size_t stride) {
      importance_->observe(cache_, layer, batch, q, stride);
    });
    importance_ = std::make_unique<KvImportance>(model_.desc(), seq_);
  } else if (config.policy != EvictionPolicy::H2O && importance_) {
    model_.set_query_observer({});
    importance_.reset();
  }
  eviction_ = config;
}

uint32_t Generator::make_room(uint32_t n_new) {
  if (!eviction_) return n_new;
  const uint32_t bt = cache_.options().block_tokens;
  const EvictionStep step = plan_eviction(*eviction_, bt, n_past_, n_new);
  if (step.n_blocks == 0) return step.n_fit;
  std::vector<uint32_t> blocks;
  if (importance_) {
    blocks = lowest_score_blocks(step, importance_->block_scores(bt));
  } else {
    for (uint32_t b = step.first_block; b < step.first_block + step.n_blocks; ++b) blocks.push_back(b);
  }
  evict_blocks(blocks);
  return step.n_fit;
}

void Generator::evict_blocks(const std::vector<uint32_t>& blocks) {
  const uint32_t bt = cache_.options().block_tokens;
  const uint32_t end_block = (n_past_ + bt - 1) / bt;
  // The kept blocks after the k-th dropped one move down by k + 1 blocks:
  // rotate their keys, then close the gaps (last first, so indices hold).
  for (size_t k = 0; k < blocks.size(); ++k) {
    const uint32_t next = k + 1 < blocks.size() ? blocks[k + 1] : end_block;
    model_.shift_key_positions(cache_, seq_, blocks[k] + 1, next, -static_cast<int64_t>((k + 1) * bt));
  }
  for (auto b = blocks.rbegin(); b != blocks.rend(); ++b) {
    cache_.drop_blocks(seq_, *b, 1);
    if (importance_) importance_->erase(*b * bt, bt);
  }
  const auto shift = static_cast<uint32_t>(blocks.size() * bt);
  n_past_ -= shift;
  n_evicted_tokens_ += shift;
}

void Generator::forward_chunk(std::span<const TokenId> tokens, bool last_logits, bool all_logits,
                              std::vector<float>& out) {
  if (!cache_.reserve(seq_, static_cast<uint32_t>(tokens.size()))) {
    throw InputError(fmt::format("KV cache full: no room for {} more tokens after {}", tokens.size(), n_past_));
  }
  holds_sequence_ = true;
  batch_.clear();
  batch_.add_sequence_chunk(seq_, tokens.data(), tokens.size(), static_cast<int32_t>(n_past_), last_logits,
                            all_logits);
  model_.forward(batch_, cache_, out);
  cache_.commit_tokens(seq_, tokens);  // names the blocks that became full (prefix caching)
  n_past_ += static_cast<uint32_t>(tokens.size());
  n_forward_tokens_ += tokens.size();
}

const std::vector<float>& Generator::feed(std::span<const TokenId> tokens, bool all_logits) {
  if (tokens.empty()) throw std::invalid_argument("Generator::feed: no tokens");
  if (!eviction_ && tokens.size() > n_ctx_ - n_past_) {
    throw InputError(fmt::format("{} tokens do not fit in the context: {} of {} are used (raise -c)", tokens.size(),
                                 n_past_, n_ctx_));
  }
  for (const TokenId id : tokens) {
    if (id < 0 || static_cast<uint32_t>(id) >= vocab_size_) {
      throw InputError(fmt::format("token id {} is outside the vocabulary (0..{})", id, vocab_size_ - 1));
    }
  }
  fed_logits_.clear();
  // A fresh sequence starts from the longest cached prefix (whole blocks, never the last token's).
  n_reused_prompt_tokens_ = 0;
  if (n_past_ == 0 && !all_logits) {
    n_reused_prompt_tokens_ = cache_.reuse_cached_prefix(seq_, tokens);
    if (n_reused_prompt_tokens_ > 0) holds_sequence_ = true;
    n_past_ = n_reused_prompt_tokens_;
    tokens = tokens.subspan(n_reused_prompt_tokens_);
  }
  for (size_t begin = 0; begin < tokens.size();) {
    const size_t n = make_room(static_cast<uint32_t>(std::min<size_t>(prefill_chunk_, tokens.size() - begin)));
    const bool last_chunk = begin + n == tokens.size();
    // Only the final chunk's last row is needed unless all rows were asked for.
    const bool want_rows = all_logits || last_chunk;
    forward_chunk(tokens.subspan(begin, n), want_rows, all_logits, step_logits_);
    if (want_rows) fed_logits_.insert(fed_logits_.end(), step_logits_.begin(), step_logits_.end());
    begin += n;
  }
  last_logits_.assign(fed_logits_.end() - static_cast<std::ptrdiff_t>(vocab_size_), fed_logits_.end());
  return fed_logits_;
}

GenerationResult Generator::generate(Sampler& sampler, int32_t max_tokens, const TokenSink& sink) {
  if (last_logits_.empty()) throw std::logic_error("Generator::generate: nothing fed yet");
  GenerationResult result;
  std::unique_ptr<StreamDecoder> decoder;
  if (tokenizer_ != nullptr) decoder = std::make_unique<StreamDecoder>(*tokenizer_);

  for (;;) {
    if (max_tokens >= 0 && result.tokens.size() >= static_cast<size_t>(max_tokens)) {
      result.stop = StopReason::MaxTokens;
      break;
    }
    if (!eviction_ && n_past_ >= n_ctx_) {
      result.stop = StopReason::ContextFull;
      break;
    }
    const TokenId id = sampler.sample(last_logits_);
    if (tokenizer_ != nullptr && tokenizer_->vocab().is_end_of_generation(id)) {
      result.stop = StopReason::EndOfGeneration;
      break;
    }
    result.tokens.push_back(id);
    if (sink) sink(id, decoder ? decoder->push(id) : std::string());
    // Feed it back, so the cache holds everything emitted and the logits for
    // the next token are ready (a chat continues from here).
    make_room(1);
    forward_chunk(std::span<const TokenId>(&id, 1), true, false, step_logits_);
    last_logits_.assign(step_logits_.begin(), step_logits_.begin() + static_cast<std::ptrdiff_t>(vocab_size_));
  }
  if (decoder && sink) {
    const std::string tail = decoder->finish();
    if (!tail.empty()) sink(kNoToken, tail);
  }
  return result;
}

}  // namespace pocketllm
