#pragma once
// Scalar conversions of the small float formats that weights and block scales
// use: IEEE binary16 (F16, the `d`/`dmin` of most blocks), bfloat16 (BF16, the
// top half of an f32) and E8M0 (MXFP4's power-of-two block scale).
#include <bit>
#include <cstdint>

namespace pocketllm {

// binary16: 1 sign, 5 exponent (bias 15), 10 mantissa bits. Exact, incl.
// subnormals, infinities and NaN (payload kept).
constexpr float fp16_to_f32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1Fu;
  uint32_t mantissa = h & 0x3FFu;
  uint32_t bits = 0;
  if (exponent == 0x1F) {
    bits = sign | 0x7F800000u | (mantissa << 13);
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112u) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    bits = sign;
  } else {
    // Subnormal: normalise; value = mantissa * 2^-24.
    uint32_t e = 113;  // exponent field of 2^-14
    while ((mantissa & 0x400u) == 0) {
      mantissa <<= 1;
      --e;
    }
    bits = sign | (e << 23) | ((mantissa & 0x3FFu) << 13);
  }
  return std::bit_cast<float>(bits);
}

// Round to nearest even; overflow gives infinity, NaN stays NaN.
constexpr uint16_t f32_to_fp16(float f) {
  const uint32_t x = std::bit_cast<uint32_t>(f);
  const auto sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  const uint32_t abs = x & 0x7FFFFFFFu;
  if (abs >= 0x7F800000u) {
    return static_cast<uint16_t>(sign | 0x7C00u | (abs > 0x7F800000u ? 0x200u : 0u));
  }
  if (abs >= 0x477FF000u) return static_cast<uint16_t>(sign | 0x7C00u);  // rounds past 65504
  if (abs < 0x38800000u) {
    // Result is subnormal (or zero): value / 2^-24, rounded to nearest even.
    if (abs < 0x33000000u) return sign;  // below half the smallest subnormal
    const uint32_t e = abs >> 23;
    const uint32_t m = (abs & 0x7FFFFFu) | 0x800000u;
    const uint32_t shift = 126u - e;  // 2^-24 unit: m * 2^(e-150) / 2^-24
    uint32_t q = m >> shift;
    const uint32_t rest = m & ((1u << shift) - 1u);
    const uint32_t half = 1u << (shift - 1u);
    if (rest > half || (rest == half && (q & 1u) != 0)) ++q;
    return static_cast<uint16_t>(sign | q);
  }
  uint32_t r = abs - 0x38000000u;  // rebias exponent 127 -> 15 (in place)
  const uint32_t rest = r & 0x1FFFu;
  r >>= 13;
  if (rest > 0x1000u || (rest == 0x1000u && (r & 1u) != 0)) ++r;
  return static_cast<uint16_t>(sign | r);
}

// bfloat16 is the upper 16 bits of an f32.
constexpr float bf16_to_f32(uint16_t b) {
  return std::bit_cast<float>(static_cast<uint32_t>(b) << 16);
}

// Round to nearest even (NaN stays NaN).
constexpr uint16_t f32_to_bf16(float f) {
  const uint32_t x = std::bit_cast<uint32_t>(f);
  if ((x & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((x >> 16) | 0x40u);
  return static_cast<uint16_t>((x + 0x7FFFu + ((x >> 16) & 1u)) >> 16);
}

// E8M0: an 8-bit biased exponent, value 2^(e-127). MXFP4 stores its e2m1
// values doubled (as integers, see kMxfp4Values), so ggml multiplies by half
// the scale: 2^(e-128). e = 0 and 1 give the f32 subnormals 2^-128 and 2^-127.
// (e = 255 is NaN in the OCP spec; ggml reads it as 2^127, and so do we.)
constexpr float e8m0_to_f32_half(uint8_t e) {
  const uint32_t bits = e < 2 ? (0x00200000u << e) : (static_cast<uint32_t>(e - 1) << 23);
  return std::bit_cast<float>(bits);
}

}  // namespace pocketllm
