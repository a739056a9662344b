#pragma once
// Products of a weight matrix with f32 activations, for every weight type
// that has a reference dequantizer:
//   Y[t][r] = sum_i W[r][i] * X[t][i]   for tokens t < n, rows r
// i.e. Y [n x rows] = X [n x k] · W^T (n = 1 is the decode GEMV). Sums are
// f32. Integer weight formats first quantize X (BlockQ8x32 for 32-element
// blocks, Q8_K for K-quants and IQ4_XS) and use int8 dot products.
//
// Threading contract: prepare the activations once (or split by tokens),
// then split multiply_rows by row ranges. Every Y[t][r] is computed by the
// same instructions whatever the range, so any split gives bit-identical
// results. Nothing here allocates except the convenience `matmul` and, once
// per thread, the row buffer of the Rows8 GEMM (64 rows).
//
// Layout: weights are used in place, in their GGUF block layout (zero copy),
// except where preferred_layout asks for a repack at load time (Q4_0, Q8_0,
// IQ4_NL, MXFP4, Q4_K, Q5_K and Q6_K on AVX-512: 8-row interleaved blocks,
// 2-3x less CPU time per decode GEMV). Batches of kPanelMinTokens or more take the
// activations as token panels (see PreparedActivations), so the GEMM needs
// no weight repack. A token's result can differ in the last bits between a
// batch below and a batch above that size (another summation order), never
// with the thread split.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "backends/cpu/cpu_info.h"
#include "backends/cpu/quant/activation_quant.h"
#include "formats/ggml_types.h"

namespace pocketllm {

// Instruction sets with their own kernels. Scalar dequantizes to f32 and is
// the fallback for types an ISA has no kernel for.
enum class MatmulIsa { Scalar, Avx2, Avx512, Neon, NeonDotprod, NeonI8mm, Avx512Bf16, AvxVnni };
std::string_view matmul_isa_name(MatmulIsa isa);

// Whether this build has kernels for `isa` and `simd` can run them.
// Avx2 needs avx2+fma+f16c; AvxVnni also avx_vnni (the int8 dot is
// vpdpbusd on 256-bit vectors); Avx512 needs avx512f/bw/vl + avx512_vnni
// (the int8 dot is vpdpbusd); Avx512Bf16 is Avx512 plus avx512_bf16
// (BF16 weights by vdpbf16ps against activations split in two bf16, hi + lo,
// twice per product; the other types take the Avx512 kernels; first choice
// of best_matmul_isa where usable); Neon needs an aarch64 build, NeonDotprod
// also dotprod (SDOT), NeonI8mm dotprod and i8mm (SMMLA for the integer
// formats, the NeonDotprod kernels for f32 / f16 / bf16).
bool matmul_isa_usable(MatmulIsa isa, const SimdFeatures& simd);
MatmulIsa best_matmul_isa(const SimdFeatures& simd);

// Bf16: each x split in two bf16, hi + lo (split_row_bf16), per token 32 hi
// then 32 lo per 32 elements, zero-padded: 64 * ceil(k / 32) uint16;
// hi + lo within 2^-16 |x| of x per element.
enum class ActivationFormat { F32, Q8x32, Q8K, Bf16 };

// How a matrix's blocks are ordered. Gguf: row after row, as in the file.
// Rows8 (Q4_0, Q8_0, IQ4_NL, MXFP4, Q4_K, Q5_K and Q6_K, where preferred_layout says
// so): rows in groups of 8 with their blocks interleaved (rows8_layout.h),
// same size; made at load time by MatmulKernels::repack, so that the decode
// GEMV takes 8 rows per vector.
enum class WeightLayout { Gguf, Rows8 };

// W [rows x k]: `rows` rows of k elements of `type`, each row_bytes() long,
// back to back (a GGUF 2-D tensor; ne0 = k). k is a multiple of the block size.
struct WeightMatrix {
  GgmlType type = GgmlType::F32;
  const std::byte* data = nullptr;
  int64_t rows = 0;
  int64_t k = 0;
  WeightLayout layout = WeightLayout::Gguf;
  size_t row_bytes() const;
};

// X [n x k] f32 row-major, and its quantized form when the kernel wants one:
// n rows of row_bytes each (k/32 BlockQ8x32, k/256 BlockQ8_K or a bf16 split), or, where
// the ISA has a GEMM micro-kernel for the weight type and n >= kPanelMinTokens,
// ceil(n / 16) panels of k/32 Q8x32PanelBlock (16 tokens side by side; the
// padding lanes of the last panel zeroed) instead of rows.
struct PreparedActivations {
  ActivationFormat format = ActivationFormat::F32;
  int64_t n = 0;
  int64_t k = 0;
  const float* f32 = nullptr;
  const std::byte* quantized = nullptr;
  size_t row_bytes = 0;
  bool panels = false;  // `quantized` holds panels, not rows
};

// Batches from this many tokens use the panel GEMM where it exists. Below it
// the row kernels do less work (a panel computes 16 lanes whatever n is).
inline constexpr int64_t kPanelMinTokens = 16;

class MatmulKernels {
 public:
  explicit MatmulKernels(MatmulIsa isa);
  MatmulIsa isa() const { return isa_; }

  // True for types with a reference dequantizer.
  static bool supports(GgmlType type);
  ActivationFormat activation_format(GgmlType weight_type) const;
  // Whether X of n tokens for `weight_type` is prepared as token panels.
  bool uses_panels(GgmlType weight_type, int64_t n) const;
  static int64_t panel_count(int64_t n) { return (n + kPanelTokens - 1) / kPanelTokens; }
  // Scratch bytes that prepare_activations needs (0 for F32).
  size_t activation_bytes(GgmlType weight_type, int64_t n, int64_t k) const;

  // Describes X for weights of `weight_type`, with `scratch` (at least
  // activation_bytes) as the quantized rows; then quantize_tokens fills rows
  // [token_begin, token_end) — the whole range, or split among threads.
  // Throws InputError on a type without kernels, k not a multiple of the
  // block size, or scratch too small.
  PreparedActivations describe_activations(GgmlType weight_type, const float* x, int64_t n,
                                           int64_t k, std::span<std::byte> scratch) const;
  static void quantize_tokens(const PreparedActivations& a, int64_t token_begin, int64_t token_end);

  // The layout this ISA multiplies fastest for a matrix of `type` with `rows`
  // rows (Gguf unless a repack is measured faster).
  WeightLayout preferred_layout(GgmlType type, int64_t rows) const;
  // Writes w (Gguf layout) in `layout` to `out` (w's size; not overlapping w).
  static void repack(const WeightMatrix& w, WeightLayout layout, std::span<std::byte> out);

  // Y[t][r] (at y[t * ldy + r]) for all t < a.n and r in [row_begin, row_end).
  void multiply_rows(const WeightMatrix& w, const PreparedActivations& a, float* y, int64_t ldy,
                     int64_t row_begin, int64_t row_end) const;

 private:
  MatmulIsa isa_;
};

// Single-threaded Y [n x w.rows] = X [n x w.k] · W^T with a temporary
// scratch buffer (tests, tools).
void matmul(const MatmulKernels& kernels, const WeightMatrix& w, const float* x, int64_t n, float* y);

}  // namespace pocketllm
