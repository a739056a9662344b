// Reference dequantizers and activation quantizers.
// External ground truth: ggml itself (tests/data/quant/ggml_dequant_oracle.bin,
// blocks quantized and dequantized by llama.cpp's libggml-base, see
// SOURCES.md), real GGUF files, and blocks whose values follow from the
// format specification by hand.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <vector>

#include "backends/cpu/quant/activation_quant.h"
#include "backends/cpu/quant/activation_quant_kernels.h"
#include "backends/cpu/quant/block_formats.h"
#include "backends/cpu/quant/dequantize.h"
#include "backends/cpu/quant/scalar_types.h"
#include "formats/gguf.h"
#include "util/error.h"

namespace pocketllm {
namespace {

// Dequantized values, indexable by int.
struct Values {
  std::vector<float> v;
  float operator[](int i) const { return v[static_cast<size_t>(i)]; }
};

Values dequant(GgmlType type, const void* bytes, size_t n_bytes, size_t n) {
  Values out{std::vector<float>(n)};
  dequantize_row(type, std::span(static_cast<const std::byte*>(bytes), n_bytes), out.v);
  return out;
}

TEST(ScalarTypes, Fp16KnownValues) {
  EXPECT_EQ(fp16_to_f32(0x3C00), 1.0f);
  EXPECT_EQ(fp16_to_f32(0xC000), -2.0f);
  EXPECT_EQ(fp16_to_f32(0x7BFF), 65504.0f);               // largest finite
  EXPECT_EQ(fp16_to_f32(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT_EQ(fp16_to_f32(0x03FF), std::ldexp(1023.0f, -24));
  EXPECT_EQ(fp16_to_f32(0x0400), std::ldexp(1.0f, -14));  // smallest normal
  EXPECT_TRUE(std::isinf(fp16_to_f32(0xFC00)) && fp16_to_f32(0xFC00) < 0);
  EXPECT_TRUE(std::isnan(fp16_to_f32(0x7E00)));
  EXPECT_EQ(f32_to_fp16(1.0f / 3.0f), 0x3555);  // 0.333251953125, nearest binary16
  EXPECT_EQ(f32_to_fp16(65520.0f), 0x7C00);     // halfway above max rounds to inf
  EXPECT_EQ(f32_to_fp16(std::ldexp(1.5f, -24)), 0x0002);  // tie to even
  EXPECT_EQ(f32_to_fp16(std::ldexp(1.0f, -25)), 0x0000);  // tie to even (zero)
}

TEST(ScalarTypes, Fp16RoundTripsEveryValue) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const auto bits = static_cast<uint16_t>(h);
    const float f = fp16_to_f32(bits);
    if (std::isnan(f)) continue;
    ASSERT_EQ(f32_to_fp16(f), bits) << h;
  }
}

TEST(ScalarTypes, Bf16AndE8m0) {
  EXPECT_EQ(bf16_to_f32(0x3F80), 1.0f);
  EXPECT_EQ(bf16_to_f32(0xC0A0), -5.0f);
  EXPECT_EQ(f32_to_bf16(1.00390625f), 0x3F80);  // 1 + 2^-8 is a tie: to even
  EXPECT_EQ(f32_to_bf16(1.01171875f), 0x3F82);  // 1 + 3*2^-8 is a tie: to even
  EXPECT_EQ(e8m0_to_f32_half(127), 0.5f);       // 2^0, halved
  EXPECT_EQ(e8m0_to_f32_half(130), 4.0f);
  EXPECT_EQ(e8m0_to_f32_half(1), std::ldexp(1.0f, -127));
  EXPECT_EQ(e8m0_to_f32_half(0), std::ldexp(1.0f, -128));
}

TEST(Dequantize, Q4_0FromSpec) {
  BlockQ4_0 b{};
  b.d = f32_to_fp16(0.5f);
  for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  const auto y = dequant(GgmlType::Q4_0, &b, sizeof b, 32);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], static_cast<float>(j - 8) * 0.5f);
    EXPECT_EQ(y[j + 16], static_cast<float>(15 - j - 8) * 0.5f);
  }
}

