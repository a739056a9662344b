#include "backends/cpu/matmul/matmul.h"

#include <algorithm>
#include <string>
#include <vector>

#include "backends/cpu/matmul/matmul_kernel_table.h"
#include "backends/cpu/matmul/rows8_layout.h"
#include "backends/cpu/quant/activation_quant.h"
#include "backends/cpu/quant/dequantize.h"
#include "util/error.h"

namespace pocketllm {

using matmul_detail::TypeKernel;

std::string_view matmul_isa_name(MatmulIsa isa) {
  switch (isa) {
    case MatmulIsa::Scalar: return "scalar";
    case MatmulIsa::Avx2: return "avx2";
    case MatmulIsa::Avx512: return "avx512";
    case MatmulIsa::Neon: return "neon";
    case MatmulIsa::NeonDotprod: return "neon_dotprod";
    case MatmulIsa::NeonI8mm: return "neon_i8mm";
    case MatmulIsa::Avx512Bf16: return "avx512_bf16";
    case MatmulIsa::AvxVnni: return "avx_vnni";
  }
  return "?";
}

bool matmul_isa_usable(MatmulIsa isa, const SimdFeatures& simd) {
  (void)simd;  // unused where no ISA here has kernels
  switch (isa) {
    case MatmulIsa::Scalar: return true;
#if defined(__x86_64__)
    case MatmulIsa::Avx2: return simd.avx2 && simd.fma && simd.f16c;
    case MatmulIsa::AvxVnni: return matmul_isa_usable(MatmulIsa::Avx2, simd) && simd.avx_vnni;
    case MatmulIsa::Avx512:
      return simd.avx2 && simd.fma && simd.f16c && simd.avx512f && simd.avx512bw &&
             simd.avx512vl && simd.avx512_vnni;
    case MatmulIsa::Avx512Bf16: return matmul_isa_usable(MatmulIsa::Avx512, simd) && simd.avx512_bf16;
#else
    case MatmulIsa::Avx2:
    case MatmulIsa::AvxVnni:
    case MatmulIsa::Avx512:
    case MatmulIsa::Avx512Bf16: return false;
#endif
#if defined(__aarch64__)
    case MatmulIsa::Neon: return true;  // Advanced SIMD is mandatory on aarch64
    case MatmulIsa::NeonDotprod: return simd.dotprod;
    case MatmulIsa::NeonI8mm: return simd.dotprod && simd.i8mm;
#else
    case MatmulIsa::Neon:
    case MatmulIsa::NeonDotprod:
    case MatmulIsa::NeonI8mm: return false;
#endif
  }
  return false;
}

MatmulIsa best_matmul_isa(const SimdFeatures& simd) {
  for (MatmulIsa isa : {MatmulIsa::Avx512Bf16, MatmulIsa::Avx512, MatmulIsa::AvxVnni, MatmulIsa::Avx2,
                        MatmulIsa::NeonI8mm, MatmulIsa::NeonDotprod, MatmulIsa::Neon}) {
    if (matmul_isa_usable(isa, simd)) return isa;
  }
  return MatmulIsa::Scalar;
}

size_t WeightMatrix::row_bytes() const {
  const GgmlTypeTraits& t = ggml_type_traits(type);
  return static_cast<size_t>(k) / t.block_size * t.type_size;
}

namespace {

TypeKernel kernel_for(MatmulIsa isa, GgmlType type) {
  TypeKernel k;
  switch (isa) {
    case MatmulIsa::Scalar: break;
    case MatmulIsa::Avx2: k = matmul_detail::avx2_kernel(type); break;
    case MatmulIsa::AvxVnni: k = matmul_detail::avx_vnni_kernel(type); break;
    case MatmulIsa::Avx512: k = matmul_detail::avx512_kernel(type); break;
    case MatmulIsa::Neon: k = matmul_detail::neon_kernel(type); break;
    case MatmulIsa::NeonDotprod: k = matmul_detail::neon_dotprod_kernel(type); break;
    case MatmulIsa::NeonI8mm: k = matmul_detail::neon_i8mm_kernel(type); break;
    case MatmulIsa::Avx512Bf16: k = matmul_detail::avx512_bf16_kernel(type); break;
  }
  return k.fn != nullptr ? k : matmul_detail::scalar_kernel(type);
}

size_t activation_row_bytes(ActivationFormat format, int64_t k) {
  switch (format) {
    case ActivationFormat::F32: return 0;
    case ActivationFormat::Q8x32: return static_cast<size_t>(k / kQK32) * sizeof(BlockQ8x32);
    case ActivationFormat::Q8K: return static_cast<size_t>(k / kQKK) * sizeof(BlockQ8_K);
    case ActivationFormat::Bf16:
      return static_cast<size_t>((k + kBf16SplitLanes - 1) / kBf16SplitLanes * 2 * kBf16SplitLanes) *
             sizeof(uint16_t);
  }
  return 0;
}

void check_type(GgmlType type) {
  if (!MatmulKernels::supports(type)) {
    throw InputError("no matmul kernel for tensor type " + std::string(ggml_type_name(type)));
  }
}

}  // namespace

MatmulKernels::MatmulKernels(MatmulIsa isa) : isa_(isa) {}

bool MatmulKernels::supports(GgmlType type) { return type != GgmlType::Q8_K && has_dequantizer(type); }

ActivationFormat MatmulKernels::activation_format(GgmlType weight_type) const {
  check_type(weight_type);
  return kernel_for(isa_, weight_type).activation;
}

bool MatmulKernels::uses_panels(GgmlType weight_type, int64_t n) const {
  check_type(weight_type);
  return n >= kPanelMinTokens && kernel_for(isa_, weight_type).panels;
}

constexpr size_t kPanelAlignment = 64;

size_t MatmulKernels::activation_bytes(GgmlType weight_type, int64_t n, int64_t k) const {
  if (uses_panels(weight_type, n)) {
    // + room to start the panels on a cache line (their 64-byte loads then never split one).
    return static_cast<size_t>(panel_count(n)) * static_cast<size_t>(k / kQK32) * sizeof(Q8x32PanelBlock) +
           kPanelAlignment - 1;
  }
  return static_cast<size_t>(n) * activation_row_bytes(activation_format(weight_type), k);
}

PreparedActivations MatmulKernels::describe_activations(GgmlType weight_type, const float* x,
                                                        int64_t n, int64_t k,
                                                        std::span<std::byte> scratch) const {
  const uint32_t block = ggml_type_traits(weight_type).block_size;
  if (k <= 0 || k % block != 0) {
    throw InputError("matmul: k = " + std::to_string(k) + " is not a positive multiple of the " +
                     std::string(ggml_type_name(weight_type)) + " block size " + std::to_string(block));
  }
  PreparedActivations a;
  a.format = activation_format(weight_type);
  a.n = n;
  a.k = k;
  a.f32 = x;
  a.row_bytes = activation_row_bytes(a.format, k);
  a.panels = uses_panels(weight_type, n);
  if (a.format != ActivationFormat::F32) {
    const size_t need = activation_bytes(weight_type, n, k);
    if (scratch.size() < need) {
      throw InputError("matmul: activation scratch of " + std::to_string(scratch.size()) +
                       " bytes, need " + std::to_string(need));
    }
    a.quantized = scratch.data();
    if (a.panels) {
      const auto misalignment = reinterpret_cast<uintptr_t>(scratch.data()) % kPanelAlignment;
      a.quantized += misalignment == 0 ? 0 : kPanelAlignment - misalignment;
    }
  }
  return a;
}

void MatmulKernels::quantize_tokens(const PreparedActivations& a, int64_t token_begin,
                                    int64_t token_end) {
  // The scratch behind a.quantized was handed in writable (describe_activations).
  auto* out = const_cast<std::byte*>(a.quantized);
  if (a.panels) {
    const int64_t blocks = a.k / kQK32;
    auto* panels = reinterpret_cast<Q8x32PanelBlock*>(out);
    for (int64_t t = token_begin; t < token_end; ++t) {
      quantize_row_q8x32_panel_lane(a.f32 + t * a.k, panels + (t / kPanelTokens) * blocks,
                                    static_cast<int>(t % kPanelTokens), a.k);
    }
    // Whoever quantizes the last token zeroes the padding lanes after it.
    if (token_end == a.n && token_begin < token_end) {
      for (int64_t t = a.n; t < panel_count(a.n) * kPanelTokens; ++t) {
        clear_q8x32_panel_lane(panels + (t / kPanelTokens) * blocks, static_cast<int>(t % kPanelTokens), a.k);
      }
    }
    return;
  }
  for (int64_t t = token_begin; t < token_end; ++t) {
    const float* x = a.f32 + t * a.k;
    std::byte* row = out + static_cast<size_t>(t) * a.row_bytes;
    switch (a.format) {
      case ActivationFormat::F32: break;
      case ActivationFormat::Q8x32:
        quantize_row_q8x32(x, reinterpret_cast<BlockQ8x32*>(row), a.k);
        break;
      case ActivationFormat::Q8K:
        quantize_row_q8_k(x, reinterpret_cast<BlockQ8_K*>(row), a.k);
        break;
      case ActivationFormat::Bf16:
        split_row_bf16(x, reinterpret_cast<uint16_t*>(row), a.k);
        break;
    }
  }
}

WeightLayout MatmulKernels::preferred_layout(GgmlType type, int64_t rows) const {
  const bool rows8 = rows % matmul_detail::kRows8 == 0 && kernel_for(isa_, type).rows8 != nullptr;
  return rows8 ? WeightLayout::Rows8 : WeightLayout::Gguf;
}

void MatmulKernels::repack(const WeightMatrix& w, WeightLayout layout, std::span<std::byte> out) {
  const size_t row_bytes = w.row_bytes();
  if (w.layout != WeightLayout::Gguf || out.size() != row_bytes * static_cast<size_t>(w.rows)) {
    throw InputError("matmul: repack needs a Gguf-layout matrix and an output of its size");
  }
  const auto* src = reinterpret_cast<const uint8_t*>(w.data);
  auto* dst = reinterpret_cast<uint8_t*>(out.data());
  switch (layout) {
    case WeightLayout::Gguf: std::copy(src, src + out.size(), dst); return;
    case WeightLayout::Rows8:
      if (!matmul_detail::has_rows8_layout(w.type) || w.rows % matmul_detail::kRows8 != 0) {
        throw InputError("matmul: Rows8 needs Q4_0, Q8_0, IQ4_NL, MXFP4, Q4_K, Q5_K or Q6_K with a multiple of 8 rows");
      }
      for (int64_t r = 0; r < w.rows; r += matmul_detail::kRows8) {
        const size_t offset = static_cast<size_t>(r) * row_bytes;
        matmul_detail::interleave_rows8(w.type, src + offset, row_bytes, dst + offset);
      }
      return;
  }
}

void MatmulKernels::multiply_rows(const WeightMatrix& w, const PreparedActivations& a, float* y,
                                  int64_t ldy, int64_t row_begin, int64_t row_end) const {
  const TypeKernel k = kernel_for(isa_, w.type);
  if (k.fn == nullptr || k.activation != a.format || a.k != w.k || (a.panels && !k.panels)) {
    throw InputError("matmul: activations were not prepared for this " +
                     std::string(ggml_type_name(w.type)) + " matrix");
  }
  const matmul_detail::MultiplyRowsFn fn = w.layout == WeightLayout::Rows8 ? k.rows8 : k.fn;
  if (fn == nullptr) throw InputError("matmul: no kernel for this weight layout on " + std::string(matmul_isa_name(isa_)));
  if (row_begin < row_end) fn(w, a, y, ldy, row_begin, row_end);
}

void matmul(const MatmulKernels& kernels, const WeightMatrix& w, const float* x, int64_t n, float* y) {
  std::vector<std::byte> scratch(kernels.activation_bytes(w.type, n, w.k));
  const PreparedActivations a = kernels.describe_activations(w.type, x, n, w.k, scratch);
  MatmulKernels::quantize_tokens(a, 0, n);
  kernels.multiply_rows(w, a, y, w.rows, 0, w.rows);
}

}  // namespace pocketllm
