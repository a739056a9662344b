#include "tools/weight_quantizer.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <string>

#include "backends/cpu/quant/block_formats.h"
#include "backends/cpu/quant/scalar_types.h"
#include "tools/k_quantizer.h"
#include "util/error.h"

namespace pocketllm {
namespace {

template <typename Block>
void store_block(void* out, int64_t index, const Block& b) {
  std::memcpy(static_cast<std::byte*>(out) + index * static_cast<int64_t>(sizeof(Block)), &b, sizeof(Block));
}

void store_u16(void* out, int64_t index, uint16_t v) {
  std::memcpy(static_cast<std::byte*>(out) + 2 * index, &v, 2);
}

// ggml truncates toward zero through int8_t; values here are within [0, 33).
uint8_t trunc_to_u8(float v) { return static_cast<uint8_t>(static_cast<int8_t>(v)); }

// The element of largest magnitude, with its sign (ggml's "max" for _0 types).
float signed_absmax(const float* x) {
  float amax = 0.0f;
  float max = 0.0f;
  for (int j = 0; j < kQK32; ++j) {
    if (amax < std::fabs(x[j])) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  return max;
}

void min_max(const float* x, float& min, float& max) {
  min = FLT_MAX;
  max = -FLT_MAX;
  for (int j = 0; j < kQK32; ++j) {
    min = std::min(min, x[j]);
    max = std::max(max, x[j]);
  }
}

void quant_q4_0(const float* x, void* out, int64_t n) {
  for (int64_t i = 0; i < n / kQK32; ++i, x += kQK32) {
    const float d = signed_absmax(x) / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    BlockQ4_0 b{};
    b.d = f32_to_fp16(d);
    for (int j = 0; j < 16; ++j) {
      const uint8_t q0 = std::min<uint8_t>(15, trunc_to_u8(x[j] * id + 8.5f));
      const uint8_t q1 = std::min<uint8_t>(15, trunc_to_u8(x[j + 16] * id + 8.5f));
      b.qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
    }
    store_block(out, i, b);
  }
}

void quant_q4_1(const float* x, void* out, int64_t n) {
  for (int64_t i = 0; i < n / kQK32; ++i, x += kQK32) {
    float min = 0.0f;
    float max = 0.0f;
    min_max(x, min, max);
    const float d = (max - min) / 15.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    BlockQ4_1 b{};
    b.d = f32_to_fp16(d);
    b.m = f32_to_fp16(min);
    for (int j = 0; j < 16; ++j) {
      const uint8_t q0 = std::min<uint8_t>(15, trunc_to_u8((x[j] - min) * id + 0.5f));
      const uint8_t q1 = std::min<uint8_t>(15, trunc_to_u8((x[j + 16] - min) * id + 0.5f));
      b.qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
    }
    store_block(out, i, b);
  }
}

// Low nibbles in qs as Q4_0; the fifth bit of element j is bit j of qh.
template <typename Block>
void pack_q5(Block& b, const uint8_t* q) {
  uint32_t qh = 0;
  for (int j = 0; j < 16; ++j) {
    b.qs[j] = static_cast<uint8_t>((q[j] & 0x0F) | ((q[j + 16] & 0x0F) << 4));
    qh |= static_cast<uint32_t>((q[j] & 0x10u) >> 4) << j;
    qh |= static_cast<uint32_t>((q[j + 16] & 0x10u) >> 4) << (j + 16);
  }
  std::memcpy(b.qh, &qh, 4);  // little-endian host
}

void quant_q5_0(const float* x, void* out, int64_t n) {
  for (int64_t i = 0; i < n / kQK32; ++i, x += kQK32) {
    const float d = signed_absmax(x) / -16.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    uint8_t q[kQK32];
    for (int j = 0; j < kQK32; ++j) q[j] = std::min<uint8_t>(31, trunc_to_u8(x[j] * id + 16.5f));
    BlockQ5_0 b{};
    b.d = f32_to_fp16(d);
    pack_q5(b, q);
    store_block(out, i, b);
  }
}

void quant_q5_1(const float* x, void* out, int64_t n) {
  for (int64_t i = 0; i < n / kQK32; ++i, x += kQK32) {
    float min = 0.0f;
    float max = 0.0f;
    min_max(x, min, max);
    const float d = (max - min) / 31.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    uint8_t q[kQK32];
    for (int j = 0; j < kQK32; ++j) q[j] = trunc_to_u8((x[j] - min) * id + 0.5f);
    BlockQ5_1 b{};
    b.d = f32_to_fp16(d);
    b.m = f32_to_fp16(min);
    pack_q5(b, q);
    store_block(out, i, b);
  }
}

void quant_q8_0(const float* x, void* out, int64_t n) {
  for (int64_t i = 0; i < n / kQK32; ++i, x += kQK32) {
    float amax = 0.0f;
    for (int j = 0; j < kQK32; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    BlockQ8_0 b{};
    b.d = f32_to_fp16(d);
    for (int j = 0; j < kQK32; ++j) b.qs[j] = static_cast<int8_t>(std::round(x[j] * id));
    store_block(out, i, b);
  }
}

}  // namespace

bool has_quantizer(GgmlType type) {
  switch (type) {
    case GgmlType::F32:
    case GgmlType::F16:
    case GgmlType::BF16:
    case GgmlType::Q4_0:
    case GgmlType::Q4_1:
    case GgmlType::Q5_0:
    case GgmlType::Q5_1:
    case GgmlType::Q8_0:
    case GgmlType::Q4_K:
    case GgmlType::Q5_K:
    case GgmlType::Q6_K:
      return true;
    default:
      return false;
  }
}

void quantize_row(GgmlType type, const float* x, void* out, int64_t n) {
  if (!has_quantizer(type)) {
    throw InputError("no quantizer for tensor type " + std::string(ggml_type_name(type)));
  }
  const auto block = static_cast<int64_t>(ggml_type_traits(type).block_size);
  if (n < 0 || n % block != 0) {
    throw InputError("cannot quantize " + std::to_string(n) + " elements to " + std::string(ggml_type_name(type)) +
                     ": not a multiple of its block size " + std::to_string(block));
  }
  switch (type) {
    case GgmlType::F32:
      std::memcpy(out, x, static_cast<size_t>(n) * sizeof(float));
      break;
    case GgmlType::F16:
      for (int64_t i = 0; i < n; ++i) store_u16(out, i, f32_to_fp16(x[i]));
      break;
    case GgmlType::BF16:
      for (int64_t i = 0; i < n; ++i) store_u16(out, i, f32_to_bf16(x[i]));
      break;
    case GgmlType::Q4_0: quant_q4_0(x, out, n); break;
    case GgmlType::Q4_1: quant_q4_1(x, out, n); break;
    case GgmlType::Q5_0: quant_q5_0(x, out, n); break;
    case GgmlType::Q5_1: quant_q5_1(x, out, n); break;
    case GgmlType::Q8_0: quant_q8_0(x, out, n); break;
    case GgmlType::Q4_K: quantize_q4_k(x, out, n); break;
    case GgmlType::Q5_K: quantize_q5_k(x, out, n); break;
    case GgmlType::Q6_K: quantize_q6_k(x, out, n); break;
    default: break;  // excluded by has_quantizer
  }
}

}  // namespace pocketllm
