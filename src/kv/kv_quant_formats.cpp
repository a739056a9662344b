#include "kv/kv_quant_formats.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

#include "backends/cpu/attention/fp16_convert.h"
#include "backends/cpu/quant/scalar_types.h"
#include "util/error.h"

namespace pocketllm {
namespace {

constexpr float kF16Max = 65504.0f;

size_t pad4(size_t bytes) { return kv_round_up(bytes, 4); }

// Byte offsets of value (j, c) among a slab's quantized values (the layout
// table in kv_quant_formats.h); a Nibble also says which half of the byte.
size_t q8_key_at(uint32_t bt, uint32_t j, uint32_t c) { return size_t{c / 4} * 4 * bt + 4 * size_t{j} + c % 4; }
size_t q8_token_at(uint32_t dim, uint32_t j, uint32_t d) { return size_t{j / 4} * 4 * dim + 4 * size_t{d} + j % 4; }
struct Nibble {
  size_t byte;
  bool high;
};
Nibble q4_channel_at(uint32_t bt, uint32_t j, uint32_t c) {
  return {size_t{c / 8} * 4 * bt + 4 * size_t{j} + c % 4, c % 8 >= 4};
}
Nibble q4_token_at(uint32_t dim, uint32_t j, uint32_t d) {
  return {size_t{j / 4} * 2 * kv_round_up(dim, 16) + size_t{d / 16} * 32 + 4 * size_t{d % 8} + j % 4, d % 16 >= 8};
}

// A value stored as f16 and what it reads back as: quantizers divide by the
// scale the reader will multiply with.
struct F16Value {
  uint16_t bits;
  float value;
};
F16Value to_f16(float x) {
  const uint16_t bits = f32_to_fp16(std::clamp(x, -kF16Max, kF16Max));
  return {bits, fp16_to_f32(bits)};
}

uint16_t* f16_at(std::byte* p) { return reinterpret_cast<uint16_t*>(p); }
const uint16_t* f16_at(const std::byte* p) { return reinterpret_cast<const uint16_t*>(p); }

void put_nibble(std::byte* values, Nibble at, uint32_t q) {
  auto& b = reinterpret_cast<uint8_t&>(values[at.byte]);
  b = at.high ? static_cast<uint8_t>((b & 0x0Fu) | (q << 4)) : static_cast<uint8_t>((b & 0xF0u) | q);
}
float get_nibble(const std::byte* values, Nibble at) {
  const auto b = static_cast<uint8_t>(values[at.byte]);
  return static_cast<float>(at.high ? b >> 4 : b & 0x0Fu);
}

uint32_t quantize4(float x, float min, float inverse_scale) {
  const float q = std::nearbyint((x - min) * inverse_scale);
  return static_cast<uint32_t>(std::clamp(q, 0.0f, 15.0f));
}

void write_q8_row(KvLayout layout, const float* x, std::byte* slab, uint32_t bt, uint32_t dim, uint32_t slot) {
  float amax = 0.0f;
  for (uint32_t i = 0; i < dim; ++i) amax = std::max(amax, std::fabs(x[i]));
  const F16Value scale = to_f16(amax / 127.0f);
  f16_at(slab)[slot] = scale.bits;
  auto* q = reinterpret_cast<int8_t*>(slab + kv_slab_values_offset(layout, bt));
  const float inverse = scale.value > 0.0f ? 1.0f / scale.value : 0.0f;
  const bool key = layout == KvLayout::Q8Key;
  // Key rows zero their padding channels: integer dot products read them.
  const uint32_t stored = key ? static_cast<uint32_t>(kv_round_up(dim, 4)) : dim;
  for (uint32_t i = 0; i < stored; ++i) {
    const float v = i < dim ? std::clamp(std::nearbyint(x[i] * inverse), -127.0f, 127.0f) : 0.0f;
    q[key ? q8_key_at(bt, slot, i) : q8_token_at(dim, slot, i)] = static_cast<int8_t>(v);
  }
}

// Scale and minimum of a 4-bit range over [lo, hi], as stored.
struct Range4 {
  F16Value scale;
  F16Value min;
  float inverse_scale;
};
Range4 range4(float lo, float hi) {
  Range4 r{to_f16((hi - lo) / 15.0f), to_f16(lo), 0.0f};
  r.inverse_scale = r.scale.value > 0.0f ? 1.0f / r.scale.value : 0.0f;
  return r;
}

void write_q4_token_row(const float* x, std::byte* slab, uint32_t bt, uint32_t dim, uint32_t slot,
                        std::span<float> scratch) {
  if (scratch.size() < dim) throw std::invalid_argument("kv_write_row: scratch smaller than a row");
  float* r = scratch.data();
  std::copy(x, x + dim, r);
  kv_hadamard(r, dim);
  float lo = r[0];
  float hi = r[0];
  for (uint32_t i = 1; i < dim; ++i) {
    lo = std::min(lo, r[i]);
    hi = std::max(hi, r[i]);
  }
  const Range4 range = range4(lo, hi);
  f16_at(slab)[slot] = range.scale.bits;
  f16_at(slab + 2 * size_t{bt})[slot] = range.min.bits;
  std::byte* values = slab + kv_slab_values_offset(KvLayout::Q4Token, bt);
  for (uint32_t i = 0; i < kv_round_up(dim, 16); ++i) {
    put_nibble(values, q4_token_at(dim, slot, i), i < dim ? quantize4(r[i], range.min.value, range.inverse_scale) : 0);
  }
}

void dequantize_q8(KvLayout layout, const std::byte* slab, uint32_t bt, uint32_t dim, uint32_t j0, size_t n,
                   float* out) {
  const uint16_t* scales = f16_at(slab);
  const auto* q = reinterpret_cast<const int8_t*>(slab + kv_slab_values_offset(layout, bt));
  const bool key = layout == KvLayout::Q8Key;
  for (uint32_t j = j0; j < j0 + n; ++j) {
    const float s = fp16_to_f32(scales[j]);
    float* o = out + (j - j0) * dim;
    for (uint32_t i = 0; i < dim; ++i) o[i] = s * static_cast<float>(q[key ? q8_key_at(bt, j, i) : q8_token_at(dim, j, i)]);
  }
}

void dequantize_q4_channel(const std::byte* slab, uint32_t bt, uint32_t dim, uint32_t j0, size_t n, float* out) {
  const uint16_t* scales = f16_at(slab);
  const uint16_t* mins = f16_at(slab + 2 * size_t{dim});
  const std::byte* values = slab + 4 * size_t{dim};
  for (uint32_t c = 0; c < dim; ++c) {
    const float s = fp16_to_f32(scales[c]);
    const float m = fp16_to_f32(mins[c]);
    for (uint32_t j = j0; j < j0 + n; ++j) out[(j - j0) * dim + c] = m + s * get_nibble(values, q4_channel_at(bt, j, c));
  }
}

void dequantize_q4_token(const std::byte* slab, uint32_t bt, uint32_t dim, uint32_t j0, size_t n, float* out) {
  const uint16_t* scales = f16_at(slab);
  const uint16_t* mins = f16_at(slab + 2 * size_t{bt});
  const std::byte* values = slab + kv_slab_values_offset(KvLayout::Q4Token, bt);
  for (uint32_t j = j0; j < j0 + n; ++j) {
    const float s = fp16_to_f32(scales[j]);
    const float m = fp16_to_f32(mins[j]);
    float* o = out + (j - j0) * dim;
    for (uint32_t i = 0; i < dim; ++i) o[i] = m + s * get_nibble(values, q4_token_at(dim, j, i));
  }
}

}  // namespace

std::string_view kv_dtype_name(KvDtype dtype) {
  switch (dtype) {
    case KvDtype::F32: return "f32";
    case KvDtype::F16: return "f16";
    case KvDtype::BF16: return "bf16";
    case KvDtype::Q8: return "q8";
    case KvDtype::Q4: return "q4";
  }
  return "?";
}

KvDtype kv_dtype_from_name(std::string_view name, std::string_view flag) {
  std::string lower(name);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "f32" || lower == "float32") return KvDtype::F32;
  if (lower == "f16" || lower == "float16" || lower == "auto") return KvDtype::F16;
  if (lower == "bf16" || lower == "bfloat16") return KvDtype::BF16;
  if (lower == "q8" || lower == "q8_0") return KvDtype::Q8;
  if (lower == "q4" || lower == "q4_0") return KvDtype::Q4;
  throw InputError(fmt::format("{}: '{}' is not a KV cache type (f32, f16, bf16, q8, q4; also q8_0, q4_0, auto)",
                               flag, name));
}

