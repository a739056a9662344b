#include "backends/cpu/quant/dequantize.h"

#include <cstring>
#include <string>

#include "backends/cpu/quant/block_formats.h"
#include "backends/cpu/quant/scalar_types.h"
#include "util/error.h"

namespace pocketllm {
namespace {

// Blocks are read through memcpy: file bytes carry no alignment promise.
template <typename Block>
Block load_block(const void* src, int64_t index) {
  Block b;
  std::memcpy(&b, static_cast<const std::byte*>(src) + index * static_cast<int64_t>(sizeof(Block)),
              sizeof(Block));
  return b;
}

void dequant_f32(const void* src, float* y, int64_t n) {
  std::memcpy(y, src, static_cast<size_t>(n) * sizeof(float));
}

void dequant_f16(const void* src, float* y, int64_t n) {
  const auto* p = static_cast<const std::byte*>(src);
  for (int64_t i = 0; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, p + 2 * i, 2);
    y[i] = fp16_to_f32(h);
  }
}

void dequant_bf16(const void* src, float* y, int64_t n) {
  const auto* p = static_cast<const std::byte*>(src);
  for (int64_t i = 0; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, p + 2 * i, 2);
    y[i] = bf16_to_f32(h);
  }
}

void dequant_q4_0(const void* src, float* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK32; ++i, y += kQK32) {
    const auto b = load_block<BlockQ4_0>(src, i);
    const float d = fp16_to_f32(b.d);
    for (int j = 0; j < 16; ++j) {
      y[j] = static_cast<float>((b.qs[j] & 0xF) - 8) * d;
      y[j + 16] = static_cast<float>((b.qs[j] >> 4) - 8) * d;
    }
  }
}

void dequant_q4_1(const void* src, float* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK32; ++i, y += kQK32) {
    const auto b = load_block<BlockQ4_1>(src, i);
    const float d = fp16_to_f32(b.d);
    const float m = fp16_to_f32(b.m);
    for (int j = 0; j < 16; ++j) {
      y[j] = static_cast<float>(b.qs[j] & 0xF) * d + m;
      y[j + 16] = static_cast<float>(b.qs[j] >> 4) * d + m;
    }
  }
}

uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;  // little-endian host (x86-64, aarch64)
}

void dequant_q5_0(const void* src, float* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK32; ++i, y += kQK32) {
    const auto b = load_block<BlockQ5_0>(src, i);
    const float d = fp16_to_f32(b.d);
    const uint32_t qh = load_u32(b.qh);
    for (int j = 0; j < 16; ++j) {
      const auto hi0 = static_cast<int>(((qh >> j) & 1u) << 4);
      const auto hi1 = static_cast<int>(((qh >> (j + 16)) & 1u) << 4);
      y[j] = static_cast<float>(((b.qs[j] & 0xF) | hi0) - 16) * d;
      y[j + 16] = static_cast<float>(((b.qs[j] >> 4) | hi1) - 16) * d;
    }
  }
}

void dequant_q5_1(const void* src, float* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK32; ++i, y += kQK32) {
    const auto b = load_block<BlockQ5_1>(src, i);
    const float d = fp16_to_f32(b.d);
    const float m = fp16_to_f32(b.m);
    const uint32_t qh = load_u32(b.qh);
    for (int j = 0; j < 16; ++j) {
      const auto hi0 = static_cast<int>(((qh >> j) & 1u) << 4);
      const auto hi1 = static_cast<int>(((qh >> (j + 16)) & 1u) << 4);
      y[j] = static_cast<float>((b.qs[j] & 0xF) | hi0) * d + m;
      y[j + 16] = static_cast<float>((b.qs[j] >> 4) | hi1) * d + m;
    }
  }
}

void dequant_q8_0(const void* src, float* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK32; ++i, y += kQK32) {
    const auto b = load_block<BlockQ8_0>(src, i);
    const float d = fp16_to_f32(b.d);
    for (int j = 0; j < 32; ++j) y[j] = static_cast<float>(b.qs[j]) * d;
  }
}

void dequant_iq4_nl(const void* src, float* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK32; ++i, y += kQK32) {
    const auto b = load_block<BlockIq4Nl>(src, i);
    const float d = fp16_to_f32(b.d);
    for (int j = 0; j < 16; ++j) {
      y[j] = d * static_cast<float>(kIq4nlValues[b.qs[j] & 0xF]);
      y[j + 16] = d * static_cast<float>(kIq4nlValues[b.qs[j] >> 4]);
    }
  }
}

