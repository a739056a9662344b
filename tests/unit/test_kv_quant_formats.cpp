// The quantized KV cache formats (kv/kv_quant_formats.h) and attention over
// bf16 / q8 / q4 caches:
//   - round trips of each format on random rows, within bounds derived from
//     the format (half a quantization step, plus the f16 rounding of the
//     stored scale and minimum);
//   - attention over such caches against a dense reference in double, both
//     on the values the cache holds (read back through its slabs: only f32
//     arithmetic differs) and on the exact values, within a bound computed
//     from the measured storage error (see attention_error_bound);
//   - the staging of q4 K blocks, pool sizes, and the flag spellings.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "backends/cpu/attention/attention_quant_vnni.h"
#include "backends/cpu/attention/paged_attention.h"
#include "backends/cpu/quant/scalar_types.h"
#include "kv/kv_quant_formats.h"
#include "kv/paged_kv_cache.h"
#include "test_model_descs.h"
#include "test_support.h"
#include "util/error.h"

namespace pocketllm {
namespace {

constexpr float kF16Epsilon = 1.0f / 2048.0f;  // f16 relative rounding: 2^-11

std::vector<float> random_row(std::mt19937& rng, size_t n, float amplitude) {
  std::uniform_real_distribution<float> dist(-amplitude, amplitude);
  std::vector<float> x(n);
  for (float& e : x) e = dist(rng);
  return x;
}

float f16_round(float x) { return fp16_to_f32(f32_to_fp16(x)); }
double dbl(float x) { return static_cast<double>(x); }

// --- formats ---------------------------------------------------------------

TEST(KvQuantFormats, HadamardIsOrthonormalAndItsOwnInverse) {
  // 8 = 2^3: H e_0 = (1, ..., 1) / sqrt(8); H e_1 alternates signs.
  std::vector<float> e0(8, 0.0f);
  e0[0] = 1.0f;
  kv_hadamard(e0.data(), 8);
  for (const float x : e0) EXPECT_NEAR(x, 1.0f / std::sqrt(8.0f), 1e-7f);
  std::vector<float> e1(8, 0.0f);
  e1[1] = 1.0f;
  kv_hadamard(e1.data(), 8);
  for (size_t i = 0; i < 8; ++i) EXPECT_NEAR(e1[i], (i % 2 == 0 ? 1.0f : -1.0f) / std::sqrt(8.0f), 1e-7f);

  std::mt19937 rng(1);
  for (const uint32_t dim : {8u, 16u, 64u, 128u, 96u, 12u, 5u}) {
    const std::vector<float> x = random_row(rng, dim, 3.0f);
    std::vector<float> y = x;
    kv_hadamard(y.data(), dim);
    double nx = 0.0;
    double ny = 0.0;
    for (uint32_t i = 0; i < dim; ++i) {
      nx += dbl(x[i]) * dbl(x[i]);
      ny += dbl(y[i]) * dbl(y[i]);
    }
    EXPECT_NEAR(ny / nx, 1.0, 1e-6) << dim;  // norm kept
    kv_hadamard(y.data(), dim);
    for (uint32_t i = 0; i < dim; ++i) EXPECT_NEAR(y[i], x[i], 1e-5f) << dim;
  }
}

TEST(KvQuantFormats, SlabBytes) {
  // 16 tokens of 8 values.
  EXPECT_EQ(kv_slab_bytes(KvLayout::F32, 16, 8), 16u * 8 * 4);
  EXPECT_EQ(kv_slab_bytes(KvLayout::F16, 16, 8), 16u * 8 * 2);
  EXPECT_EQ(kv_slab_bytes(KvLayout::BF16, 16, 8), 16u * 8 * 2);
  EXPECT_EQ(kv_slab_bytes(KvLayout::Q8Token, 16, 8), 16u * 2 + 16 * 8);         // scales + int8
  EXPECT_EQ(kv_slab_bytes(KvLayout::Q8Key, 16, 8), 16u * 2 + 16 * 8);
  EXPECT_EQ(kv_slab_bytes(KvLayout::Q8Key, 3, 6), 8u + 3 * 8);                   // channels padded to 4
  EXPECT_EQ(kv_slab_bytes(KvLayout::Q8Token, 3, 6), 8u + 4 * 6);                 // tokens padded to 4
  EXPECT_EQ(kv_slab_bytes(KvLayout::Q4Channel, 16, 8), 8u * 4 + 16 * 4);         // scale+min per channel + nibbles
  EXPECT_EQ(kv_slab_bytes(KvLayout::Q4Token, 16, 8), 16u * 4 + 16 * 8);          // scale+min per token + nibbles, dims padded to 16
  EXPECT_EQ(kv_slab_bytes(KvLayout::Q4Token, 3, 5), 12u + 4 * 8);                // tokens padded to 4
  EXPECT_EQ(kv_slab_bytes(KvLayout::Q4Token, 16, 64), 16u * 4 + 16 * 32);
  EXPECT_EQ(kv_slab_bytes(KvLayout::Q4Channel, 16, 7), 7u * 4 + 16 * 4);         // channels padded to 8
  EXPECT_EQ(kv_slab_bytes(KvLayout::Q4Channel, 16, 128), 128u * 4 + 16 * 64);    // 37.5% of f16
  EXPECT_EQ(kv_slab_bytes(KvLayout::Q8Token, 16, 128), 16u * 2 + 16 * 128);      // 50.8% of f16
}

// One slab of `bt` random rows written (and for Q4Channel quantized from f16
// rows) and read back; returns the rows as read.
struct RoundTrip {
  std::vector<float> in;   // [bt][dim]
  std::vector<float> out;  // [bt][dim]
};
RoundTrip round_trip(KvLayout layout, uint32_t bt, uint32_t dim, std::mt19937& rng, float amplitude) {
  RoundTrip rt;
  for (uint32_t j = 0; j < bt; ++j) {
    // Rows of different magnitudes, one channel an outlier (as K has).
    std::vector<float> row = random_row(rng, dim, amplitude * static_cast<float>(1 + j % 3));
    row[dim / 2] *= 6.0f;
    rt.in.insert(rt.in.end(), row.begin(), row.end());
  }
  std::vector<std::byte> slab(kv_slab_bytes(layout, bt, dim));
  std::vector<float> scratch(dim);
  if (layout == KvLayout::Q4Channel) {
    std::vector<uint16_t> f16(rt.in.size());
    for (size_t i = 0; i < f16.size(); ++i) f16[i] = f32_to_fp16(rt.in[i]);
    kv_quantize_channel_slab(f16.data(), slab.data(), bt, dim);
  } else {
    // Out of order, as nothing requires rows in order.
    for (uint32_t j = bt; j-- > 0;) kv_write_row(layout, rt.in.data() + j * dim, slab.data(), bt, dim, j, scratch);
  }
  rt.out = std::vector<float>(rt.in.size(), 0.0f);
  // Read in two pieces: row offsets work.
  const uint32_t split = bt / 3;
  kv_dequantize_rows(layout, slab.data(), bt, dim, 0, split, rt.out.data());
  kv_dequantize_rows(layout, slab.data(), bt, dim, split, bt - split, rt.out.data() + size_t{split} * dim);
  return rt;
}

// Round trips of `layout` on slabs of kRoundTripRows rows of each width in
// `dims`, from one generator seeded `seed`; `check(rt, dim)` judges each.
constexpr uint32_t kRoundTripRows = 16;
template <typename Check>
void check_round_trips(KvLayout layout, uint32_t seed, std::initializer_list<uint32_t> dims, float amplitude,
                       Check check) {
  std::mt19937 rng(seed);
  for (const uint32_t dim : dims) check(round_trip(layout, kRoundTripRows, dim, rng, amplitude), dim);
}

TEST(KvQuantFormats, Bf16RoundTripWithinHalfAnUlp) {
  std::mt19937 rng(2);
  const RoundTrip rt = round_trip(KvLayout::BF16, 16, 64, rng, 5.0f);
  for (size_t i = 0; i < rt.in.size(); ++i) {
    // 8 significant bits: the ulp of x in [2^e, 2^(e+1)) is 2^(e-7), round
    // to nearest errs by at most half of it, 2^(e-8) <= |x| 2^-8.
    EXPECT_LE(std::fabs(rt.out[i] - rt.in[i]), std::fabs(rt.in[i]) * (1.0f / 256.0f)) << i;
  }
}

TEST(KvQuantFormats, Q8RoundTripWithinHalfAStep) {
  // K and V interleave differently (by channels / by tokens); same values.
  for (const KvLayout layout : {KvLayout::Q8Key, KvLayout::Q8Token}) {
  check_round_trips(layout, 3, {8u, 32u, 128u, 12u, 6u}, 2.0f, [](const RoundTrip& rt, uint32_t dim) {
    for (uint32_t j = 0; j < kRoundTripRows; ++j) {
      float amax = 0.0f;
      for (uint32_t i = 0; i < dim; ++i) amax = std::max(amax, std::fabs(rt.in[j * dim + i]));
      // Step amax / 127, stored as f16 (relative error 2^-11, which moves
      // the largest value by at most 127 * 2^-11 = 0.06 steps).
      const float step = amax / 127.0f * (1.0f + kF16Epsilon);
      for (uint32_t i = 0; i < dim; ++i) {
        EXPECT_LE(std::fabs(rt.out[j * dim + i] - rt.in[j * dim + i]), 0.5f * step + 0.07f * step)
            << "dim " << dim << " row " << j << " value " << i;
      }
    }
  });  }
}

TEST(KvQuantFormats, Q4ChannelRoundTripWithinHalfAStepPerChannel) {
  check_round_trips(KvLayout::Q4Channel, 4, {8u, 16u, 128u, 7u}, 1.5f, [](const RoundTrip& rt, uint32_t dim) {
    const uint32_t bt = kRoundTripRows;
    for (uint32_t c = 0; c < dim; ++c) {
      // The block's f16 rows are quantized: range of channel c over its tokens.
      float lo = std::numeric_limits<float>::infinity();
      float hi = -lo;
      for (uint32_t j = 0; j < bt; ++j) {
        lo = std::min(lo, f16_round(rt.in[j * dim + c]));
        hi = std::max(hi, f16_round(rt.in[j * dim + c]));
      }
      const float step = (hi - lo) / 15.0f * (1.0f + kF16Epsilon);
      // Half a step, plus the f16 rounding of the minimum and of the input.
      const float bound = 0.5f * step + 15.0f * step * kF16Epsilon + std::fabs(lo) * kF16Epsilon;
      for (uint32_t j = 0; j < bt; ++j) {
        const float x = rt.in[j * dim + c];
        EXPECT_LE(std::fabs(rt.out[j * dim + c] - f16_round(x)), bound) << "dim " << dim << " channel " << c;
      }
    }
  });
}

TEST(KvQuantFormats, Q4TokenRoundTripWithinHalfAStepInTheRotatedBasis) {
  check_round_trips(KvLayout::Q4Token, 5, {8u, 16u, 128u, 12u}, 1.0f, [](const RoundTrip& rt, uint32_t dim) {
    for (uint32_t j = 0; j < kRoundTripRows; ++j) {
      // Rows are stored rotated: compare in that basis, then in the original
      // one (the rotation is orthonormal: the L2 error is the same).
      std::vector<float> r(rt.in.begin() + j * dim, rt.in.begin() + (j + 1) * dim);
      kv_hadamard(r.data(), dim);
      const auto [lo_it, hi_it] = std::minmax_element(r.begin(), r.end());
      const float step = (*hi_it - *lo_it) / 15.0f * (1.0f + kF16Epsilon);
      const float bound = 0.5f * step + 15.0f * step * kF16Epsilon + std::fabs(*lo_it) * kF16Epsilon;
      std::vector<float> back(rt.out.begin() + j * dim, rt.out.begin() + (j + 1) * dim);
      double l2 = 0.0;
      for (uint32_t i = 0; i < dim; ++i) {
        EXPECT_LE(std::fabs(back[i] - r[i]), bound) << "dim " << dim << " row " << j;
      }
      kv_hadamard(back.data(), dim);
      for (uint32_t i = 0; i < dim; ++i) l2 += std::pow(dbl(back[i]) - dbl(rt.in[j * dim + i]), 2);
      EXPECT_LE(std::sqrt(l2), std::sqrt(static_cast<double>(dim)) * dbl(bound) * 1.0001 + 1e-6) << "dim " << dim << " row " << j;
    }
  });
}

TEST(KvQuantFormats, ConstantRowsAndZerosAreExact) {
  // A zero range gives scale 0: every value is the minimum (exact for f16 values).
  std::vector<float> scratch(8);
  for (const KvLayout layout : {KvLayout::Q8Key, KvLayout::Q8Token, KvLayout::Q4Token}) {
    std::vector<std::byte> slab(kv_slab_bytes(layout, 4, 8));
    const std::vector<float> zeros(8, 0.0f);
    for (uint32_t j = 0; j < 4; ++j) kv_write_row(layout, zeros.data(), slab.data(), 4, 8, j, scratch);
    std::vector<float> out(32, 1.0f);
    kv_dequantize_rows(layout, slab.data(), 4, 8, 0, 4, out.data());
    for (const float x : out) EXPECT_EQ(x, 0.0f);
  }
  std::vector<uint16_t> rows(4 * 8, f32_to_fp16(-2.5f));
  std::vector<std::byte> slab(kv_slab_bytes(KvLayout::Q4Channel, 4, 8));
  kv_quantize_channel_slab(rows.data(), slab.data(), 4, 8);
  std::vector<float> out(32);
  kv_dequantize_rows(KvLayout::Q4Channel, slab.data(), 4, 8, 0, 4, out.data());
  for (const float x : out) EXPECT_EQ(x, -2.5f);
}

TEST(KvQuantFormats, FlagSpellings) {
  EXPECT_EQ(kv_dtype_from_name("f16"), KvDtype::F16);
  EXPECT_EQ(kv_dtype_from_name("auto"), KvDtype::F16);  // vLLM's default
  EXPECT_EQ(kv_dtype_from_name("F32"), KvDtype::F32);
  EXPECT_EQ(kv_dtype_from_name("bf16"), KvDtype::BF16);
  EXPECT_EQ(kv_dtype_from_name("q8"), KvDtype::Q8);
  EXPECT_EQ(kv_dtype_from_name("q8_0"), KvDtype::Q8);  // llama.cpp's
  EXPECT_EQ(kv_dtype_from_name("q4"), KvDtype::Q4);
  EXPECT_EQ(kv_dtype_from_name("Q4_0"), KvDtype::Q4);
  EXPECT_EQ(test_support::error_of([] { kv_dtype_from_name("fp8", "--cache-type-k"); }),
            "--cache-type-k: 'fp8' is not a KV cache type (f32, f16, bf16, q8, q4; also q8_0, q4_0, auto)");
  EXPECT_THROW(kv_dtype_from_name("q4_1"), InputError);
  EXPECT_THROW(kv_dtype_from_name(""), InputError);

  const KvCacheTypes both = kv_cache_types_from_flags("q8", "", "");
  EXPECT_EQ(both.k, KvDtype::Q8);
  EXPECT_EQ(both.v, KvDtype::Q8);
  const KvCacheTypes split = kv_cache_types_from_flags("f16", "q8_0", "q4");
  EXPECT_EQ(split.k, KvDtype::Q8);
  EXPECT_EQ(split.v, KvDtype::Q4);
  EXPECT_EQ(kv_cache_types_name(split), "K q8, V q4");
  EXPECT_EQ(kv_cache_types_name(both), "q8");
}

// --- attention over quantized caches -----------------------------------------

using test_support::two_layer_desc;  // both layers full attention here

// The K (or V) rows of `seq` in `layer` as the cache holds them, read back
// through its slabs: [pos][n_kv_heads * dim], V rotated back.
std::vector<std::vector<float>> held_rows(const PagedKvCache& cache, uint32_t layer, SeqId seq, bool keys) {
  const uint32_t bt = cache.options().block_tokens;
  const uint32_t dim = keys ? cache.head_dim_k() : cache.head_dim_v();
  const uint32_t n = cache.sequence_length(seq);
  const auto table = cache.block_table(layer, seq);
  std::vector<std::vector<float>> rows(n, std::vector<float>(size_t{cache.n_kv_heads()} * dim));
  std::vector<float> row(dim);
  for (uint32_t pos = 0; pos < n; ++pos) {
    const KvSlabs slabs = keys ? cache.k_slabs(layer, table[pos / bt]) : cache.v_slabs(layer, table[pos / bt]);
    for (uint32_t h = 0; h < cache.n_kv_heads(); ++h) {
      kv_dequantize_rows(slabs.layout, slabs.base + h * slabs.slab_bytes, bt, dim, pos % bt, 1, row.data());
      if (kv_layout_is_rotated(slabs.layout)) kv_hadamard(row.data(), dim);
      std::copy(row.begin(), row.end(), rows[pos].data() + size_t{h} * dim);
    }
  }
  return rows;
}

// The first key the query at `pos` sees (p.window on sliding layers).
uint32_t first_visible(const AttentionParams& p, uint32_t pos) {
  return p.window != 0 && pos >= p.window ? pos - p.window + 1 : 0;
}

// Causal attention in double for the query at `pos`.
std::vector<double> reference(const AttentionParams& p, const std::vector<std::vector<float>>& k,
                              const std::vector<std::vector<float>>& v, uint32_t pos, const std::vector<float>& q) {
  const uint32_t group = p.n_heads / p.n_kv_heads;
  const uint32_t first = first_visible(p, pos);
  std::vector<double> out(size_t{p.n_heads} * p.head_dim_v);
  for (uint32_t h = 0; h < p.n_heads; ++h) {
    const uint32_t g = h / group;
    std::vector<double> s(pos + 1);
    double m = -std::numeric_limits<double>::infinity();
    for (uint32_t j = 0; j <= pos; ++j) {
      double dot = 0.0;
      for (uint32_t d = 0; d < p.head_dim_k; ++d) dot += dbl(q[h * p.head_dim_k + d]) * dbl(k[j][g * p.head_dim_k + d]);
      s[j] = j < first ? -std::numeric_limits<double>::infinity() : dot * dbl(p.scale);
      m = std::max(m, s[j]);
    }
    double sum = 0.0;
    for (double& x : s) sum += (x = std::exp(x - m));
    for (uint32_t d = 0; d < p.head_dim_v; ++d) {
      double acc = 0.0;
      for (uint32_t j = 0; j <= pos; ++j) acc += s[j] * dbl(v[j][g * p.head_dim_v + d]);
      out[h * p.head_dim_v + d] = acc / sum;
    }
  }
  return out;
}

// A bound on |attention over stored K/V - attention over exact K/V| for one
// output value: with scores moved by at most delta = scale * max_h ||q_h||_1 *
// max|k_stored - k|, every softmax weight moves by a factor within
// [e^-2delta, e^2delta], so sum_j |p'_j - p_j| <= e^(2 delta) - 1 and the
// output moves by at most (e^(2 delta) - 1) max|v_stored| + max|v_stored - v|.
double attention_error_bound(const AttentionParams& p, const std::vector<float>& q, double k_error, double v_error,
                             double v_max) {
  double q1 = 0.0;
  for (uint32_t h = 0; h < p.n_heads; ++h) {
    double n1 = 0.0;
    for (uint32_t d = 0; d < p.head_dim_k; ++d) n1 += std::fabs(dbl(q[h * p.head_dim_k + d]));
    q1 = std::max(q1, n1);
  }
  const double delta = dbl(p.scale) * q1 * k_error;
  return std::expm1(2.0 * delta) * v_max + v_error;
}

double max_abs_difference(const std::vector<std::vector<float>>& a, const std::vector<std::vector<float>>& b) {
  double worst = 0.0;
  for (size_t i = 0; i < a.size(); ++i) {
    for (size_t j = 0; j < a[i].size(); ++j) worst = std::max(worst, std::fabs(dbl(a[i][j]) - dbl(b[i][j])));
  }
  return worst;
}

// What the integer path rounds, per stored token j of one sequence and layer
// and KV head g:
//   key_sensitivity[j][g]: the score error per unit of max|q| and of the
//     attention scale. q8 K (k = s i): the query step is max|q| / 127, so
//     the error is at most max|q| / 254 * ||k_j||_1. q4 K (k_c = min_c +
//     s_c u_c): the step of q_c s_c is at most max|q| max_c s_c / 127, so
//     max|q| * max_c s_c / 254 * sum_c u_jc. 0 for plain (or staged f16) K.
//   value_scale[j][g]: V's row scale s_j (0 for plain V), and max|u|.
struct IntegerRounding {
  std::vector<std::vector<double>> key_sensitivity;
  std::vector<std::vector<double>> value_scale;
  double value_int_max = 0.0;
};

IntegerRounding integer_rounding(const PagedKvCache& cache, uint32_t layer, SeqId seq, uint32_t pos) {
  IntegerRounding r;
  const uint32_t bt = cache.options().block_tokens;
  const uint32_t dk = cache.head_dim_k();
  const auto table = cache.block_table(layer, seq);
  const auto f16 = [](const std::byte* p, size_t i) {
    uint16_t bits = 0;
    std::memcpy(&bits, p + 2 * i, 2);
    return dbl(fp16_to_f32(bits));
  };
  std::vector<float> row(dk);
  for (uint32_t j = 0; j <= pos; ++j) {
    const KvSlabs ks = cache.k_slabs(layer, table[j / bt]);
    const KvSlabs vs = cache.v_slabs(layer, table[j / bt]);
    r.key_sensitivity.emplace_back(cache.n_kv_heads(), 0.0);
    r.value_scale.emplace_back(cache.n_kv_heads(), 0.0);
    for (uint32_t g = 0; g < cache.n_kv_heads(); ++g) {
      const std::byte* k_slab = ks.base + g * ks.slab_bytes;
      kv_dequantize_rows(ks.layout, k_slab, bt, dk, j % bt, 1, row.data());
      double sensitivity = 0.0;
      if (ks.layout == KvLayout::Q8Key) {
        for (uint32_t c = 0; c < dk; ++c) sensitivity += std::fabs(dbl(row[c])) / 254.0;
      } else if (ks.layout == KvLayout::Q4Channel) {
        double scale_max = 0.0;
        double u_sum = 0.0;
        for (uint32_t c = 0; c < dk; ++c) {
          const double s = f16(k_slab, c);
          scale_max = std::max(scale_max, s);
          u_sum += s > 0.0 ? std::round((dbl(row[c]) - f16(k_slab, dk + c)) / s) : 0.0;
        }
        sensitivity = scale_max * u_sum / 254.0;
      }
      r.key_sensitivity.back()[g] = sensitivity;
      if (vs.layout == KvLayout::Q8Token || vs.layout == KvLayout::Q4Token) {
        r.value_scale.back()[g] = f16(vs.base + g * vs.slab_bytes, j % bt);
        r.value_int_max = vs.layout == KvLayout::Q8Token ? 127.0 : 8.0;
      }
    }
  }
  return r;
}

// The bound of IntegerPathWithinItsRoundingBound for head h (KV head g) of
// the query at `pos`, on the held K/V.
double integer_path_bound(const AttentionParams& p, const std::vector<float>& q,
                          const std::vector<std::vector<float>>& k, const std::vector<std::vector<float>>& v,
                          const IntegerRounding& r, uint32_t pos, uint32_t h, uint32_t g) {
  const float* qh = q.data() + size_t{h} * p.head_dim_k;
  double q_max = 0.0;
  for (uint32_t c = 0; c < p.head_dim_k; ++c) q_max = std::max(q_max, std::fabs(dbl(qh[c])));
  double delta = 0.0;  // largest score error
  std::vector<double> s(pos + 1);
  double m = -std::numeric_limits<double>::infinity();
  const uint32_t first = first_visible(p, pos);
  for (uint32_t j = 0; j <= pos; ++j) {
    double dot = 0.0;
    for (uint32_t c = 0; c < p.head_dim_k; ++c) dot += dbl(qh[c]) * dbl(k[j][g * p.head_dim_k + c]);
    s[j] = j < first ? -std::numeric_limits<double>::infinity() : dot * dbl(p.scale);
    m = std::max(m, s[j]);
    if (j >= first) delta = std::max(delta, dbl(p.scale) * q_max * r.key_sensitivity[j][g]);
  }
  double sum = 0.0;
  for (double& x : s) sum += (x = std::exp(x - m));
  double v_max = 0.0;
  for (uint32_t j = 0; j <= pos; ++j) {
    for (uint32_t d = 0; d < p.head_dim_v; ++d) v_max = std::max(v_max, std::fabs(dbl(v[j][g * p.head_dim_v + d])));
  }
  // Weights: per 16-key tile, (keys in it) * W_t / 510 * max|u|, W_t = max p_j s_j.
  double weights = 0.0;
  for (uint32_t t0 = 0; t0 <= pos; t0 += 16) {
    double w_max = 0.0;
    const uint32_t t1 = std::min(pos, t0 + 15);
    for (uint32_t j = t0; j <= t1; ++j) w_max = std::max(w_max, s[j] * r.value_scale[j][g]);
    weights += (t1 - t0 + 1) * w_max / 510.0 * r.value_int_max;
  }
  // The kernel's weights differ from these by the score error: a factor
  // within e^(+-2 delta) on p and on the sum.
  return std::expm1(2.0 * delta) * v_max + std::exp(4.0 * delta) * weights / sum + 2e-5;
}

struct QuantCase {
  KvDtype k;
  KvDtype v;
  uint32_t group;
  uint32_t dk;
  uint32_t dv;
};

// Runs the enclosing scope with quantized K/V read by the portable path
// (dequantized f32 tiles) rather than integer dot products.
struct PortableQuantizedAttention {
  PortableQuantizedAttention() { set_quantized_kv_integer_attention(false); }
  ~PortableQuantizedAttention() { set_quantized_kv_integer_attention(true); }
  PortableQuantizedAttention(const PortableQuantizedAttention&) = delete;
  PortableQuantizedAttention& operator=(const PortableQuantizedAttention&) = delete;
};

// The model's heads at the usual scale 1 / sqrt(dk), with `window`.
AttentionParams attention_params_of(const ModelDesc& d, uint32_t window) {
  return test_support::attention_params(d, 1.0f, window);
}

// Stores a random token of sequence 0 at `pos` in both layers (reserved by
// the caller): K with an outlier channel per head, as real keys have, and V
// of amplitude v_amplitude. Appends what was stored to k_rows / v_rows.
void store_random_token(PagedKvCache& cache, const ModelDesc& d, std::mt19937& rng, uint32_t pos,
                        float v_amplitude, std::vector<std::vector<float>>& k_rows,
                        std::vector<std::vector<float>>& v_rows) {
  std::vector<float> k = random_row(rng, size_t{d.n_kv_heads} * d.head_dim_k, 1.0f);
  for (uint32_t h = 0; h < d.n_kv_heads; ++h) k[h * d.head_dim_k + d.head_dim_k / 2] += 4.0f;
  std::vector<float> v = random_row(rng, size_t{d.n_kv_heads} * d.head_dim_v, v_amplitude);
  for (uint32_t layer = 0; layer < 2; ++layer) cache.store(layer, 0, pos, k.data(), v.data());
  k_rows.push_back(std::move(k));
  v_rows.push_back(std::move(v));
}

TEST(KvQuantAttention, MatchesReferenceOnHeldValuesAndWithinTheErrorBound) {
  const PortableQuantizedAttention portable;
  const std::vector<QuantCase> cases = {
      {KvDtype::BF16, KvDtype::BF16, 2, 64, 64}, {KvDtype::Q8, KvDtype::Q8, 2, 64, 64},
      {KvDtype::Q4, KvDtype::Q4, 2, 64, 64},     {KvDtype::Q8, KvDtype::Q4, 4, 8, 8},
      {KvDtype::Q4, KvDtype::Q8, 1, 128, 128},   {KvDtype::Q4, KvDtype::Q4, 4, 8, 8},
      {KvDtype::Q4, KvDtype::F16, 3, 32, 16},    {KvDtype::F32, KvDtype::Q4, 2, 16, 32},
      // Head dims not multiples of 8: the portable loops.
      {KvDtype::Q8, KvDtype::Q4, 2, 12, 20},     {KvDtype::Q4, KvDtype::BF16, 1, 6, 10}};
  for (const QuantCase& c : cases) {
    SCOPED_TRACE(testing::Message() << "K " << kv_dtype_name(c.k) << " V " << kv_dtype_name(c.v) << " group "
                                    << c.group << " dk " << c.dk << " dv " << c.dv);
    const uint32_t n_kv = 2;
    const ModelDesc d = two_layer_desc(n_kv * c.group, n_kv, c.dk, c.dv);
    KvCacheOptions o;
    o.k_dtype = c.k;
    o.v_dtype = c.v;
    o.block_tokens = 16;
    o.n_blocks = 8;
    PagedKvCache cache(d, o);
    std::mt19937 rng(c.dk * 7 + c.dv + c.group);
    // 45 tokens: two full blocks and a staged (q4 K) partial one. Decode
    // style: one token at a time, so that q4 K blocks fill while queried.
    std::vector<std::vector<float>> exact_k;
    std::vector<std::vector<float>> exact_v;
    const AttentionParams p = attention_params_of(d, 0);
    AttentionScratch scratch(p, o.block_tokens);
    std::vector<float> out(size_t{p.n_heads} * c.dv);
    double worst_held = 0.0;
    double worst_ratio = 0.0;
    for (uint32_t pos = 0; pos < 45; ++pos) {
      ASSERT_TRUE(cache.reserve(0, 1));
      store_random_token(cache, d, rng, pos, 1.0f, exact_k, exact_v);

      const std::vector<float> q = random_row(rng, size_t{p.n_heads} * c.dk, 1.0f);
      paged_attention(p, cache, 1, 0, pos, q.data(), out.data(), scratch);
      const auto held_k = held_rows(cache, 1, 0, true);
      const auto held_v = held_rows(cache, 1, 0, false);
      const std::vector<double> on_held = reference(p, held_k, held_v, pos, q);
      const std::vector<double> on_exact = reference(p, exact_k, exact_v, pos, q);
      double v_max = 0.0;
      for (const auto& row : held_v) {
        for (const float x : row) v_max = std::max(v_max, std::fabs(dbl(x)));
      }
      const double bound = attention_error_bound(p, q, max_abs_difference(held_k, exact_k),
                                                 max_abs_difference(held_v, exact_v), v_max);
      for (size_t i = 0; i < out.size(); ++i) {
        // f32 sums over <= 45 terms of values <= 5, plus the rotation back:
        // a few 1e-7 relative; 2e-5 absolute leaves a wide margin.
        worst_held = std::max(worst_held, std::fabs(dbl(out[i]) - on_held[i]));
        worst_ratio = std::max(worst_ratio, std::fabs(dbl(out[i]) - on_exact[i]) / bound);
      }
    }
    EXPECT_LT(worst_held, 2e-5);
    EXPECT_LE(worst_ratio, 1.0);
  }
}

// Integer attention over q8 / q4 slabs (AVX-512 VNNI, attention_quant_vnni.h)
// against the f64 reference on the values the cache holds. Beyond f32
// arithmetic it rounds (a) the query to int8, step max|x| / 127 of what it
// quantizes (q; for q4 K q * channel scale), so each score moves by at most
// scale * step / 2 * sum_c |u_jc| (u_jc the stored integers of key j), and
// (b) each 16-key tile's weights p_j * s_j (s_j the V row's scale) to u8,
// step W_t / 255 (W_t their max), so the numerator of head h moves by at most
// sum_t 16 * W_t / 510 * max|u| (127 for q8; 8 for q4, read as u - 8). The
// test sums both into a bound per head, with the weights from the reference
// (they differ from the kernel's by the score error, e^(2 delta) at most).
TEST(KvQuantAttention, IntegerPathWithinItsRoundingBound) {
  if (!attention_vnni::usable()) GTEST_SKIP() << "no AVX-512 VNNI on this CPU";
  struct Case {
    KvDtype k;
    KvDtype v;
    uint32_t group;
    uint32_t bt;
    uint32_t dk;
    uint32_t dv;
    uint32_t window = 0;  // sliding window: the first visible key falls inside a tile
  };
  const std::vector<Case> cases = {
      {KvDtype::Q8, KvDtype::Q8, 8, 16, 64, 64},      {KvDtype::Q4, KvDtype::Q4, 4, 16, 64, 64},
      {KvDtype::Q8, KvDtype::Q4, 10, 32, 32, 48},     {KvDtype::Q4, KvDtype::Q8, 3, 16, 128, 80},
      {KvDtype::Q8, KvDtype::F16, 1, 16, 16, 16},     {KvDtype::F16, KvDtype::Q4, 5, 32, 16, 96},
      {KvDtype::Q8, KvDtype::Q8, 4, 32, 64, 64, 21},  {KvDtype::Q4, KvDtype::Q4, 2, 16, 32, 32, 37}};
  for (const Case& c : cases) {
    SCOPED_TRACE(testing::Message() << "K " << kv_dtype_name(c.k) << " V " << kv_dtype_name(c.v) << " group "
                                    << c.group << " bt " << c.bt << " dk " << c.dk << " dv " << c.dv << " window "
                                    << c.window);
    const uint32_t n_kv = 2;
    const ModelDesc d = two_layer_desc(n_kv * c.group, n_kv, c.dk, c.dv, c.window);
    KvCacheOptions o;
    o.k_dtype = c.k;
    o.v_dtype = c.v;
    o.block_tokens = c.bt;
    o.n_blocks = 8;
    PagedKvCache cache(d, o);
    std::mt19937 rng(c.dk * 5 + c.dv + c.group);
    const AttentionParams p = attention_params_of(d, c.window);
    AttentionScratch scratch(p, o.block_tokens);
    std::vector<std::vector<float>> stored_k;
    std::vector<std::vector<float>> stored_v;
    std::vector<float> out(size_t{p.n_heads} * c.dv);
    double worst_ratio = 0.0;
    double worst_error = 0.0;
    for (uint32_t pos = 0; pos < 70; ++pos) {
      ASSERT_TRUE(cache.reserve(0, 1));
      store_random_token(cache, d, rng, pos, static_cast<float>(1 + pos % 3), stored_k, stored_v);
      // Queries of mixed sizes so that some keys dominate and others get tiny weights.
      std::vector<float> q = random_row(rng, size_t{p.n_heads} * c.dk, pos % 2 == 0 ? 1.0f : 4.0f);
      paged_attention(p, cache, 1, 0, pos, q.data(), out.data(), scratch);
      if (pos < 40 && pos % 7 != 6) continue;  // check a sample of positions (the reference is slow)
      const auto held_k = held_rows(cache, 1, 0, true);
      const auto held_v = held_rows(cache, 1, 0, false);
      const std::vector<double> on_held = reference(p, held_k, held_v, pos, q);
      const IntegerRounding rounding = integer_rounding(cache, 1, 0, pos);
      for (uint32_t h = 0; h < p.n_heads; ++h) {
        const uint32_t g = h / c.group;
        const double bound = integer_path_bound(p, q, held_k, held_v, rounding, pos, h, g);
        for (uint32_t dd = 0; dd < c.dv; ++dd) {
          const double error = std::fabs(dbl(out[h * c.dv + dd]) - on_held[h * c.dv + dd]);
          worst_ratio = std::max(worst_ratio, error / bound);
          worst_error = std::max(worst_error, error);
        }
      }
    }
    EXPECT_LE(worst_ratio, 1.0);
    // The rounding shows (the integer path ran): exact f32 would stay below 2e-5.
    EXPECT_GT(worst_error, 2e-5);
  }
}

// --- q4 K staging and pool sizes ----------------------------------------------

TEST(KvQuantCache, PoolBytesFollowTheFormats) {
  const ModelDesc d = two_layer_desc(8, 4, 128, 128);
  KvCacheOptions o;
  o.block_tokens = 16;
  o.n_blocks = 100;
  auto pool = [&](KvDtype k, KvDtype v) {
    o.k_dtype = k;
    o.v_dtype = v;
    return PagedKvCache(d, o).pool_bytes();
  };
  const size_t f16 = pool(KvDtype::F16, KvDtype::F16);
  EXPECT_EQ(f16, 100u * 2 * 2 * 4 * 16 * 128 * 2);
  EXPECT_EQ(pool(KvDtype::BF16, KvDtype::BF16), f16);
  // q8: 130 bytes per 128-value row: 50.8% of f16.
  EXPECT_EQ(pool(KvDtype::Q8, KvDtype::Q8), 100u * 2 * 2 * 4 * 16 * 130);
  // q4: V 68 bytes a row, K 96 (per-channel scales over 16 tokens), plus one
  // staging block of f16 K for the filling block (2 layers x 4 heads x 16 x 128 x 2).
  const size_t staging = 2u * 4 * 16 * 128 * 2;
  EXPECT_EQ(pool(KvDtype::Q4, KvDtype::Q4), 100u * 2 * 4 * 16 * (96 + 68) + staging);
  EXPECT_LT(static_cast<double>(pool(KvDtype::Q4, KvDtype::Q4)) / static_cast<double>(f16), 0.33);
  o.k_dtype = KvDtype::Q8;
  o.v_dtype = KvDtype::Q4;
  EXPECT_EQ(PagedKvCache(d, o).staging_bytes(), 0u);  // only q4 K stages
}

TEST(KvQuantCache, StagingFollowsFillingBlocksOfManySequences) {
  const ModelDesc d = two_layer_desc(2, 1, 8, 8);
  KvCacheOptions o;
  o.k_dtype = KvDtype::Q4;
  o.v_dtype = KvDtype::Q4;
  o.block_tokens = 4;
  o.n_blocks = 32;
  PagedKvCache cache(d, o);
  const size_t one = cache.staging_bytes();
  EXPECT_EQ(one, 2u * 1 * 4 * 8 * 2);
  std::mt19937 rng(9);
  auto append = [&](SeqId seq, uint32_t n) {
    const uint32_t start = cache.sequence_length(seq);
    ASSERT_TRUE(cache.reserve(seq, n));
    for (uint32_t pos = start; pos < start + n; ++pos) {
      const std::vector<float> k = random_row(rng, 8, 1.0f);
      const std::vector<float> v = random_row(rng, 8, 1.0f);
      for (uint32_t layer = 0; layer < 2; ++layer) cache.store(layer, seq, pos, k.data(), v.data());
    }
  };
  append(0, 6);  // block 1 of seq 0 fills
  append(1, 3);  // seq 1's first block fills too: a second staging block
  EXPECT_EQ(cache.staging_bytes(), 2 * one);
  EXPECT_EQ(cache.k_slabs(0, cache.block_table(0, 0)[0]).layout, KvLayout::Q4Channel);  // full: quantized
  EXPECT_EQ(cache.k_slabs(0, cache.block_table(0, 0)[1]).layout, KvLayout::F16);        // filling: staged
  append(0, 2);  // seq 0's block 1 is full: its staging goes back ...
  EXPECT_EQ(cache.k_slabs(0, cache.block_table(0, 0)[1]).layout, KvLayout::Q4Channel);
  append(2, 1);  // ... and serves seq 2: no new staging block
  EXPECT_EQ(cache.staging_bytes(), 2 * one);
  cache.free_sequence(1);  // a partial block freed gives its staging back
  append(3, 2);
  append(0, 1);
  EXPECT_EQ(cache.staging_bytes(), 3 * one);  // seqs 0, 2, 3 fill blocks at once
  EXPECT_EQ(cache.pool_bytes(), 32u * 2 * kv_slab_bytes(KvLayout::Q4Channel, 4, 8) +
                                    32u * 2 * kv_slab_bytes(KvLayout::Q4Token, 4, 8) + 3 * one);
}

TEST(KvQuantCache, PlainDtypeBytes) {
  EXPECT_EQ(kv_dtype_bytes(KvDtype::F32), 4u);
  EXPECT_EQ(kv_dtype_bytes(KvDtype::BF16), 2u);
  EXPECT_THROW(kv_dtype_bytes(KvDtype::Q4), std::invalid_argument);
}

}  // namespace
}  // namespace pocketllm
