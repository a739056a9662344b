#include "engine/generator.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>
#include <string>

#include "tokenizer/stream_decoder.h"
#include "util/error.h"

namespace pocketllm {

KvDtype kv_dtype_from_name(std::string_view name) {
  if (name == "f16") return KvDtype::F16;
  if (name == "f32") return KvDtype::F32;
  throw InputError(fmt::format("--kv-cache-dtype: '{}' is not a KV cache type (f16, f32)", name));
}

std::unique_ptr<PagedKvCache> make_single_sequence_cache(const ModelDesc& desc, uint32_t n_ctx, KvDtype dtype) {
  KvCacheOptions options;
  options.k_dtype = dtype;
  options.v_dtype = dtype;
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
  if (holds_sequence_) cache_.free_sequence(seq_);
}

void Generator::set_prefill_chunk(uint32_t n_tokens) { prefill_chunk_ = std::max<uint32_t>(1, n_tokens); }

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
  n_past_ += static_cast<uint32_t>(tokens.size());
}

const std::vector<float>& Generator::feed(std::span<const TokenId> tokens, bool all_logits) {
  if (tokens.empty()) throw std::invalid_argument("Generator::feed: no tokens");
  if (tokens.size() > n_ctx_ - n_past_) {
    throw InputError(fmt::format("{} tokens do not fit in the context: {} of {} are used (raise -c)", tokens.size(),
                                 n_past_, n_ctx_));
  }
  for (const TokenId id : tokens) {
    if (id < 0 || static_cast<uint32_t>(id) >= vocab_size_) {
      throw InputError(fmt::format("token id {} is outside the vocabulary (0..{})", id, vocab_size_ - 1));
    }
  }
  fed_logits_.clear();
  for (size_t begin = 0; begin < tokens.size(); begin += prefill_chunk_) {
    const size_t n = std::min<size_t>(prefill_chunk_, tokens.size() - begin);
    const bool last_chunk = begin + n == tokens.size();
    // Only the final chunk's last row is needed unless all rows were asked for.
    const bool want_rows = all_logits || last_chunk;
    forward_chunk(tokens.subspan(begin, n), want_rows, all_logits, step_logits_);
    if (want_rows) fed_logits_.insert(fed_logits_.end(), step_logits_.begin(), step_logits_.end());
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
    if (n_past_ >= n_ctx_) {
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