KvCacheTypes kv_cache_types_from_flags(std::string_view both, std::string_view k, std::string_view v) {
  KvCacheTypes types(kv_dtype_from_name(both, "--kv-cache-dtype"));
  if (!k.empty()) types.k = kv_dtype_from_name(k, "--cache-type-k");
  if (!v.empty()) types.v = kv_dtype_from_name(v, "--cache-type-v");
  return types;
}

std::string kv_cache_types_name(const KvCacheTypes& types) {
  if (types.k == types.v) return std::string(kv_dtype_name(types.k));
  return fmt::format("K {}, V {}", kv_dtype_name(types.k), kv_dtype_name(types.v));
}

KvLayout kv_layout(KvDtype dtype, bool is_key) {
  switch (dtype) {
    case KvDtype::F32: return KvLayout::F32;
    case KvDtype::F16: return KvLayout::F16;
    case KvDtype::BF16: return KvLayout::BF16;
    case KvDtype::Q8: return is_key ? KvLayout::Q8Key : KvLayout::Q8Token;
    case KvDtype::Q4: return is_key ? KvLayout::Q4Channel : KvLayout::Q4Token;
  }
  throw std::invalid_argument("kv_layout: unknown dtype");
}

size_t kv_slab_bytes(KvLayout layout, uint32_t block_tokens, uint32_t dim) {
  const size_t bt = block_tokens;
  switch (layout) {
    case KvLayout::F32: return bt * dim * 4;
    case KvLayout::F16:
    case KvLayout::BF16: return pad4(bt * dim * 2);
    case KvLayout::Q8Key: return pad4(pad4(2 * bt) + bt * kv_round_up(dim, 4));
    case KvLayout::Q8Token: return pad4(pad4(2 * bt) + kv_round_up(bt, 4) * dim);
    case KvLayout::Q4Channel: return pad4(4 * size_t{dim} + bt * kv_round_up(dim, 8) / 2);
    case KvLayout::Q4Token: return pad4(4 * bt + kv_round_up(bt, 4) * kv_round_up(dim, 16) / 2);
  }
  throw std::invalid_argument("kv_slab_bytes: unknown layout");
}

