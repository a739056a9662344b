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
#include <cstdint>

namespace pocketllm {

struct CacheEvictionConfig {
  uint32_t start_size = 32;       // tokens kept at the start (attention sinks)
  uint32_t recent_size = 128;     // most recent tokens, never evicted
  uint32_t max_cache_size = 512;  // most tokens one sequence keeps
};

// InputError unless every size is a multiple of `block_tokens`, recent_size
// is at least one block and start_size + recent_size < max_cache_size (an
// evictable area of at least one block).
void validate_cache_eviction(const CacheEvictionConfig& config, uint32_t block_tokens);

// What to do before storing up to `n_new` tokens after `length` stored ones.
struct EvictionStep {
  uint32_t n_fit = 0;        // tokens (<= n_new, >= 1) that fit once the blocks below are dropped
  uint32_t first_block = 0;  // logical blocks [first_block, first_block + n_blocks) to drop
  uint32_t n_blocks = 0;
};
// For a validated config: as many of the n_new tokens as fit, dropping as
// few blocks as that takes.
EvictionStep plan_eviction(const CacheEvictionConfig& config, uint32_t block_tokens, uint32_t length, uint32_t n_new);

}  // namespace pocketllm
