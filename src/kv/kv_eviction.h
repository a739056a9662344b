#pragma once
// KV cache eviction for sequences longer than the cache budget: StreamingLLM
// (Xiao et al. 2023) as OpenVINO GenAI's CacheEvictionConfig names it.
//
//   [ start_size sink tokens | evictable area ... | recent_size tokens ]
//   <----------------------- max_cache_size ----------------------------->
//
// When storing more tokens would take a sequence past max_cache_size, whole
// blocks are dropped from the front of the evictable area (the oldest tokens
// after the sinks), as few as make room. The sinks (the first tokens, which
// soak up attention) and the recent window are never dropped. Later tokens
// then move down to close the gap: their K is re-rotated by the position
// delta with the model's own RoPE (Model::shift_key_positions, as llama.cpp's
// context shift does), so positions stay below max_cache_size, inside the
// trained context. Sizes are whole blocks.
//
// Which evictable blocks go is the policy's choice: StreamingLLM drops the
// oldest; the importance policy (H2O, Zhang et al. 2023) drops those whose
// tokens received the least attention so far (kv/kv_importance.h). Measured
// on stories260K (tests/unit/test_kv_eviction.cpp): see EvictionPolicy.
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace pocketllm {

// Measured on stories260K (test_kv_eviction.cpp): the perplexity of a
// held-out text read token by token through a 128-token cache (16 sinks, 16
// recent, 6 evictable blocks), 7 windows of 512 tokens: without eviction
// 4.365, streaming 4.422, h2o 4.423; 1,000 generated tokens in 256 (12
// prompts x seeds), tokens 500..999: perplexity 2.57 vs 2.52, distinct
// 4-grams 0.921 vs 0.915. On this model attention falls off with distance,
// so h2o mostly drops the oldest block too: no better at equal budget, so
// streaming stays the default.
enum class EvictionPolicy {
  Streaming,  // the oldest evictable blocks (default)
  H2O,        // the evictable blocks with the lowest mean attention per query
};
// "streaming" / "h2o".
std::string_view eviction_policy_name(EvictionPolicy policy);
// The user's spelling (any letter case); InputError naming `flag` otherwise.
EvictionPolicy eviction_policy_from_name(std::string_view name, std::string_view flag = "--cache-eviction-policy");

struct CacheEvictionConfig {
  uint32_t start_size = 32;       // tokens kept at the start (attention sinks)
  uint32_t recent_size = 128;     // most recent tokens, never evicted
  uint32_t max_cache_size = 512;  // most tokens one sequence keeps
  EvictionPolicy policy = EvictionPolicy::Streaming;
};

// InputError unless every size is a multiple of `block_tokens`, recent_size
// is at least one block and start_size + recent_size < max_cache_size (an
// evictable area of at least one block).
void validate_cache_eviction(const CacheEvictionConfig& config, uint32_t block_tokens);

// What to do before storing up to `n_new` tokens after `length` stored ones.
struct EvictionStep {
  uint32_t n_fit = 0;        // tokens (<= n_new, >= 1) that fit once the blocks below are dropped
  uint32_t first_block = 0;  // StreamingLLM: logical blocks [first_block, first_block + n_blocks) to drop
  uint32_t n_blocks = 0;
  uint32_t droppable_end = 0;  // the evictable blocks are [first_block, droppable_end)
};
// For a validated config: as many of the n_new tokens as fit, dropping as
// few blocks as that takes.
EvictionStep plan_eviction(const CacheEvictionConfig& config, uint32_t block_tokens, uint32_t length, uint32_t n_new);

// The importance policy's pick for `step`: the step.n_blocks evictable
// blocks with the lowest `block_scores` (indexed by logical block; ties go to
// the older block, so equal scores give StreamingLLM's choice), ascending.
std::vector<uint32_t> lowest_score_blocks(const EvictionStep& step, std::span<const double> block_scores);

}  // namespace pocketllm
