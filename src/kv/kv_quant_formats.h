#pragma once
// Storage formats of the paged KV cache: how one KV head's rows of one block
// (a "slab" of block_tokens rows of head_dim values) are laid out in bytes,
// how a row is written (quantized on write) and how rows are read back as f32
// tiles for attention.
//
// The user picks a KvDtype per cache, separately for K and V (f32, f16, bf16,
// q8, q4); each maps to a KvLayout, which can differ between K and V:
//
//   F32, F16, BF16  [bt][dim] plain values (bf16: round to nearest even).
//   Q8Key, Q8Token  K resp. V at q8: one symmetric int8 row per token, its
//                   own scale: x = scale * q, q in [-127, 127],
//                   scale = max|x| / 127. Slab: [bt] f16 scales (padded to 4
//                   bytes), then the int8 values interleaved by fours so that
//                   integer dot products (VNNI) read 16 keys or 16 dims at a
//                   time:
//                     Q8Key:   value (j, c) at (c / 4) * 4bt + 4j + c % 4
//                              (channels padded to a multiple of 4),
//                     Q8Token: value (j, d) at (j / 4) * 4dim + 4d + j % 4
//                              (tokens padded to a multiple of 4).
//   Q4Channel       K at q4 (KIVI, Liu et al. 2024): 4 bits per value with a
//                   scale and zero point per CHANNEL over the block's tokens,
//                   because K's outliers sit in fixed channels (per-token
//                   4-bit K costs stories260K +38% perplexity; per channel
//                   over 16 tokens stays within 3%). Slab: [dim] f16 scales,
//                   [dim] f16 minimums, then the nibbles, channels padded to
//                   a multiple of 8: value (j, c) in byte
//                   (c / 8) * 4bt + 4j + c % 4, low half when c % 8 < 4;
//                   x = min_c + scale_c * q, q in [0, 15],
//                   scale_c = (max_c - min_c) / 15. The scales need the whole
//                   block, so the cache stages a filling block in f16 and
//                   quantizes it when its last row arrives (paged_kv_cache.h).
//   Q4Token         V at q4: each token's row is first rotated by a
//                   normalized Walsh-Hadamard transform (kv_hadamard: spreads
//                   outlier channels over the row), then quantized with a
//                   scale and zero point per token. Slab: [bt] f16 scales,
//                   [bt] f16 minimums, then the nibbles, tokens padded to a
//                   multiple of 4 and dims to a multiple of 16: value (j, d)
//                   in byte (j / 4) * 2dim16 + (d / 16) * 32 + 4 (d % 8) +
//                   j % 4, low half when d % 16 < 8.
//                   Attention sums the rotated rows and rotates the output
//                   back once (the transform is orthonormal and its own
//                   inverse: H (sum_j p_j H v_j) = sum_j p_j v_j).
//
// Slabs are padded to a multiple of 4 bytes so that every slab of a 64-byte
// aligned block starts 4-byte aligned (the f16 scales are read in place).
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace pocketllm {

enum class KvDtype { F32, F16, BF16, Q8, Q4 };

enum class KvLayout { F32, F16, BF16, Q8Key, Q8Token, Q4Channel, Q4Token };

// "f32", "f16", "bf16", "q8", "q4".
std::string_view kv_dtype_name(KvDtype dtype);
// The user's spelling of a KV dtype: f32, f16, bf16, q8, q4, also llama.cpp's
// q8_0 / q4_0 and vLLM's "auto" (= f16), any letter case. InputError naming
// `flag` and the accepted values otherwise.
KvDtype kv_dtype_from_name(std::string_view name, std::string_view flag = "--kv-cache-dtype");

// A cache's K and V dtypes (one dtype converts to both).
struct KvCacheTypes {
  KvCacheTypes() = default;
  KvCacheTypes(KvDtype both) : k(both), v(both) {}  // NOLINT(google-explicit-constructor): one dtype means both
  KvCacheTypes(KvDtype k_dtype, KvDtype v_dtype) : k(k_dtype), v(v_dtype) {}
  KvDtype k = KvDtype::F16;
  KvDtype v = KvDtype::F16;
};
// The CLI's flags: --kv-cache-dtype `both` sets K and V; --cache-type-k /
// -ctk `k` and --cache-type-v / -ctv `v`, when not empty, override one.
KvCacheTypes kv_cache_types_from_flags(std::string_view both, std::string_view k, std::string_view v);
// "q8" when K and V agree, else "K q8, V q4" (for log lines).
std::string kv_cache_types_name(const KvCacheTypes& types);

// The layout K (is_key) or V takes for `dtype`.
KvLayout kv_layout(KvDtype dtype, bool is_key);
// Bytes of one slab: block_tokens rows of dim values.
size_t kv_slab_bytes(KvLayout layout, uint32_t block_tokens, uint32_t dim);
// Where the quantized values of a Q8Key / Q8Token / Q4Token slab start
// (after the per-token scales and minimums).
size_t kv_slab_values_offset(KvLayout layout, uint32_t block_tokens);
inline constexpr size_t kv_round_up(size_t x, size_t multiple) { return (x + multiple - 1) / multiple * multiple; }
// Rows of a plain layout (F32/F16/BF16) are read in place; the others need
// kv_dequantize_rows into a tile.
bool kv_layout_is_plain(KvLayout layout);
// The layout stores rows Hadamard-rotated (attention rotates its output back).
bool kv_layout_is_rotated(KvLayout layout);

// Writes row `slot` of a slab of a per-token layout (everything but
// Q4Channel) from f32 `x` [dim]; `scratch` holds at least dim floats.
void kv_write_row(KvLayout layout, const float* x, std::byte* slab, uint32_t block_tokens, uint32_t dim,
                  uint32_t slot, std::span<float> scratch);

// Fills a Q4Channel slab from the block's block_tokens f16 rows ([bt][dim]).
void kv_quantize_channel_slab(const uint16_t* f16_rows, std::byte* slab, uint32_t block_tokens, uint32_t dim);

// Rows j0 .. j0 + n - 1 of a slab as f32 into out [n][dim].
void kv_dequantize_rows(KvLayout layout, const std::byte* slab, uint32_t block_tokens, uint32_t dim, uint32_t j0,
                        size_t n, float* out);

// x <- H x in place, H the normalized Walsh-Hadamard matrix applied to each
// run of P values, P the largest power of two dividing dim (P = 1: identity).
// Orthonormal and symmetric, so applying it twice gives x back.
void kv_hadamard(float* x, uint32_t dim);

}  // namespace pocketllm
