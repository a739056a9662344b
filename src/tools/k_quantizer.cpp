#include "tools/k_quantizer.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "backends/cpu/quant/block_formats.h"
#include "backends/cpu/quant/scalar_types.h"

namespace pocketllm {
namespace {

// ggml's nearest_int: round half to even (its callers keep |v| < 2^22).
int nearest_int(float v) { return static_cast<int>(std::nearbyint(v)); }

// ggml's GROUP_MAX_EPS: a group whose largest |x| is below it is all zero.
constexpr float kGroupMaxEps = 1e-15f;

template <typename Block>
void store_block(void* out, int64_t index, const Block& b) {
  std::memcpy(static_cast<std::byte*>(out) + index * static_cast<int64_t>(sizeof(Block)), &b, sizeof(Block));
}

// ggml's make_qkx2_quants without its absolute-error option (only Q2_K uses
// it): x ~ scale * L - min with L in 0..nmax and min >= 0. Starts from the
// grid spanning [min(x, 0), max(x)], then tries the nstep + 1 grids of
// (nmax + rmin + rdelta * is) steps over that span, refits scale and min to
// each by weighted least squares (min clamped to >= 0), and keeps the one of
// least weighted squared error. Returns the scale; `min` gets the min.
float fit_scale_and_min(int n, int nmax, const float* x, const float* w, uint8_t* L, float& the_min, float rmin,
                        float rdelta, int nstep) {
  float min = x[0];
  float max = x[0];
  float sum_w = w[0];
  float sum_x = sum_w * x[0];
  for (int i = 1; i < n; ++i) {
    min = std::min(min, x[i]);
    max = std::max(max, x[i]);
    sum_w += w[i];
    sum_x += w[i] * x[i];
  }
  if (min > 0) min = 0;
  if (max == min) {
    std::fill(L, L + n, uint8_t{0});
    the_min = -min;
    return 0.0f;
  }
  float iscale = static_cast<float>(nmax) / (max - min);
  float scale = 1 / iscale;
  float best_error = 0;
  for (int i = 0; i < n; ++i) {
    L[i] = static_cast<uint8_t>(std::clamp(nearest_int(iscale * (x[i] - min)), 0, nmax));
    const float diff = scale * L[i] + min - x[i];
    best_error += w[i] * (diff * diff);
  }
  uint8_t trial[32];
  for (int is = 0; is <= nstep; ++is) {
    iscale = (rmin + rdelta * static_cast<float>(is) + static_cast<float>(nmax)) / (max - min);
    float sum_l = 0, sum_l2 = 0, sum_xl = 0;
    for (int i = 0; i < n; ++i) {
      const int l = std::clamp(nearest_int(iscale * (x[i] - min)), 0, nmax);
      trial[i] = static_cast<uint8_t>(l);
      const float fl = static_cast<float>(l);
      sum_l += w[i] * fl;
      sum_l2 += w[i] * fl * fl;
      sum_xl += w[i] * fl * x[i];
    }
    const float det = sum_w * sum_l2 - sum_l * sum_l;
    if (det > 0) {
      float this_scale = (sum_w * sum_xl - sum_x * sum_l) / det;
      float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / det;
      if (this_min > 0) {
        this_min = 0;
        this_scale = sum_xl / sum_l2;
      }
      float error = 0;
      for (int i = 0; i < n; ++i) {
        const float diff = this_scale * trial[i] + this_min - x[i];
        error += w[i] * (diff * diff);
      }
      if (error < best_error) {
        std::copy(trial, trial + n, L);
        best_error = error;
        scale = this_scale;
        min = this_min;
      }
    }
  }
  the_min = -min;
  return scale;
}

// Q4_K / Q5_K: the 6-bit scale and min of group j into the 12 packed bytes
// (the inverse of k4_scale_min); groups in order 0..7.
void pack_scale_min(int j, uint8_t ls, uint8_t lm, uint8_t* scales) {
  if (j < 4) {
    scales[j] = ls;
    scales[j + 4] = lm;
  } else {
    scales[j + 4] = static_cast<uint8_t>((ls & 0xF) | ((lm & 0xF) << 4));
    scales[j - 4] |= static_cast<uint8_t>((ls >> 4) << 6);
    scales[j] |= static_cast<uint8_t>((lm >> 4) << 6);
  }
}

// One Q4_K / Q5_K super-block: each group of 32 gets its fitted scale and
// min (weights: the group's rms plus |x|), both coded in 6 bits against the
// super-block's largest (d = max scale / 63, dmin = max min / 63); then every
// element is re-quantized against the coded values: L = round((x + m) / s)
// clamped to 0..nmax.
struct KSuperBlock {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];
  uint8_t L[kQKK];
};

KSuperBlock quantize_k_super_block(const float* x, int nmax, float rmin, float rdelta, int nstep) {
  KSuperBlock b{};
  float scales[8];
  float mins[8];
  float weights[32];
  float max_scale = 0;  // the min is subtracted, so scales are positive
  float max_min = 0;
  for (int j = 0; j < 8; ++j) {
    const float* g = x + 32 * j;
    float sum_x2 = 0;
    for (int l = 0; l < 32; ++l) sum_x2 += g[l] * g[l];
    const float av_x = std::sqrt(sum_x2 / 32);
    for (int l = 0; l < 32; ++l) weights[l] = av_x + std::fabs(g[l]);
    scales[j] = fit_scale_and_min(32, nmax, g, weights, b.L + 32 * j, mins[j], rmin, rdelta, nstep);
    if (scales[j] > max_scale) max_scale = scales[j];
    if (mins[j] > max_min) max_min = mins[j];
  }
  const float inv_scale = max_scale > 0 ? 63.0f / max_scale : 0.0f;
  const float inv_min = max_min > 0 ? 63.0f / max_min : 0.0f;
  for (int j = 0; j < 8; ++j) {
    // ggml stores the rounded value in a uint8_t before the clamp.
    const auto ls = std::min<uint8_t>(63, static_cast<uint8_t>(nearest_int(inv_scale * scales[j])));
    const auto lm = std::min<uint8_t>(63, static_cast<uint8_t>(nearest_int(inv_min * mins[j])));
    pack_scale_min(j, ls, lm, b.scales);
  }
  b.d = f32_to_fp16(max_scale / 63.0f);
  b.dmin = f32_to_fp16(max_min / 63.0f);
  for (int j = 0; j < 8; ++j) {
    const ScaleMin sm = k4_scale_min(j, b.scales);
    const float d = fp16_to_f32(b.d) * sm.scale;
    if (d == 0.0f) continue;  // keeps the fit's quants, which decode to -min anyway
    const float dm = fp16_to_f32(b.dmin) * sm.min;
    for (int l = 0; l < 32; ++l) {
      b.L[32 * j + l] = static_cast<uint8_t>(std::clamp(nearest_int((x[32 * j + l] + dm) / d), 0, nmax));
    }
  }
  return b;
}

// ggml's make_qx_quants with rmse_type 1 and no importance weights (Q6_K):
// x ~ scale * (L - nmax), L in 0..2 nmax - 1. The element of largest |x|
// sets the first grid (it lands on -nmax); grids of nmax + 0.1 is steps
// (is = -9..9) are tried too, each with its least-squares scale under
// weights x^2, keeping the one that explains the most of x (largest
// sumlx^2 / suml2).
float fit_symmetric_scale(int n, int nmax, const float* x, int8_t* L) {
  float max = 0;
  float amax = 0;
  for (int i = 0; i < n; ++i) {
    if (std::fabs(x[i]) > amax) {
      amax = std::fabs(x[i]);
      max = x[i];
    }
  }
  if (amax < kGroupMaxEps) {
    std::fill(L, L + n, int8_t{0});
    return 0.0f;
  }
  const auto quant = [&](float iscale, int i) { return std::clamp(nearest_int(iscale * x[i]), -nmax, nmax - 1); };
  float iscale = static_cast<float>(-nmax) / max;
  float sumlx = 0;
  float suml2 = 0;
  for (int i = 0; i < n; ++i) {
    const int l = quant(iscale, i);
    L[i] = static_cast<int8_t>(l + nmax);
    const float w = x[i] * x[i];
    sumlx += w * x[i] * static_cast<float>(l);
    suml2 += w * static_cast<float>(l) * static_cast<float>(l);
  }
  float scale = suml2 != 0.0f ? sumlx / suml2 : 0.0f;
  float best = scale * sumlx;
  for (int is = -9; is <= 9; ++is) {
    if (is == 0) continue;
    iscale = -(static_cast<float>(nmax) + 0.1f * static_cast<float>(is)) / max;
    sumlx = suml2 = 0;
    for (int i = 0; i < n; ++i) {
      const int l = quant(iscale, i);
      const float w = x[i] * x[i];
      sumlx += w * x[i] * static_cast<float>(l);
      suml2 += w * static_cast<float>(l) * static_cast<float>(l);
    }
    if (suml2 > 0 && sumlx * sumlx > best * suml2) {
      for (int i = 0; i < n; ++i) L[i] = static_cast<int8_t>(quant(iscale, i) + nmax);
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

}  // namespace

// ggml's parameters: Q4_K tries 21 grids of 14..16 steps, Q5_K 16 of 30.5..32.
void quantize_q4_k(const float* x, void* out, int64_t n) {
  for (int64_t i = 0; i < n / kQKK; ++i, x += kQKK) {
    const KSuperBlock s = quantize_k_super_block(x, 15, -1.0f, 0.1f, 20);
    BlockQ4_K b{};
    b.d = s.d;
    b.dmin = s.dmin;
    std::memcpy(b.scales, s.scales, sizeof(b.scales));
    for (int j = 0; j < kQKK; j += 64) {
      for (int l = 0; l < 32; ++l) b.qs[j / 2 + l] = static_cast<uint8_t>(s.L[j + l] | (s.L[j + l + 32] << 4));
    }
    store_block(out, i, b);
  }
}

void quantize_q5_k(const float* x, void* out, int64_t n) {
  for (int64_t i = 0; i < n / kQKK; ++i, x += kQKK) {
    const KSuperBlock s = quantize_k_super_block(x, 31, -0.5f, 0.1f, 15);
    BlockQ5_K b{};
    b.d = s.d;
    b.dmin = s.dmin;
    std::memcpy(b.scales, s.scales, sizeof(b.scales));
    // Pair p (elements 64p .. 64p+63): low nibbles as Q4_K, fifth bits in
    // bits 2p (first 32) and 2p+1 (second 32) of qh.
    for (int p = 0; p < 4; ++p) {
      for (int l = 0; l < 32; ++l) {
        const uint8_t lo = s.L[64 * p + l];
        const uint8_t hi = s.L[64 * p + 32 + l];
        b.qs[32 * p + l] = static_cast<uint8_t>((lo & 0xF) | ((hi & 0xF) << 4));
        b.qh[l] |= static_cast<uint8_t>(((lo >> 4) << (2 * p)) | ((hi >> 4) << (2 * p + 1)));
      }
    }
    store_block(out, i, b);
  }
}

// Q6_K: 16 groups of 16, each fitted by fit_symmetric_scale with nmax 32;
// the signed scales coded in int8 against the one of largest magnitude
// (d = -max_scale / 128, clamped to 127), then every element re-quantized
// against its coded scale, L = round(x / s) clamped to -32..31.
void quantize_q6_k(const float* x, void* out, int64_t n) {
  for (int64_t i = 0; i < n / kQKK; ++i, x += kQKK) {
    int8_t L[kQKK];
    float scales[16];
    float max_scale = 0;
    float max_abs_scale = 0;
    for (int g = 0; g < 16; ++g) {
      scales[g] = fit_symmetric_scale(16, 32, x + 16 * g, L + 16 * g);
      if (std::fabs(scales[g]) > max_abs_scale) {
        max_abs_scale = std::fabs(scales[g]);
        max_scale = scales[g];
      }
    }
    BlockQ6_K b{};  // all zero (d = 0) when every group is
    if (max_abs_scale >= kGroupMaxEps) {
      const float iscale = -128.0f / max_scale;
      b.d = f32_to_fp16(1 / iscale);
      for (int g = 0; g < 16; ++g) b.scales[g] = static_cast<int8_t>(std::min(127, nearest_int(iscale * scales[g])));
      for (int g = 0; g < 16; ++g) {
        const float d = fp16_to_f32(b.d) * static_cast<float>(b.scales[g]);
        if (d == 0.0f) continue;
        for (int l = 0; l < 16; ++l) {
          L[16 * g + l] = static_cast<int8_t>(std::clamp(nearest_int(x[16 * g + l] / d), -32, 31) + 32);
        }
      }
      // Element order of block_formats.h: half h, l < 32, quarters 0..3.
      for (int h = 0; h < 2; ++h) {
        const int8_t* q = L + 128 * h;
        for (int l = 0; l < 32; ++l) {
          b.ql[64 * h + l] = static_cast<uint8_t>((q[l] & 0xF) | ((q[l + 64] & 0xF) << 4));
          b.ql[64 * h + l + 32] = static_cast<uint8_t>((q[l + 32] & 0xF) | ((q[l + 96] & 0xF) << 4));
          b.qh[32 * h + l] = static_cast<uint8_t>((q[l] >> 4) | ((q[l + 32] >> 4) << 2) | ((q[l + 64] >> 4) << 4) |
                                                  ((q[l + 96] >> 4) << 6));
        }
      }
    }
    store_block(out, i, b);
  }
}

}  // namespace pocketllm
