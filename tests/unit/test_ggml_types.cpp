// The ggml type table against ggml's own definitions: the enum values of
// ggml.h and the block structs of ggml-common.h, whose sizes are restated here
// field by field (e.g. block_q4_K = f16 d + f16 dmin + scales[12] + qs[128]).
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "formats/ggml_types.h"

namespace pocketllm {
namespace {

constexpr uint32_t QK_K = 256;  // super-block of the k-quants and i-quants
constexpr uint32_t f16 = 2;     // ggml_half

struct Expected {
  uint32_t id;
  const char* name;
  uint32_t block_size;
  uint32_t type_size;
  bool supported;
};

// Sizes written as the sums of the struct fields in ggml-common.h.
const Expected kExpected[] = {
    {0, "F32", 1, 4, true},
    {1, "F16", 1, 2, true},
    {2, "Q4_0", 32, f16 + 32 / 2, true},                                  // d, qs[16]
    {3, "Q4_1", 32, 2 * f16 + 32 / 2, true},                              // d, m, qs[16]
    {6, "Q5_0", 32, f16 + 4 + 32 / 2, true},                              // d, qh[4], qs[16]
    {7, "Q5_1", 32, 2 * f16 + 4 + 32 / 2, true},                          // d, m, qh[4], qs[16]
    {8, "Q8_0", 32, f16 + 32, true},                                      // d, qs[32]
    {9, "Q8_1", 32, 2 * f16 + 32, false},                                 // d, s, qs[32]
    {10, "Q2_K", QK_K, QK_K / 16 + QK_K / 4 + 2 * f16, true},             // scales, qs, d, dmin
    {11, "Q3_K", QK_K, QK_K / 8 + QK_K / 4 + 12 + f16, true},             // hmask, qs, scales, d
    {12, "Q4_K", QK_K, 2 * f16 + 12 + QK_K / 2, true},                    // d, dmin, scales, qs
    {13, "Q5_K", QK_K, 2 * f16 + 12 + QK_K / 8 + QK_K / 2, true},         // d, dmin, scales, qh, qs
    {14, "Q6_K", QK_K, QK_K / 2 + QK_K / 4 + QK_K / 16 + f16, true},      // ql, qh, scales, d
    {15, "Q8_K", QK_K, 4 + QK_K + 2 * (QK_K / 16), true},                 // f32 d, qs, i16 bsums
    {16, "IQ2_XXS", QK_K, f16 + 2 * (QK_K / 8), false},                   // d, u16 qs[32]
    {17, "IQ2_XS", QK_K, f16 + 2 * (QK_K / 8) + QK_K / 32, false},        // d, u16 qs, scales
    {18, "IQ3_XXS", QK_K, f16 + 3 * QK_K / 8, false},                     // d, qs[96]
    {19, "IQ1_S", QK_K, f16 + QK_K / 8 + 2 * (QK_K / 32), false},         // d, qs, u16 qh
    {20, "IQ4_NL", 32, f16 + 32 / 2, true},                               // d, qs[16]
    {21, "IQ3_S", QK_K, f16 + QK_K / 4 + QK_K / 32 + QK_K / 8 + QK_K / 64, false},  // d, qs, qh, signs, scales
    {22, "IQ2_S", QK_K, f16 + QK_K / 4 + QK_K / 32 + QK_K / 32, false},   // d, qs, qh, scales
    {23, "IQ4_XS", QK_K, f16 + 2 + QK_K / 64 + QK_K / 2, true},           // d, scales_h, scales_l, qs
    {24, "I8", 1, 1, true},
    {25, "I16", 1, 2, true},
    {26, "I32", 1, 4, true},
    {27, "I64", 1, 8, true},
    {28, "F64", 1, 8, true},
    {29, "IQ1_M", QK_K, QK_K / 8 + QK_K / 16 + QK_K / 32, false},         // qs, qh, scales
    {30, "BF16", 1, 2, true},
    {34, "TQ1_0", QK_K, (QK_K - 4 * QK_K / 64) / 5 + QK_K / 64 + f16, false},  // qs, qh, d
    {35, "TQ2_0", QK_K, QK_K / 4 + f16, false},                           // qs, d
    {39, "MXFP4", 32, 1 + 32 / 2, true},                                  // e8m0 e, qs[16]
};

TEST(GgmlTypes, EveryTypeMatchesGgmlBlockStructs) {
  for (const Expected& e : kExpected) {
    SCOPED_TRACE(e.name);
    const GgmlTypeTraits* t = ggml_type_traits(e.id);
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(static_cast<uint32_t>(t->type), e.id);
    EXPECT_EQ(t->name, e.name);
    EXPECT_EQ(t->block_size, e.block_size);
    EXPECT_EQ(t->type_size, e.type_size);
    EXPECT_EQ(t->supported, e.supported);
    EXPECT_EQ(&ggml_type_traits(t->type), t);
    EXPECT_EQ(ggml_type_name(t->type), e.name);
  }
}

TEST(GgmlTypes, WellKnownBlockBytes) {
  // Figures quoted in llama.cpp's quantization docs and bits-per-weight tables.
  EXPECT_EQ(ggml_type_traits(GgmlType::Q4_K).type_size, 144u);  // 4.5 bpw
  EXPECT_EQ(ggml_type_traits(GgmlType::Q6_K).type_size, 210u);  // 6.5625 bpw
  EXPECT_EQ(ggml_type_traits(GgmlType::Q2_K).type_size, 84u);   // 2.625 bpw
  EXPECT_EQ(ggml_type_traits(GgmlType::TQ1_0).type_size, 54u);  // 1.6875 bpw
  EXPECT_EQ(ggml_type_traits(GgmlType::MXFP4).type_size, 17u);  // 4.25 bpw
}

TEST(GgmlTypes, RemovedAndUndefinedIdsAreUnknown) {
  // Q4_2, Q4_3 and the repacked Q4_0_x_x / IQ4_NL_x_x ids left ggml files.
  for (const uint32_t id : {4u, 5u, 31u, 32u, 33u, 36u, 37u, 38u, 40u, 1000u, 0xffffffffu}) {
    EXPECT_EQ(ggml_type_traits(id), nullptr) << id;
  }
  // Every other id below 40 is a defined type.
  int defined = 0;
  for (uint32_t id = 0; id < 40; ++id) defined += ggml_type_traits(id) != nullptr;
  EXPECT_EQ(defined, 32);
}

TEST(GgmlTypes, NamesRoundTripIgnoringCase) {
  EXPECT_EQ(ggml_type_from_name("Q4_K"), GgmlType::Q4_K);
  EXPECT_EQ(ggml_type_from_name("q4_K"), GgmlType::Q4_K);  // ggml's own spelling
  EXPECT_EQ(ggml_type_from_name("bf16"), GgmlType::BF16);
  EXPECT_EQ(ggml_type_from_name("mxfp4"), GgmlType::MXFP4);
  EXPECT_EQ(ggml_type_from_name("Q4_2"), std::nullopt);
  EXPECT_EQ(ggml_type_from_name(""), std::nullopt);
}

TEST(GgmlTypes, TensorBytes) {
  // A 4096 x 4096 Q4_K matrix: 65536 blocks of 144 bytes.
  EXPECT_EQ(ggml_tensor_bytes(GgmlType::Q4_K, 4096ull * 4096), 65536ull * 144);
  EXPECT_EQ(ggml_tensor_bytes(GgmlType::F32, 10), 40u);
  EXPECT_EQ(ggml_tensor_bytes(GgmlType::BF16, 3), 6u);
  EXPECT_EQ(ggml_tensor_bytes(GgmlType::MXFP4, 64), 34u);
  EXPECT_EQ(ggml_tensor_bytes(GgmlType::Q8_0, 0), 0u);
  EXPECT_EQ(ggml_tensor_bytes(GgmlType::Q4_0, 33), std::nullopt);   // not whole blocks
  EXPECT_EQ(ggml_tensor_bytes(GgmlType::F64, 1ull << 61), std::nullopt);  // 2^64 bytes
  EXPECT_EQ(ggml_tensor_bytes(GgmlType::F64, (1ull << 61) - 1), ((1ull << 61) - 1) * 8);
}

TEST(GgmlTypes, InvalidEnumValueThrows) {
  EXPECT_THROW(ggml_type_traits(static_cast<GgmlType>(4)), std::out_of_range);
}

}  // namespace
}  // namespace pocketllm