size_t kv_slab_values_offset(KvLayout layout, uint32_t block_tokens) {
  switch (layout) {
    case KvLayout::Q8Key:
    case KvLayout::Q8Token: return pad4(2 * size_t{block_tokens});
    case KvLayout::Q4Token: return 4 * size_t{block_tokens};
    default: break;
  }
  throw std::invalid_argument("kv_slab_values_offset: not a per-token quantized layout");
}

bool kv_layout_is_plain(KvLayout layout) {
  return layout == KvLayout::F32 || layout == KvLayout::F16 || layout == KvLayout::BF16;
}

bool kv_layout_is_rotated(KvLayout layout) { return layout == KvLayout::Q4Token; }

void kv_write_row(KvLayout layout, const float* x, std::byte* slab, uint32_t block_tokens, uint32_t dim,
                  uint32_t slot, std::span<float> scratch) {
  const size_t offset = size_t{slot} * dim;
  switch (layout) {
    case KvLayout::F32: std::memcpy(slab + offset * 4, x, size_t{dim} * 4); return;
    case KvLayout::F16: f32_to_f16_row(x, f16_at(slab + offset * 2), dim); return;
    case KvLayout::BF16: {
      uint16_t* out = f16_at(slab + offset * 2);
      for (uint32_t i = 0; i < dim; ++i) out[i] = f32_to_bf16(x[i]);
      return;
    }
    case KvLayout::Q8Key:
    case KvLayout::Q8Token: write_q8_row(layout, x, slab, block_tokens, dim, slot); return;
    case KvLayout::Q4Token: write_q4_token_row(x, slab, block_tokens, dim, slot, scratch); return;
    case KvLayout::Q4Channel: break;
  }
  throw std::invalid_argument("kv_write_row: Q4Channel slabs are written a block at a time");
}