void dequant_mxfp4(const void* src, float* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK32; ++i, y += kQK32) {
    const auto b = load_block<BlockMxfp4>(src, i);
    const float d = e8m0_to_f32_half(b.e);
    for (int j = 0; j < 16; ++j) {
      y[j] = static_cast<float>(kMxfp4Values[b.qs[j] & 0xF]) * d;
      y[j + 16] = static_cast<float>(kMxfp4Values[b.qs[j] >> 4]) * d;
    }
  }
}

void dequant_q2_k(const void* src, float* y, int64_t n) {
  for (int64_t i = 0; i < n / kQKK; ++i) {
    const auto b = load_block<BlockQ2_K>(src, i);
    const float d = fp16_to_f32(b.d);
    const float dmin = fp16_to_f32(b.dmin);
    const uint8_t* q = b.qs;
    int g = 0;
    for (int half = 0; half < 2; ++half, q += 32) {
      for (int shift = 0; shift < 8; shift += 2) {
        for (int part = 0; part < 2; ++part, ++g) {
          const float dl = d * static_cast<float>(b.scales[g] & 0xF);
          const float ml = dmin * static_cast<float>(b.scales[g] >> 4);
          for (int l = 0; l < 16; ++l) {
            *y++ = dl * static_cast<float>((q[16 * part + l] >> shift) & 3) - ml;
          }
        }
      }
    }
  }
}

void dequant_q3_k(const void* src, float* y, int64_t n) {
  for (int64_t i = 0; i < n / kQKK; ++i) {
    const auto b = load_block<BlockQ3_K>(src, i);
    const float d = fp16_to_f32(b.d);
    const uint8_t* q = b.qs;
    int g = 0;
    unsigned mask = 1;
    for (int half = 0; half < 2; ++half, q += 32) {
      for (int shift = 0; shift < 8; shift += 2, mask <<= 1) {
        for (int part = 0; part < 2; ++part, ++g) {
          const float dl = d * static_cast<float>(q3k_scale(g, b.scales) - 32);
          for (int l = 16 * part; l < 16 * part + 16; ++l) {
            const int low = (q[l] >> shift) & 3;
            const int sub = (b.hmask[l] & mask) != 0 ? 0 : 4;
            *y++ = dl * static_cast<float>(low - sub);
          }
        }
      }
    }
  }
}

void dequant_q4_k(const void* src, float* y, int64_t n) {
  for (int64_t i = 0; i < n / kQKK; ++i) {
    const auto b = load_block<BlockQ4_K>(src, i);
    const float d = fp16_to_f32(b.d);
    const float dmin = fp16_to_f32(b.dmin);
    const uint8_t* q = b.qs;
    for (int g = 0; g < 8; g += 2, q += 32) {
      const ScaleMin lo = k4_scale_min(g, b.scales);
      const ScaleMin hi = k4_scale_min(g + 1, b.scales);
      const float d1 = d * lo.scale, m1 = dmin * lo.min;
      const float d2 = d * hi.scale, m2 = dmin * hi.min;
      for (int l = 0; l < 32; ++l) *y++ = d1 * static_cast<float>(q[l] & 0xF) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * static_cast<float>(q[l] >> 4) - m2;
    }
  }
}

void dequant_q5_k(const void* src, float* y, int64_t n) {
  for (int64_t i = 0; i < n / kQKK; ++i) {
    const auto b = load_block<BlockQ5_K>(src, i);
    const float d = fp16_to_f32(b.d);
    const float dmin = fp16_to_f32(b.dmin);
    const uint8_t* q = b.qs;
    unsigned u1 = 1, u2 = 2;
    for (int g = 0; g < 8; g += 2, q += 32, u1 <<= 2, u2 <<= 2) {
      const ScaleMin lo = k4_scale_min(g, b.scales);
      const ScaleMin hi = k4_scale_min(g + 1, b.scales);
      const float d1 = d * lo.scale, m1 = dmin * lo.min;
      const float d2 = d * hi.scale, m2 = dmin * hi.min;
      for (int l = 0; l < 32; ++l) {
        *y++ = d1 * static_cast<float>((q[l] & 0xF) + ((b.qh[l] & u1) != 0 ? 16 : 0)) - m1;
      }
      for (int l = 0; l < 32; ++l) {
        *y++ = d2 * static_cast<float>((q[l] >> 4) + ((b.qh[l] & u2) != 0 ? 16 : 0)) - m2;
      }
    }
  }
}

