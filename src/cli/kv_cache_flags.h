#pragma once
// The KV cache type flags of run, logits and perplexity: --kv-cache-dtype
// sets K and V; --cache-type-k / --cache-type-v (llama.cpp's -ctk / -ctv,
// which main.cpp rewrites to --ctk / --ctv) override one of them.
#include <string>

#include <CLI/CLI.hpp>

#include "kv/kv_quant_formats.h"

namespace pocketllm::cli {

struct KvCacheFlags {
  std::string both = "f16";
  std::string k;  // empty: as --kv-cache-dtype
  std::string v;
};

// Adds the three options to `command`, bound to `flags` (which must outlive
// the parse).
void add_kv_cache_flags(CLI::App& command, KvCacheFlags& flags);

// The types the flags name; InputError naming the flag for an unknown type.
KvCacheTypes kv_cache_types_from_flags(const KvCacheFlags& flags);

}  // namespace pocketllm::cli