TEST(Dequantize, Q5_1FromSpec) {
  BlockQ5_1 b{};
  b.d = f32_to_fp16(0.25f);
  b.m = f32_to_fp16(-3.0f);
  const uint32_t qh = 0xF00FA5A5u;
  std::memcpy(b.qh, &qh, 4);
  for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(j | (j << 4));
  const auto y = dequant(GgmlType::Q5_1, &b, sizeof b, 32);
  for (int j = 0; j < 32; ++j) {
    const int q = (j % 16) + (((qh >> j) & 1u) != 0 ? 16 : 0);
    EXPECT_EQ(y[j], static_cast<float>(q) * 0.25f - 3.0f) << j;
  }
}

TEST(Dequantize, Mxfp4IsE2m1TimesPowerOfTwo) {
  // OCP MX: e2m1 magnitudes of codes 0..7, bit 3 the sign; scale 2^(e-127).
  const float e2m1[8] = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f};
  BlockMxfp4 b{};
  b.e = 125;  // 2^-2
  for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  const auto y = dequant(GgmlType::MXFP4, &b, sizeof b, 32);
  for (int j = 0; j < 32; ++j) {
    const int code = j < 16 ? j : 15 - (j - 16);
    const float expect = (code & 8 ? -1.0f : 1.0f) * e2m1[code & 7] * 0.25f;
    EXPECT_EQ(y[j], expect) << j;
  }
}

