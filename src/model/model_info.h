#pragma once
// The model part of `pocketllm info`: a ModelDesc and its ModelStats as JSON
// (for --json; counts and bytes are plain JSON integers) and as aligned
// human-readable text lines.
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "model/model_desc.h"
#include "model/model_stats.h"

namespace pocketllm {

// The description alone (architecture, sizes, RoPE, MoE, MLA, sliding layers).
nlohmann::json model_desc_to_json(const ModelDesc& desc);
// The description plus "parameters" and "kv_cache" objects. KV bytes are
// given per token (full-attention layers and sliding layers separately) and
// for whole contexts of 4096 tokens and of the model's context_length.
nlohmann::json model_info_to_json(const ModelDesc& desc, const ModelStats& stats);

// "label   value" lines, each ending in '\n'.
std::string format_model_info(const ModelDesc& desc, const ModelStats& stats);

// "1.23 GiB", "54144 B", "3.61 B" style helpers used by the text form.
std::string format_bytes(uint64_t bytes);
std::string format_count(uint64_t count);

}  // namespace pocketllm