void kv_quantize_channel_slab(const uint16_t* f16_rows, std::byte* slab, uint32_t block_tokens, uint32_t dim) {
  uint16_t* scales = f16_at(slab);
  uint16_t* mins = f16_at(slab + 2 * size_t{dim});
  std::byte* values = slab + 4 * size_t{dim};
  // Padding channels hold zeros: integer dot products read them.
  for (uint32_t c = dim; c < kv_round_up(dim, 8); ++c) {
    for (uint32_t j = 0; j < block_tokens; ++j) put_nibble(values, q4_channel_at(block_tokens, j, c), 0);
  }
  for (uint32_t c = 0; c < dim; ++c) {
    float lo = fp16_to_f32(f16_rows[c]);
    float hi = lo;
    for (uint32_t j = 1; j < block_tokens; ++j) {
      const float x = fp16_to_f32(f16_rows[size_t{j} * dim + c]);
      lo = std::min(lo, x);
      hi = std::max(hi, x);
    }
    const Range4 range = range4(lo, hi);
    scales[c] = range.scale.bits;
    mins[c] = range.min.bits;
    for (uint32_t j = 0; j < block_tokens; ++j) {
      const float x = fp16_to_f32(f16_rows[size_t{j} * dim + c]);
      put_nibble(values, q4_channel_at(block_tokens, j, c), quantize4(x, range.min.value, range.inverse_scale));
    }
  }
}

void kv_dequantize_rows(KvLayout layout, const std::byte* slab, uint32_t block_tokens, uint32_t dim, uint32_t j0,
                        size_t n, float* out) {
  const size_t offset = size_t{j0} * dim;
  switch (layout) {
    case KvLayout::F32: std::memcpy(out, slab + offset * 4, n * dim * 4); return;
    case KvLayout::F16: f16_to_f32_row(f16_at(slab + offset * 2), out, n * dim); return;
    case KvLayout::BF16: {
      const uint16_t* in = f16_at(slab + offset * 2);
      for (size_t i = 0; i < n * dim; ++i) out[i] = bf16_to_f32(in[i]);
      return;
    }
    case KvLayout::Q8Key:
    case KvLayout::Q8Token: dequantize_q8(layout, slab, block_tokens, dim, j0, n, out); return;
    case KvLayout::Q4Channel: dequantize_q4_channel(slab, block_tokens, dim, j0, n, out); return;
    case KvLayout::Q4Token: dequantize_q4_token(slab, block_tokens, dim, j0, n, out); return;
  }
}

void kv_hadamard(float* x, uint32_t dim) {
  if (dim == 0) return;
  const uint32_t p = dim & (~dim + 1);  // largest power of two dividing dim
  if (p < 2) return;
  const float norm = 1.0f / std::sqrt(static_cast<float>(p));
  for (uint32_t base = 0; base < dim; base += p) {
    float* v = x + base;
    for (uint32_t h = 1; h < p; h *= 2) {
      for (uint32_t i = 0; i < p; i += 2 * h) {
        for (uint32_t j = i; j < i + h; ++j) {
          const float a = v[j];
          const float b = v[j + h];
          v[j] = a + b;
          v[j + h] = a - b;
        }
      }
    }
    for (uint32_t i = 0; i < p; ++i) v[i] *= norm;
  }
}

}  // namespace pocketllm
