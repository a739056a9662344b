#include "kv/kv_eviction.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>
#include <string>

#include "util/error.h"

namespace pocketllm {

std::string_view eviction_policy_name(EvictionPolicy policy) {
  return policy == EvictionPolicy::H2O ? "h2o" : "streaming";
}

EvictionPolicy eviction_policy_from_name(std::string_view name, std::string_view flag) {
  std::string lower(name);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "streaming") return EvictionPolicy::Streaming;
  if (lower == "h2o") return EvictionPolicy::H2O;
  throw InputError(fmt::format("{} {}: use streaming or h2o", flag, name));
}

void validate_cache_eviction(const CacheEvictionConfig& c, uint32_t block_tokens) {
  const auto check_blocks = [&](const char* flag, uint32_t tokens) {
    if (block_tokens == 0 || tokens % block_tokens != 0) {
      throw InputError(fmt::format("{} {}: cache eviction works in whole KV blocks; use a multiple of {}", flag, tokens,
                                   block_tokens));
    }
  };
  check_blocks("--start-size", c.start_size);
  check_blocks("--recent-size", c.recent_size);
  check_blocks("--max-cache-size", c.max_cache_size);
  if (c.recent_size == 0) throw InputError(fmt::format("--recent-size must be at least one block ({} tokens)", block_tokens));
  if (static_cast<uint64_t>(c.start_size) + c.recent_size >= c.max_cache_size) {
    throw InputError(fmt::format("--max-cache-size {} leaves no evictable area after --start-size {} and --recent-size {}",
                                 c.max_cache_size, c.start_size, c.recent_size));
  }
}

EvictionStep plan_eviction(const CacheEvictionConfig& c, uint32_t bt, uint32_t length, uint32_t n_new) {
  if (n_new == 0) throw std::invalid_argument("plan_eviction: no tokens to store");
  // Droppable: whole blocks after the sinks that end before the recent window.
  const uint64_t sink_blocks = c.start_size / bt;
  const uint64_t end_block = length > c.recent_size ? (length - c.recent_size) / bt : 0;
  const uint64_t droppable = end_block > sink_blocks ? end_block - sink_blocks : 0;
  // After dropping all of them fewer than start + recent + bt tokens remain,
  // so a validated config always leaves room for at least one token.
  const int64_t room = static_cast<int64_t>(c.max_cache_size) - length + static_cast<int64_t>(droppable * bt);
  if (room <= 0) throw std::logic_error("plan_eviction: no room even after eviction (config not validated?)");
  EvictionStep step;
  step.first_block = static_cast<uint32_t>(sink_blocks);
  step.droppable_end = static_cast<uint32_t>(sink_blocks + droppable);
  step.n_fit = static_cast<uint32_t>(std::min<int64_t>(n_new, room));
  const uint64_t new_length = static_cast<uint64_t>(length) + step.n_fit;
  if (new_length > c.max_cache_size) {
    step.n_blocks = static_cast<uint32_t>((new_length - c.max_cache_size + bt - 1) / bt);
  }
  return step;
}

std::vector<uint32_t> lowest_score_blocks(const EvictionStep& step, std::span<const double> block_scores) {
  if (step.droppable_end > block_scores.size() || step.droppable_end - step.first_block < step.n_blocks) {
    throw std::invalid_argument("lowest_score_blocks: a score per evictable block is needed");
  }
  std::vector<uint32_t> blocks(step.droppable_end - step.first_block);
  for (uint32_t i = 0; i < blocks.size(); ++i) blocks[i] = step.first_block + i;
  // Stable: among equal scores the older block comes first.
  std::stable_sort(blocks.begin(), blocks.end(),
                   [&](uint32_t a, uint32_t b) { return block_scores[a] < block_scores[b]; });
  blocks.resize(step.n_blocks);
  std::sort(blocks.begin(), blocks.end());
  return blocks;
}

}  // namespace pocketllm
