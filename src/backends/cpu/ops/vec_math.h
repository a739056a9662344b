#pragma once
// Scalar building blocks written so that the compiler vectorizes the loops
// that call them (no library calls, no branches): exp with a Cephes
// polynomial, sigmoid from it, and a multiversioning attribute that compiles
// a hot loop for AVX-512 and AVX2 next to the baseline, picked at load time.
#include <bit>
#include <cstdint>

// Each function so marked is built three times on x86-64 (avx512f, avx2,
// baseline) and resolved once through an ifunc: one binary, best code per CPU.
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && \
    !defined(POCKETLLM_NO_TARGET_CLONES)
#define POCKETLLM_SIMD_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define POCKETLLM_SIMD_CLONES
#endif

namespace pocketllm::ops {

// e^x for float within 2 ulp on [-87.3, 88.37]; 0 below (the true value is a
// denormal under 1.2e-38), e^88.37 above (callers subtract a max first).
// Range reduction x = k ln2 + r, |r| <= ln2/2, with ln2 split in two parts so
// that k ln2 is exact; Cephes expf polynomial for e^r; 2^k built in the
// exponent bits.
inline float exp_approx(float x) {
  constexpr float kMax = 88.3762626647949f;
  constexpr float kMin = -87.3365447505531f;
  const float xc = x > kMax ? kMax : (x < kMin ? kMin : x);
  constexpr float kRound = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  const float k = (xc * 1.44269504088896341f + kRound) - kRound;
  const float r = xc - k * 0.693359375f + k * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const auto exponent = static_cast<uint32_t>(static_cast<int32_t>(k) + 127) << 23;
  const float result = p * std::bit_cast<float>(exponent);
  return x < kMin ? 0.0f : result;
}

// 1 / (1 + e^-x); saturates cleanly to 0 and 1.
inline float sigmoid_approx(float x) { return 1.0f / (1.0f + exp_approx(-x)); }

}  // namespace pocketllm::ops