void dequant_q6_k(const void* src, float* y, int64_t n) {
  for (int64_t i = 0; i < n / kQKK; ++i, y += kQKK) {
    const auto b = load_block<BlockQ6_K>(src, i);
    const float d = fp16_to_f32(b.d);
    for (int half = 0; half < 2; ++half) {
      const uint8_t* ql = b.ql + 64 * half;
      const uint8_t* qh = b.qh + 32 * half;
      const int8_t* sc = b.scales + 8 * half;
      float* out = y + 128 * half;
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        out[l] = d * static_cast<float>(sc[is]) * static_cast<float>(q1);
        out[l + 32] = d * static_cast<float>(sc[is + 2]) * static_cast<float>(q2);
        out[l + 64] = d * static_cast<float>(sc[is + 4]) * static_cast<float>(q3);
        out[l + 96] = d * static_cast<float>(sc[is + 6]) * static_cast<float>(q4);
      }
    }
  }
}

void dequant_q8_k(const void* src, float* y, int64_t n) {
  for (int64_t i = 0; i < n / kQKK; ++i, y += kQKK) {
    const auto b = load_block<BlockQ8_K>(src, i);
    for (int j = 0; j < kQKK; ++j) y[j] = b.d * static_cast<float>(b.qs[j]);
  }
}

void dequant_iq4_xs(const void* src, float* y, int64_t n) {
  for (int64_t i = 0; i < n / kQKK; ++i) {
    const auto b = load_block<BlockIq4Xs>(src, i);
    const float d = fp16_to_f32(b.d);
    const uint8_t* qs = b.qs;
    for (int g = 0; g < 8; ++g, qs += 16, y += 32) {
      const int ls = ((b.scales_l[g / 2] >> (4 * (g % 2))) & 0xF) | (((b.scales_h >> (2 * g)) & 3) << 4);
      const float dl = d * static_cast<float>(ls - 32);
      for (int j = 0; j < 16; ++j) {
        y[j] = dl * static_cast<float>(kIq4nlValues[qs[j] & 0xF]);
        y[j + 16] = dl * static_cast<float>(kIq4nlValues[qs[j] >> 4]);
      }
    }
  }
}

using DequantFn = void (*)(const void*, float*, int64_t);

DequantFn dequantizer(GgmlType type) {
  switch (type) {
    case GgmlType::F32: return dequant_f32;
    case GgmlType::F16: return dequant_f16;
    case GgmlType::BF16: return dequant_bf16;
    case GgmlType::Q4_0: return dequant_q4_0;
    case GgmlType::Q4_1: return dequant_q4_1;
    case GgmlType::Q5_0: return dequant_q5_0;
    case GgmlType::Q5_1: return dequant_q5_1;
    case GgmlType::Q8_0: return dequant_q8_0;
    case GgmlType::Q2_K: return dequant_q2_k;
    case GgmlType::Q3_K: return dequant_q3_k;
    case GgmlType::Q4_K: return dequant_q4_k;
    case GgmlType::Q5_K: return dequant_q5_k;
    case GgmlType::Q6_K: return dequant_q6_k;
    case GgmlType::Q8_K: return dequant_q8_k;
    case GgmlType::IQ4_NL: return dequant_iq4_nl;
    case GgmlType::IQ4_XS: return dequant_iq4_xs;
    case GgmlType::MXFP4: return dequant_mxfp4;
    default: return nullptr;
  }
}

}  // namespace

bool has_dequantizer(GgmlType type) { return dequantizer(type) != nullptr; }

void dequantize_row(GgmlType type, std::span<const std::byte> row, std::span<float> out) {
  const DequantFn fn = dequantizer(type);
  if (fn == nullptr) {
    throw InputError("no dequantizer for tensor type " + std::string(ggml_type_name(type)));
  }
  const auto bytes = ggml_tensor_bytes(type, out.size());
  if (!bytes) {
    throw InputError(std::to_string(out.size()) + " elements is not a whole number of " +
                     std::string(ggml_type_name(type)) + " blocks");
  }
  if (*bytes != row.size()) {
    throw InputError(std::string(ggml_type_name(type)) + " row of " + std::to_string(out.size()) +
                     " elements needs " + std::to_string(*bytes) + " bytes, got " +
                     std::to_string(row.size()));
  }
  fn(row.data(), out.data(), static_cast<int64_t>(out.size()));
}

void dequantize_row_unchecked(GgmlType type, const void* src, float* out, int64_t n) {
  dequantizer(type)(src, out, n);
}

}  // namespace pocketllm