TEST(Dequantize, Iq4NlUsesTheCodebook) {
  BlockIq4Nl b{};
  b.d = f32_to_fp16(2.0f);
  for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(j | (j << 4));
  const auto y = dequant(GgmlType::IQ4_NL, &b, sizeof b, 32);
  const int book[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
  for (int j = 0; j < 32; ++j) EXPECT_EQ(y[j], 2.0f * static_cast<float>(book[j % 16]));
}

TEST(Dequantize, Q4_KScaleMinPacking) {
  // Group g gets scale 40 + g and min 20 + g (6 bits each), packed as the
  // format says: groups 0..3 in the low 6 bits of bytes g / g+4; groups 4..7
  // as nibbles of byte g+4 with their top 2 bits in bits 6-7 of g-4 / g.
  BlockQ4_K b{};
  b.d = f32_to_fp16(0.125f);
  b.dmin = f32_to_fp16(0.0625f);
  for (int g = 0; g < 8; ++g) {
    const int sc = 40 + g, mn = 20 + g;
    if (g < 4) {
      b.scales[g] = static_cast<uint8_t>(b.scales[g] | sc);
      b.scales[g + 4] = static_cast<uint8_t>(b.scales[g + 4] | mn);
    } else {
      b.scales[g + 4] = static_cast<uint8_t>((sc & 15) | ((mn & 15) << 4));
      b.scales[g - 4] = static_cast<uint8_t>(b.scales[g - 4] | ((sc >> 4) << 6));
      b.scales[g] = static_cast<uint8_t>(b.scales[g] | ((mn >> 4) << 6));
    }
  }
  for (int i = 0; i < 128; ++i) b.qs[i] = static_cast<uint8_t>((i % 16) | ((15 - i % 16) << 4));
  const auto y = dequant(GgmlType::Q4_K, &b, sizeof b, 256);
  for (int e = 0; e < 256; ++e) {
    const int g = e / 32, l = e % 32;
    const uint8_t byte = b.qs[32 * (g / 2) + l];
    const int q = g % 2 == 0 ? (byte & 15) : (byte >> 4);
    EXPECT_EQ(y[e], 0.125f * static_cast<float>(40 + g) * static_cast<float>(q) -
                        0.0625f * static_cast<float>(20 + g))
        << e;
  }
}

struct OracleEntry {
  GgmlType type;
  uint32_t n, rows, row_bytes;
  std::vector<std::byte> blocks;
  std::vector<float> expected;
};

std::vector<OracleEntry> read_oracle() {
  std::ifstream in(std::string(POCKETLLM_TEST_DATA_DIR) + "/quant/ggml_dequant_oracle.bin",
                   std::ios::binary);
  std::vector<OracleEntry> entries;
  uint32_t header[4];
  while (in.read(reinterpret_cast<char*>(header), sizeof header)) {
    OracleEntry e{static_cast<GgmlType>(header[0]), header[1], header[2], header[3], {}, {}};
    e.blocks.resize(static_cast<size_t>(e.rows) * e.row_bytes);
    e.expected.resize(static_cast<size_t>(e.rows) * e.n);
    in.read(reinterpret_cast<char*>(e.blocks.data()), static_cast<std::streamsize>(e.blocks.size()));
    in.read(reinterpret_cast<char*>(e.expected.data()),
            static_cast<std::streamsize>(e.expected.size() * sizeof(float)));
    entries.push_back(std::move(e));
  }
  return entries;
}

TEST(Dequantize, MatchesGgmlBitForBitOnEveryType) {
  const auto entries = read_oracle();
  ASSERT_EQ(entries.size(), 16u);
  for (const auto& e : entries) {
    SCOPED_TRACE(std::string(ggml_type_name(e.type)));
    ASSERT_TRUE(has_dequantizer(e.type));
    for (uint32_t r = 0; r < e.rows; ++r) {
      std::vector<float> out(e.n);
      dequantize_row(e.type, std::span(e.blocks).subspan(size_t{r} * e.row_bytes, e.row_bytes), out);
      for (uint32_t i = 0; i < e.n; ++i) {
        ASSERT_EQ(std::bit_cast<uint32_t>(out[i]),
                  std::bit_cast<uint32_t>(e.expected[size_t{r} * e.n + i]))
            << "row " << r << " element " << i << ": " << out[i] << " vs "
            << e.expected[size_t{r} * e.n + i];
      }
    }
  }
}

TEST(Dequantize, RejectsBadGeometryAndTypes) {
  std::vector<std::byte> bytes(18);
  std::vector<float> out(32);
  EXPECT_THROW(dequantize_row(GgmlType::Q4_0, std::span(bytes).first(17), out), InputError);
  std::vector<float> odd(31);
  EXPECT_THROW(dequantize_row(GgmlType::Q4_0, bytes, odd), InputError);
  EXPECT_THROW(dequantize_row(GgmlType::IQ2_XXS, bytes, out), InputError);
  EXPECT_FALSE(has_dequantizer(GgmlType::TQ1_0));
}

TEST(Dequantize, RealGgufF16AndF32Tensors) {
  // F16 weights of a real llama.cpp-written file: element i of a row is the
  // binary16 at byte 2i of the tensor data; F32 (stories260K) are plain floats.
  const auto f16 = GgufFile::open(std::string(POCKETLLM_TEST_DATA_DIR) + "/gguf/llama-2-tiny-random.gguf");
  const GgufTensorInfo* t = f16.find_tensor("blk.0.attn_q.weight");
  ASSERT_NE(t, nullptr);
  ASSERT_EQ(t->type, GgmlType::F16);
  const auto data = f16.tensor_data(*t);
  const size_t k = t->ne[0];
  std::vector<float> row(k);
  dequantize_row(GgmlType::F16, std::as_bytes(data.subspan(2 * k, 2 * k)), row);
  float sum_sq = 0.0f;
  for (size_t i = 0; i < k; ++i) {
    uint16_t h;
    std::memcpy(&h, data.data() + 2 * k + 2 * i, 2);
    ASSERT_EQ(row[i], fp16_to_f32(h));
    sum_sq += row[i] * row[i];
  }
  EXPECT_GT(sum_sq, 0.0f);  // random weights, not zeros

  const auto f32 = GgufFile::open(std::string(POCKETLLM_TEST_DATA_DIR) + "/../../models/stories260K.gguf");
  const GgufTensorInfo* w = f32.find_tensor("blk.0.ffn_up.weight");
  ASSERT_NE(w, nullptr);
  ASSERT_EQ(w->type, GgmlType::F32);
  const size_t kw = w->ne[0];
  std::vector<float> row32(kw);
  dequantize_row(GgmlType::F32, std::as_bytes(f32.tensor_data(*w).first(4 * kw)), row32);
  std::vector<float> direct(kw);
  std::memcpy(direct.data(), f32.tensor_data(*w).data(), 4 * kw);
  EXPECT_EQ(row32, direct);
}

// Activation quantization: each element within amax / 254 of its input
// (round to nearest with d = amax / 127), sums consistent.
TEST(ActivationQuant, ErrorBoundAndSums) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> x(512);
  for (size_t i = 0; i < x.size(); ++i) x[i] = u(rng) * (i % 64 < 32 ? 0.01f : 3.0f);

  std::vector<BlockQ8x32> q32(x.size() / 32);
  quantize_row_q8x32(x.data(), q32.data(), static_cast<int64_t>(x.size()));
  for (size_t b = 0; b < q32.size(); ++b) {
    float amax = 0.0f;
    for (size_t j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[32 * b + j]));
    int sum = 0;
    for (size_t j = 0; j < 32; ++j) {
      sum += q32[b].qs[j];
      EXPECT_LE(std::fabs(x[32 * b + j] - q32[b].d * q32[b].qs[j]), amax / 254.0f * 1.0001f);
    }
    EXPECT_EQ(q32[b].sum, sum);
  }

  std::vector<BlockQ8_K> qk(x.size() / 256);
  quantize_row_q8_k(x.data(), qk.data(), static_cast<int64_t>(x.size()));
  for (size_t b = 0; b < qk.size(); ++b) {
    float amax = 0.0f;
    for (size_t j = 0; j < 256; ++j) amax = std::max(amax, std::fabs(x[256 * b + j]));
    for (int g = 0; g < 16; ++g) {
      int sum = 0;
      for (int j = 0; j < 16; ++j) {
        const size_t i = 256 * b + 16 * static_cast<size_t>(g) + static_cast<size_t>(j);
        sum += qk[b].qs[16 * g + j];
        EXPECT_LE(std::fabs(x[i] - qk[b].d * qk[b].qs[16 * g + j]), amax / 254.0f * 1.0001f);
      }
      EXPECT_EQ(qk[b].bsums[g], sum);
    }
  }
  // A zero block quantizes to d = 0 and zero quants.
  std::vector<float> zeros(32, 0.0f);
  BlockQ8x32 z{};
  quantize_row_q8x32(zeros.data(), &z, 32);
  EXPECT_EQ(z.d, 0.0f);
  EXPECT_EQ(z.sum, 0);
}

