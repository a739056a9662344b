// Matmul kernels of every ISA this CPU runs, against the reference
// dequantizer and a double-precision dot product, on random blocks (all
// quant bit patterns, sane scales), with shapes that are not multiples of
// any tile: 37 rows (row tiles 16 and 4), 1 / 5 / 7 / 16 / 37 tokens (token
// tile 4: last tiles of 1 and 3; panels of 16), block
// counts that are odd (paired-block loops) and f32 lengths with tails.
//
// Tolerance per output, stated from the arithmetic:
//  - activation quantization (Q8x32 / Q8_K): each x_i is off by at most
//    amax(block of i) / 254, so |error| <= sum_i |w_i| * amax_b(i) / 254;
//    split in two bf16 (Bf16, for BF16 weights on Avx512Bf16): each x_i is
//    off by at most 2^-16 |x_i|, so |error| <= 2^-16 sum_i |w_i x_i|;
//  - f32 rounding of the sums: at most (k/8 + 64) * 2^-24 * sum_i |w_i x_i|
//    (terms per lane chain plus the horizontal reduction and scale products),
//    with a factor 2 of headroom.
// A wrong nibble, scale or sign moves an output by O(|w_i x_i|), far above this.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <random>
#include <vector>

#include "backends/cpu/matmul/matmul.h"
#include "backends/cpu/matmul/matmul_kernel_table.h"
#include "backends/cpu/matmul/rows8_layout.h"
#include "backends/cpu/quant/activation_quant.h"
#include "backends/cpu/quant/block_formats.h"
#include "backends/cpu/quant/dequantize.h"
#include "backends/cpu/quant/scalar_types.h"
#include "test_matmul_inputs.h"
#include "util/error.h"

