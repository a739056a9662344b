#include "cli/kv_cache_flags.h"

namespace pocketllm::cli {

void add_kv_cache_flags(CLI::App& command, KvCacheFlags& flags) {
  command.add_option("--kv-cache-dtype", flags.both,
                     "KV cache type of K and V: f16 (default), bf16, q8, q4, f32 (also q8_0, q4_0, auto)");
  command.add_option("--ctk,--cache-type-k", flags.k, "KV cache type of K (default: --kv-cache-dtype)");
  command.add_option("--ctv,--cache-type-v", flags.v, "KV cache type of V (default: --kv-cache-dtype)");
}

KvCacheTypes kv_cache_types_from_flags(const KvCacheFlags& flags) {
  return pocketllm::kv_cache_types_from_flags(flags.both, flags.k, flags.v);
}

}  // namespace pocketllm::cli