// Ties round away from zero, as ggml's roundf-based quantizers do: with
// amax = 127 the scale is exactly 1 and x.5 values are exact ties.
TEST(ActivationQuant, TiesRoundAwayFromZero) {
  std::vector<float> x(32, 0.0f);
  const float ties[] = {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, 126.5f};
  const int expected[] = {1, 2, 3, -1, -2, -3, 127};
  for (size_t i = 0; i < std::size(ties); ++i) x[i] = ties[i];
  x[31] = 127.0f;
  BlockQ8x32 b{};
  quantize_row_q8x32(x.data(), &b, 32);
  ASSERT_EQ(b.d, 1.0f);
  for (size_t i = 0; i < std::size(ties); ++i) EXPECT_EQ(b.qs[i], expected[i]) << ties[i];
}

// The token-panel layout holds exactly the row quantization of each token,
// element e of block b of token t at qs[e / 4][t][e % 4]; padding lanes zero.
TEST(ActivationQuant, PanelLanesMatchRowQuantization) {
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> u(-2.0f, 2.0f);
  const int64_t k = 96;
  const int tokens = 5;
  std::vector<float> x(static_cast<size_t>(tokens * k));
  for (float& v : x) v = u(rng);
  std::vector<Q8x32PanelBlock> panel(k / 32);
  std::memset(panel.data(), 0x5a, panel.size() * sizeof(Q8x32PanelBlock));
  for (int t = 0; t < tokens; ++t) quantize_row_q8x32_panel_lane(x.data() + t * k, panel.data(), t, k);
  for (int lane = tokens; lane < kPanelTokens; ++lane) clear_q8x32_panel_lane(panel.data(), lane, k);
  for (int t = 0; t < kPanelTokens; ++t) {
    std::vector<BlockQ8x32> rows(k / 32);
    if (t < tokens) quantize_row_q8x32(x.data() + t * k, rows.data(), k);
    for (size_t b = 0; b < rows.size(); ++b) {
      const BlockQ8x32 r = t < tokens ? rows[b] : BlockQ8x32{};
      const Q8x32PanelBlock& p = panel[b];
      EXPECT_EQ(p.d[t], r.d);
      EXPECT_EQ(p.neg128_sum[t], -128 * r.sum);
      EXPECT_EQ(p.d_sum[t], r.d * static_cast<float>(r.sum));
      for (int e = 0; e < 32; ++e) EXPECT_EQ(p.qs[e / 4][t][e % 4], r.qs[e]) << "token " << t << " element " << e;
    }
  }
}