namespace pocketllm {
namespace {

const GgmlType kTypes[] = {GgmlType::F32,  GgmlType::F16,  GgmlType::BF16,   GgmlType::Q4_0,
                           GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1,   GgmlType::Q8_0,
                           GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q4_K,   GgmlType::Q5_K,
                           GgmlType::Q6_K, GgmlType::IQ4_NL, GgmlType::IQ4_XS, GgmlType::MXFP4};

// Offsets of the binary16 scale fields in each block (set to sane values
// after the rest of the block is filled with random bytes).
std::vector<size_t> fp16_fields(GgmlType t) {
  switch (t) {
    case GgmlType::Q4_1: case GgmlType::Q5_1: case GgmlType::Q4_K: case GgmlType::Q5_K:
      return {0, 2};
    case GgmlType::Q2_K: return {offsetof(BlockQ2_K, d), offsetof(BlockQ2_K, dmin)};
    case GgmlType::Q3_K: return {offsetof(BlockQ3_K, d)};
    case GgmlType::Q6_K: return {offsetof(BlockQ6_K, d)};
    case GgmlType::MXFP4: return {};
    default: return {0};
  }
}

std::vector<std::byte> random_weights(GgmlType type, int64_t rows, int64_t k, std::mt19937& rng) {
  const GgmlTypeTraits& tr = ggml_type_traits(type);
  const size_t n_blocks = static_cast<size_t>(rows * k) / tr.block_size;
  std::vector<std::byte> w(n_blocks * tr.type_size);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  if (tr.block_size == 1) {
    for (size_t i = 0; i < n_blocks; ++i) {
      const float v = u(rng);
      if (type == GgmlType::F32) std::memcpy(&w[4 * i], &v, 4);
      const uint16_t h = type == GgmlType::F16 ? f32_to_fp16(v) : f32_to_bf16(v);
      if (type != GgmlType::F32) std::memcpy(&w[2 * i], &h, 2);
    }
    return w;
  }
  std::uniform_int_distribution<int> byte(0, 255);
  for (auto& b : w) b = static_cast<std::byte>(byte(rng));
  const auto fields = fp16_fields(type);
  std::uniform_real_distribution<float> scale(0.002f, 0.02f);
  std::uniform_int_distribution<int> exponent(118, 130);
  for (size_t i = 0; i < n_blocks; ++i) {
    std::byte* block = &w[i * tr.type_size];
    for (size_t off : fields) {
      const uint16_t h = f32_to_fp16(scale(rng));
      std::memcpy(block + off, &h, 2);
    }
    if (type == GgmlType::MXFP4) block[0] = static_cast<std::byte>(exponent(rng));
  }
  return w;
}

using test_support::random_activations;

int64_t k_for(GgmlType type) {
  switch (ggml_type_traits(type).block_size) {
    case 1: return 333;     // 20 x 16 + 8 + 5: vector, half-vector and scalar tails
    case 32: return 352;    // 11 blocks: odd
    default: return 768;    // 3 super-blocks: odd
  }
}

// k_for, and for 32-element formats also 640 (20 blocks: an even count).
std::vector<int64_t> k_values(GgmlType type) {
  if (ggml_type_traits(type).block_size == 32) return {k_for(type), 640};
  return {k_for(type)};
}

struct Bound {
  double reference;
  double tolerance;
};

// Double-precision reference and tolerance for Y[t][r].
std::vector<Bound> reference(GgmlType type, ActivationFormat act, const std::vector<std::byte>& w,
                             int64_t rows, int64_t k, const std::vector<float>& x, int64_t n) {
  const size_t row_bytes = static_cast<size_t>(k) / ggml_type_traits(type).block_size *
                           ggml_type_traits(type).type_size;
  const int64_t qblock = act == ActivationFormat::Q8x32 ? 32 : act == ActivationFormat::Q8K ? 256 : 0;
  std::vector<Bound> out(static_cast<size_t>(n * rows));
  std::vector<float> wr(static_cast<size_t>(k));
  for (int64_t r = 0; r < rows; ++r) {
    dequantize_row(type, std::span(w).subspan(static_cast<size_t>(r) * row_bytes, row_bytes), wr);
    for (int64_t t = 0; t < n; ++t) {
      const float* xt = x.data() + t * k;
      double dot = 0, abs_dot = 0, quant_err = 0;
      for (int64_t b0 = 0; b0 < k; b0 += std::max<int64_t>(qblock, 1)) {
        const int64_t len = qblock != 0 ? qblock : 1;
        double amax = 0, wsum = 0;
        for (int64_t i = b0; i < b0 + len; ++i) {
          dot += static_cast<double>(wr[static_cast<size_t>(i)]) * static_cast<double>(xt[i]);
          abs_dot += std::fabs(static_cast<double>(wr[static_cast<size_t>(i)]) * static_cast<double>(xt[i]));
          amax = std::max(amax, std::fabs(static_cast<double>(xt[i])));
          wsum += std::fabs(static_cast<double>(wr[static_cast<size_t>(i)]));
        }
        if (qblock != 0) quant_err += wsum * amax / 254.0;
      }
      if (act == ActivationFormat::Bf16) quant_err = std::ldexp(abs_dot, -16);
      const double rounding = 2.0 * (static_cast<double>(k) / 8 + 64) * std::ldexp(1.0, -24) *
                              (abs_dot + quant_err);
      out[static_cast<size_t>(t * rows + r)] = {dot, quant_err * 1.0001 + rounding};
    }
  }
  return out;
}

// The activation blocks of n tokens for `type`: panels are Q8x32 whatever
// the row format (Q4_K's and Q6_K's panels: a tighter bound than Q8_K's).
ActivationFormat quantized_as(const MatmulKernels& kernels, GgmlType type, int64_t n) {
  return kernels.uses_panels(type, n) ? ActivationFormat::Q8x32 : kernels.activation_format(type);
}

std::vector<MatmulIsa> usable_isas() {
  const SimdFeatures simd = probe_cpu().simd;
  std::vector<MatmulIsa> isas;
  for (MatmulIsa isa : {MatmulIsa::Scalar, MatmulIsa::Avx2, MatmulIsa::AvxVnni, MatmulIsa::Avx512,
                        MatmulIsa::Avx512Bf16, MatmulIsa::Neon, MatmulIsa::NeonDotprod, MatmulIsa::NeonI8mm}) {
    if (matmul_isa_usable(isa, simd)) isas.push_back(isa);
  }
  return isas;
}

// x86 dispatch order, from cpuinfo flags: AVX-512 VNNI (+BF16) first, then
// AVX-VNNI (Alder Lake and later laptop chips: AVX2 + AVX-VNNI, no AVX-512),
// then AVX2; each needs fma and f16c too.
TEST(Matmul, X86DispatchPrefersAvx512ThenAvxVnniThenAvx2) {
#if !defined(__x86_64__)
  GTEST_SKIP() << "x86-64 build only";
#else
  const auto best = [](std::vector<std::string> flags) {
    return best_matmul_isa(simd_features_from_flags(flags));
  };
  EXPECT_EQ(best({"avx2", "fma", "f16c"}), MatmulIsa::Avx2);
  EXPECT_EQ(best({"avx2", "fma", "f16c", "avx_vnni"}), MatmulIsa::AvxVnni);
  EXPECT_EQ(best({"avx2", "f16c", "avx_vnni"}), MatmulIsa::Scalar);
  EXPECT_EQ(best({"avx2", "fma", "f16c", "avx_vnni", "avx512f", "avx512bw", "avx512vl", "avx512_vnni"}),
            MatmulIsa::Avx512);
  EXPECT_EQ(best({"avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16"}),
            MatmulIsa::Avx512Bf16);
  EXPECT_EQ(matmul_isa_name(MatmulIsa::AvxVnni), "avx_vnni");
#endif
}

// The batches of 16 and 37 tokens below reach the panel GEMMs of AVX-512
// VNNI, including the K-quants' (Q4_K, Q6_K: Q8x32 panels against their
// sub-blocks, in both layouts).
TEST(Matmul, Avx512BatchesFromPanelMinTokensTakeThePanelGemm) {
  if (!matmul_isa_usable(MatmulIsa::Avx512, probe_cpu().simd)) GTEST_SKIP() << "no AVX-512 VNNI";
  const MatmulKernels kernels(MatmulIsa::Avx512);
  for (GgmlType type : {GgmlType::Q4_0, GgmlType::Q8_0, GgmlType::Q4_K, GgmlType::Q6_K}) {
    EXPECT_FALSE(kernels.uses_panels(type, kPanelMinTokens - 1)) << ggml_type_name(type);
    EXPECT_TRUE(kernels.uses_panels(type, kPanelMinTokens)) << ggml_type_name(type);
  }
}

TEST(Matmul, EveryIsaAndTypeMatchesReferenceWithinBound) {
  const auto isas = usable_isas();
  std::printf("ISAs tested: ");
  for (MatmulIsa isa : isas) std::printf("%s ", std::string(matmul_isa_name(isa)).c_str());
  std::printf("\n");
  std::mt19937 rng(1234);
  const int64_t rows = 37;
  for (GgmlType type : kTypes) {
    for (const int64_t k : k_values(type)) {
      const auto w_bytes = random_weights(type, rows, k, rng);
      const WeightMatrix w{type, w_bytes.data(), rows, k};
      // 16 and 37 tokens take the panel GEMM where the ISA has one (37: a
      // padded last panel).
      for (int64_t n : {1, 5, 7, 16, 37}) {
        const auto x = random_activations(n, k, rng);
        for (MatmulIsa isa : isas) {
          SCOPED_TRACE(std::string(ggml_type_name(type)) + " k=" + std::to_string(k) + " n=" + std::to_string(n) +
                       " " + std::string(matmul_isa_name(isa)));
          const MatmulKernels kernels(isa);
          const auto ref = reference(type, quantized_as(kernels, type, n), w_bytes, rows, k, x, n);
          std::vector<float> y(static_cast<size_t>(n * rows), -1.0f);
          matmul(kernels, w, x.data(), n, y.data());
          for (size_t i = 0; i < y.size(); ++i) {
            ASSERT_NEAR(y[i], ref[i].reference, ref[i].tolerance) << "output " << i;
          }
        }
      }
    }
  }
}

// Y of the `n` tokens of x, rows [0, rows), computed in the row ranges of
// `cuts` with the activations quantized in two token ranges, as threads
// split the work.
std::vector<float> product_in_pieces(const MatmulKernels& kernels, const WeightMatrix& w, const float* x,
                                     int64_t n, const std::vector<int64_t>& cuts) {
  std::vector<std::byte> scratch(kernels.activation_bytes(w.type, n, w.k));
  const auto a = kernels.describe_activations(w.type, x, n, w.k, scratch);
  MatmulKernels::quantize_tokens(a, 0, n / 2);
  MatmulKernels::quantize_tokens(a, n / 2, n);
  std::vector<float> y(static_cast<size_t>(n * w.rows), 0.0f);
  for (size_t c = 0; c + 1 < cuts.size(); ++c) kernels.multiply_rows(w, a, y.data(), w.rows, cuts[c], cuts[c + 1]);
  return y;
}

void expect_same_bits(const float* a, const float* b, size_t count) {
  for (size_t i = 0; i < count; ++i) {
    ASSERT_EQ(std::bit_cast<uint32_t>(a[i]), std::bit_cast<uint32_t>(b[i])) << i;
  }
}

TEST(Matmul, RowSplitsGiveBitIdenticalResults) {
  std::mt19937 rng(99);
  const int64_t rows = 37;
  for (MatmulIsa isa : usable_isas()) {
    const MatmulKernels kernels(isa);
    for (GgmlType type : kTypes) {
      for (const int64_t k : k_values(type)) {
        const auto w_bytes = random_weights(type, rows, k, rng);
        const WeightMatrix w{type, w_bytes.data(), rows, k};
        // 6 tokens: the row kernels; 37: the panel GEMM where the ISA has one.
        for (const int64_t n : {int64_t{6}, int64_t{37}}) {
          SCOPED_TRACE(std::string(ggml_type_name(type)) + " " + std::string(matmul_isa_name(isa)) +
                       " k=" + std::to_string(k) + " n=" + std::to_string(n));
          const auto x = random_activations(n, k, rng);
          const auto whole = product_in_pieces(kernels, w, x.data(), n, {0, rows});
          for (const std::vector<int64_t>& cuts : {std::vector<int64_t>{0, 1, 36, 37},
                                                   std::vector<int64_t>{0, 5, 21, 22, 37},
                                                   std::vector<int64_t>{0, 19, 37}}) {
            const auto split = product_in_pieces(kernels, w, x.data(), n, cuts);
            expect_same_bits(split.data(), whole.data(), whole.size());
          }
          // A token gives the same bits in another batch on the same path:
          // token 5 alone (row kernels) or as token 3 of a batch of 16
          // (panels: another lane, another batch size).
          const int64_t first = n < kPanelMinTokens ? 5 : 2;
          const int64_t count = n < kPanelMinTokens ? 1 : kPanelMinTokens;
          const auto part = product_in_pieces(kernels, w, x.data() + first * k, count, {0, rows});
          expect_same_bits(part.data() + (5 - first) * rows, whole.data() + 5 * rows, static_cast<size_t>(rows));
        }
      }
    }
  }
}

// A type repacked to the layout an ISA prefers (Rows8: 8-row groups): within
// the same bound as the Gguf rows, bit-identical across row splits that cut
// groups, token splits and batch sizes, and for panels to the Gguf matrix's
// product; the repack is undone exactly.
// 40 rows: 5 groups, not a multiple of the 16-row tile or the 64-row panel
// chunk; every batch of 1 to 37 tokens: token tiles of 1 to 8, and panels
// (from 16) with a padded last one.
class RepackedMatmul : public testing::TestWithParam<GgmlType> {};

TEST_P(RepackedMatmul, MatchesReferenceSplitsAndRoundTrips) {
  const GgmlType type = GetParam();
  std::mt19937 rng(4321);
  const int64_t rows = 40;
  int repacked_isas = 0;
  for (MatmulIsa isa : usable_isas()) {
    const MatmulKernels kernels(isa);
    const WeightLayout layout = kernels.preferred_layout(type, rows);
    EXPECT_EQ(kernels.preferred_layout(type, rows + 1), WeightLayout::Gguf);
    if (layout == WeightLayout::Gguf) continue;
    ++repacked_isas;
    for (const int64_t k : k_values(type)) {
      const auto w_bytes = random_weights(type, rows, k, rng);
      std::vector<std::byte> packed(w_bytes.size());
      const WeightMatrix gguf{type, w_bytes.data(), rows, k};
      MatmulKernels::repack(gguf, layout, packed);
      std::vector<std::byte> unpacked(packed.size());
      const size_t row_bytes = gguf.row_bytes();
      for (int64_t r = 0; r < rows; r += matmul_detail::kRows8) {
        const size_t offset = static_cast<size_t>(r) * row_bytes;
        matmul_detail::deinterleave_rows8(type, reinterpret_cast<const uint8_t*>(packed.data()) + offset, row_bytes,
                                          reinterpret_cast<uint8_t*>(unpacked.data()) + offset);
      }
      ASSERT_TRUE(unpacked == w_bytes) << "k=" << k;
      const WeightMatrix w{type, packed.data(), rows, k, layout};
      for (int64_t n = 1; n <= 37; ++n) {
        SCOPED_TRACE(std::string(matmul_isa_name(isa)) + " k=" + std::to_string(k) + " n=" + std::to_string(n));
        const auto x = random_activations(n, k, rng);
        const auto ref = reference(type, quantized_as(kernels, type, n), w_bytes, rows, k, x, n);
        const auto whole = product_in_pieces(kernels, w, x.data(), n, {0, rows});
        for (size_t i = 0; i < whole.size(); ++i) {
          ASSERT_NEAR(whole[i], ref[i].reference, ref[i].tolerance) << "output " << i;
        }
        for (const std::vector<int64_t>& cuts : {std::vector<int64_t>{0, 1, 39, 40},
                                                 std::vector<int64_t>{0, 5, 21, 22, 40},
                                                 std::vector<int64_t>{0, 19, 40}}) {
          const auto split = product_in_pieces(kernels, w, x.data(), n, cuts);
          expect_same_bits(split.data(), whole.data(), whole.size());
        }
        if (kernels.uses_panels(type, n)) {  // the panel GEMM does the Gguf one's arithmetic
          const auto from_gguf = product_in_pieces(kernels, gguf, x.data(), n, {0, rows});
          expect_same_bits(whole.data(), from_gguf.data(), whole.size());
        } else if (n >= 6) {  // row kernels: token 5 alone gives the same bits
          const auto part = product_in_pieces(kernels, w, x.data() + 5 * k, 1, {0, rows});
          expect_same_bits(part.data(), whole.data() + 5 * rows, static_cast<size_t>(rows));
        }
      }
    }
  }
  std::printf("ISAs with a repacked %s layout: %d\n", std::string(ggml_type_name(type)).c_str(), repacked_isas);
  const int64_t k = ggml_type_traits(type).block_size;
  std::vector<std::byte> in(ggml_type_traits(type).type_size * 37);
  std::vector<std::byte> out(in.size());
  EXPECT_THROW(MatmulKernels::repack({type, in.data(), 37, k}, WeightLayout::Rows8, out), InputError);
}

INSTANTIATE_TEST_SUITE_P(Rows8Types, RepackedMatmul,
                         testing::Values(GgmlType::Q4_0, GgmlType::Q8_0, GgmlType::IQ4_NL, GgmlType::MXFP4,
                                         GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K),
                         [](const testing::TestParamInfo<GgmlType>& param) {
                           return std::string(ggml_type_name(param.param));
                         });

// The Rows8 row kernels take a token through the same arithmetic in a tile
// of 1 (no prefetch), 2 or 3 to 8 tokens (software prefetch, one pass): a
// token alone gives the bits it gets as the second of a batch of 2 or 8 and
// the ninth of 12 (two passes of 6), on 40 rows (not a multiple of 16) cut
// inside groups, and block counts that are odd and not a multiple of 64.
TEST(Matmul, Rows8DecodeTileGivesTheBitsOfLargerTiles) {
  std::mt19937 rng(2024);
  const int64_t rows = 40;
  int checked = 0;
  for (MatmulIsa isa : usable_isas()) {
    const MatmulKernels kernels(isa);
    for (GgmlType type : {GgmlType::Q4_0, GgmlType::Q8_0, GgmlType::IQ4_NL, GgmlType::MXFP4, GgmlType::Q4_K,
                          GgmlType::Q5_K, GgmlType::Q6_K}) {
      // Every x86 ISA has Rows8 kernels for all seven.
      const bool x86 = isa == MatmulIsa::Avx2 || isa == MatmulIsa::AvxVnni || isa == MatmulIsa::Avx512 ||
                       isa == MatmulIsa::Avx512Bf16;
      EXPECT_EQ(kernels.preferred_layout(type, rows) == WeightLayout::Rows8, x86) << matmul_isa_name(isa);
      if (kernels.preferred_layout(type, rows) != WeightLayout::Rows8) continue;
      const int64_t block = ggml_type_traits(type).block_size;
      for (const int64_t k : {block * 3, block * 65}) {
        SCOPED_TRACE(std::string(ggml_type_name(type)) + " " + std::string(matmul_isa_name(isa)) +
                     " k=" + std::to_string(k));
        const auto w_bytes = random_weights(type, rows, k, rng);
        std::vector<std::byte> packed(w_bytes.size());
        MatmulKernels::repack({type, w_bytes.data(), rows, k}, WeightLayout::Rows8, packed);
        const WeightMatrix w{type, packed.data(), rows, k, WeightLayout::Rows8};
        const auto x = random_activations(12, k, rng);
        for (const auto& [batch, token] : {std::pair<int64_t, int64_t>{2, 1}, {8, 1}, {12, 8}}) {
          SCOPED_TRACE("batch " + std::to_string(batch));
          const auto all = product_in_pieces(kernels, w, x.data(), batch, {0, rows});
          const auto alone = product_in_pieces(kernels, w, x.data() + token * k, 1, {0, 5, 21, 40});
          expect_same_bits(alone.data(), all.data() + token * rows, static_cast<size_t>(rows));
        }
        ++checked;
      }
    }
  }
  std::printf("Rows8 decode tiles checked: %d\n", checked);
}

// NeonI8mm has SMMLA kernels for the integer formats (Q8x32 and Q8_K
// activations). They are held to the f64-reference bound above, not to
// NeonDotprod's bits: they sum each block exactly in int32 and then once in
// f32 per output, where SDOT keeps 4 lane sums (RowSplitsGiveBitIdenticalResults:
// a token's bits do not depend on its batch or row split). The float types
// run NeonDotprod's kernel itself; and without i8mm (qemu -cpu neoverse-n1,
// a second CTest run of this file) dispatch picks NeonDotprod.
TEST(Matmul, NeonI8mmUsesSmmlaForIntegerFormatsAndDotprodElsewhere) {
  SimdFeatures simd = probe_cpu().simd;
  std::printf("simd: dotprod %d i8mm %d; best ISA %s\n", simd.dotprod, simd.i8mm,
              std::string(matmul_isa_name(best_matmul_isa(simd))).c_str());
  if (matmul_isa_usable(MatmulIsa::NeonI8mm, simd)) {
    EXPECT_EQ(best_matmul_isa(simd), MatmulIsa::NeonI8mm);
  }
  if (!matmul_isa_usable(MatmulIsa::NeonDotprod, simd)) GTEST_SKIP() << "no Arm dotprod";
  simd.i8mm = false;
  EXPECT_FALSE(matmul_isa_usable(MatmulIsa::NeonI8mm, simd));
  EXPECT_EQ(best_matmul_isa(simd), MatmulIsa::NeonDotprod);
  for (GgmlType type : kTypes) {
    const matmul_detail::TypeKernel i8mm = matmul_detail::neon_i8mm_kernel(type);
    const matmul_detail::TypeKernel dotprod = matmul_detail::neon_dotprod_kernel(type);
    EXPECT_EQ(i8mm.activation, dotprod.activation) << ggml_type_name(type);
    EXPECT_EQ(i8mm.fn == dotprod.fn, dotprod.activation == ActivationFormat::F32) << ggml_type_name(type);
  }
}

// SMMLA pairs tokens (a lone one with itself) and rows: still, each token
// alone gives the bits it gets in a batch of 7 (tiles of 4 + 3, both lanes
// of a pair), for rows in full and partial 4-row tiles.
TEST(Matmul, NeonI8mmTokenBitsDoNotDependOnTheBatch) {
  if (!matmul_isa_usable(MatmulIsa::NeonI8mm, probe_cpu().simd)) GTEST_SKIP() << "no i8mm";
  const MatmulKernels kernels(MatmulIsa::NeonI8mm);
  std::mt19937 rng(7);
  const int64_t rows = 9;
  const int64_t n = 7;
  for (GgmlType type : {GgmlType::Q4_1, GgmlType::Q8_0, GgmlType::Q4_K, GgmlType::Q6_K}) {
    SCOPED_TRACE(ggml_type_name(type));
    const int64_t k = k_for(type);
    const auto w_bytes = random_weights(type, rows, k, rng);
    const WeightMatrix w{type, w_bytes.data(), rows, k};
    const auto x = random_activations(n, k, rng);
    const auto batch = product_in_pieces(kernels, w, x.data(), n, {0, rows});
    for (int64_t t = 0; t < n; ++t) {
      const auto alone = product_in_pieces(kernels, w, x.data() + t * k, 1, {0, rows});
      expect_same_bits(alone.data(), batch.data() + t * rows, static_cast<size_t>(rows));
    }
  }
}

TEST(Matmul, RejectsMismatchedInputs) {
  const MatmulKernels kernels(best_matmul_isa(probe_cpu().simd));
  std::vector<float> x(64, 1.0f);
  std::vector<std::byte> scratch(8);
  EXPECT_THROW((void)kernels.describe_activations(GgmlType::Q4_0, x.data(), 1, 48, {}), InputError);
  if (kernels.activation_format(GgmlType::Q4_0) != ActivationFormat::F32) {
    EXPECT_THROW((void)kernels.describe_activations(GgmlType::Q4_0, x.data(), 1, 64, scratch), InputError);
  }
  EXPECT_THROW((void)kernels.activation_format(GgmlType::IQ2_XXS), InputError);
  EXPECT_FALSE(MatmulKernels::supports(GgmlType::Q8_K));
}

}  // namespace
}  // namespace pocketllm
