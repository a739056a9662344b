#pragma once
// Generation for one sequence on a Model and a PagedKvCache (what `pocketllm
// run`, `logits --greedy` and the interactive chat drive): prompt tokens are
// fed in chunks (chunked prefill, bounded activation memory), then tokens are
// decoded one at a time through the same forward pass. Everything fed stays in
// the cache, so a chat continues a conversation by feeding the next turn.
//
// Invariant: every token fed or generated is in the cache, and last_logits()
// holds the logits that predict the token after them.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "engine/forward_batch.h"
#include "engine/sampler.h"
#include "kv/kv_eviction.h"
#include "kv/kv_importance.h"
#include "kv/paged_kv_cache.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace pocketllm {

// kv_dtype_from_name (the --kv-cache-dtype values) is in kv/kv_quant_formats.h.

// A cache for one sequence of up to `n_ctx` tokens.
std::unique_ptr<PagedKvCache> make_single_sequence_cache(const ModelDesc& desc, uint32_t n_ctx, KvCacheTypes types,
                                                         bool enable_prefix_caching = true);

enum class StopReason {
  EndOfGeneration,  // the model produced an end-of-generation token (not emitted, not fed)
  MaxTokens,        // the requested number of tokens was generated
  ContextFull,      // no room for another token in n_ctx
};

struct GenerationResult {
  std::vector<TokenId> tokens;  // generated tokens, end-of-generation token excluded
  StopReason stop = StopReason::MaxTokens;
};

// Receives each generated token with the text that became certain with it
// (StreamDecoder: whole UTF-8 characters; may be empty). After the last
// token, any held-back text comes once more with id kNoToken.
using TokenSink = std::function<void(TokenId id, std::string_view text)>;

class Generator {
 public:
  // `tokenizer` (may be null): when given, generation stops at its
  // end-of-generation tokens and text is streamed; when null, exactly the
  // requested number of tokens is generated and the text is empty.
  Generator(Model& model, PagedKvCache& cache, uint32_t n_ctx, const Tokenizer* tokenizer, SeqId seq = 0);
  ~Generator();
  Generator(const Generator&) = delete;
  Generator& operator=(const Generator&) = delete;

  uint32_t n_past() const { return n_past_; }
  uint32_t n_ctx() const { return n_ctx_; }
  uint32_t vocab_size() const { return vocab_size_; }
  // Tokens per forward call while feeding (default 512).
  void set_prefill_chunk(uint32_t n_tokens);

  // Cache eviction (kv/kv_eviction.h), off by default: the sequence keeps at
  // most config.max_cache_size tokens, dropping old blocks between the sinks
  // and the recent window, so feed/generate run past n_ctx. Needs a cache
  // without prefix caching (std::invalid_argument); InputError for a config
  // that cannot work. Stored K of any dtype is re-rotated (quantized K is
  // dequantized, rotated and quantized again). The h2o policy registers a
  // query observer on the model (removed on destruction) to score tokens.
  void set_cache_eviction(const CacheEvictionConfig& config);

  // Prompt tokens of the last feed() that came from the prefix cache (not
  // computed): a multiple of the block size. Only a feed into an empty
  // sequence that does not ask for all logits looks the cache up.
  uint32_t n_reused_prompt_tokens() const { return n_reused_prompt_tokens_; }
  // Token rows run through the model so far (prefill and decode).
  uint64_t n_forward_tokens() const { return n_forward_tokens_; }
  // Tokens dropped by cache eviction so far.
  uint64_t n_evicted_tokens() const { return n_evicted_tokens_; }

  // Appends `tokens` to the sequence. Returns the logits of every fed token as
  // [tokens.size() x vocab_size] when `all_logits`, else of the last one
  // [vocab_size]. Throws InputError when they do not fit in n_ctx or a token
  // id is outside the vocabulary.
  const std::vector<float>& feed(std::span<const TokenId> tokens, bool all_logits = false);

  // The logits after the last token fed (empty before the first feed).
  std::span<const float> last_logits() const { return last_logits_; }

  // Samples up to `max_tokens` tokens (< 0: until end of generation or a full
  // context) continuing the sequence, feeding each back. Needs a prior feed.
  GenerationResult generate(Sampler& sampler, int32_t max_tokens, const TokenSink& sink = {});

 private:
  // One forward call; logits of the last row (`last_logits`) or of all rows.
  void forward_chunk(std::span<const TokenId> tokens, bool last_logits, bool all_logits, std::vector<float>& out);
  // With eviction on: drops old blocks so that up to `n_new` more tokens fit;
  // returns how many do (>= 1). Without eviction: n_new.
  uint32_t make_room(uint32_t n_new);
  // Drops logical blocks `blocks` (ascending, all before the last block):
  // each run of kept blocks after them is re-rotated once by its total shift.
  void evict_blocks(const std::vector<uint32_t>& blocks);

  Model& model_;
  PagedKvCache& cache_;
  const Tokenizer* tokenizer_;
  SeqId seq_;
  uint32_t n_ctx_;
  uint32_t vocab_size_;
  uint32_t n_past_ = 0;
  bool holds_sequence_ = false;  // reserved in the cache: freed on destruction
  uint32_t prefill_chunk_ = 512;
  std::optional<CacheEvictionConfig> eviction_;
  std::unique_ptr<KvImportance> importance_;  // h2o policy only
  uint32_t n_reused_prompt_tokens_ = 0;
  uint64_t n_forward_tokens_ = 0;
  uint64_t n_evicted_tokens_ = 0;
  ForwardBatch batch_;             // reused for every call
  std::vector<float> step_logits_; // [rows x vocab] of one forward call
  std::vector<float> fed_logits_;  // what feed() returns
  std::vector<float> last_logits_; // [vocab]
};

}  // namespace pocketllm