// The AVX-512 quantizers (used where the CPU has them) give the generic
// loops' bits: random blocks of many magnitudes, exact ties, zero blocks,
// a single nonzero element, negative maxima.
TEST(ActivationQuant, Avx512FormsMatchTheGenericOnesBitForBit) {
  using namespace activation_quant_detail;
  if (!avx512_quantizers_usable()) GTEST_SKIP() << "no AVX-512 F/BW/VL on this CPU";
  std::mt19937 rng(23);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::uniform_int_distribution<int> exponent(-20, 12);
  const int64_t n = 256 * 9;
  std::vector<float> x(static_cast<size_t>(n));
  for (size_t i = 0; i < x.size(); ++i) {
    x[i] = std::ldexp(u(rng), exponent(rng) / 4 + static_cast<int>(i / 32 % 7) * 3 - 9);  // blocks of 2^-9 .. 2^12
  }
  // Block 1: exact ties (amax 127 -> scale 1). Block 2: zeros. Block 3: one element. Block 4: negative max.
  for (int j = 0; j < 32; ++j) x[32 + static_cast<size_t>(j)] = static_cast<float>(j - 16) + 0.5f;
  x[32 + 31] = 127.0f;
  for (int j = 0; j < 32; ++j) x[64 + static_cast<size_t>(j)] = 0.0f;
  for (int j = 0; j < 32; ++j) x[96 + static_cast<size_t>(j)] = j == 5 ? -3.0e-3f : 0.0f;
  x[128 + 7] = -40.0f;
  // A Q8_K block of zeros.
  for (size_t j = 0; j < 256; ++j) x[256 * 4 + j] = 0.0f;

  std::vector<BlockQ8x32> a(static_cast<size_t>(n / 32)), b(a.size());
  quantize_row_q8x32_generic(x.data(), a.data(), n);
  quantize_row_q8x32_avx512(x.data(), b.data(), n);
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(std::bit_cast<uint32_t>(a[i].d), std::bit_cast<uint32_t>(b[i].d)) << "block " << i;
    EXPECT_EQ(a[i].sum, b[i].sum) << "block " << i;
    EXPECT_EQ(0, std::memcmp(a[i].qs, b[i].qs, 32)) << "block " << i;
  }
  EXPECT_EQ(b[1].qs[0], -16);  // -15.5 rounds away from zero
  EXPECT_EQ(b[1].qs[16], 1);   // 0.5 too

  std::vector<BlockQ8_K> ka(static_cast<size_t>(n / 256)), kb(ka.size());
  quantize_row_q8_k_generic(x.data(), ka.data(), n);
  quantize_row_q8_k_avx512(x.data(), kb.data(), n);
  for (size_t i = 0; i < ka.size(); ++i) {
    EXPECT_EQ(std::bit_cast<uint32_t>(ka[i].d), std::bit_cast<uint32_t>(kb[i].d)) << "block " << i;
    EXPECT_EQ(0, std::memcmp(ka[i].qs, kb[i].qs, 256)) << "block " << i;
    EXPECT_EQ(0, std::memcmp(ka[i].bsums, kb[i].bsums, sizeof ka[i].bsums)) << "block " << i;
  }
}

}  // namespace
}  // namespace pocketllm
