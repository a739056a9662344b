#include "formats/ggml_types.h"

#include <array>
#include <cctype>
#include <limits>
#include <stdexcept>
#include <string>

namespace pocketllm {
namespace {

// Block geometry of every type in ggml's `type_traits` table (ggml.c), whose
// byte counts are the `block_*` structs of ggml-common.h, e.g.
//   block_q4_0  = f16 d + 16 B nibbles                              = 18 B / 32
//   block_q4_K  = f16 d + f16 dmin + 12 B scales + 128 B nibbles     = 144 B / 256
//   block_q8_K  = f32 d + 256 B quants + 16 x i16 bsums              = 292 B / 256
//   block_mxfp4 = u8 e8m0 exponent + 16 B nibbles                    = 17 B / 32
constexpr std::array kTraits = {
    // type                name       block  bytes  supported
    GgmlTypeTraits{GgmlType::F32, "F32", 1, 4, true},
    GgmlTypeTraits{GgmlType::F16, "F16", 1, 2, true},
    GgmlTypeTraits{GgmlType::Q4_0, "Q4_0", 32, 18, true},
    GgmlTypeTraits{GgmlType::Q4_1, "Q4_1", 32, 20, true},
    GgmlTypeTraits{GgmlType::Q5_0, "Q5_0", 32, 22, true},
    GgmlTypeTraits{GgmlType::Q5_1, "Q5_1", 32, 24, true},
    GgmlTypeTraits{GgmlType::Q8_0, "Q8_0", 32, 34, true},
    // Q8_1 is ggml's activation-side type for dot products; not in model files.
    GgmlTypeTraits{GgmlType::Q8_1, "Q8_1", 32, 36, false},
    GgmlTypeTraits{GgmlType::Q2_K, "Q2_K", 256, 84, true},
    GgmlTypeTraits{GgmlType::Q3_K, "Q3_K", 256, 110, true},
    GgmlTypeTraits{GgmlType::Q4_K, "Q4_K", 256, 144, true},
    GgmlTypeTraits{GgmlType::Q5_K, "Q5_K", 256, 176, true},
    GgmlTypeTraits{GgmlType::Q6_K, "Q6_K", 256, 210, true},
    GgmlTypeTraits{GgmlType::Q8_K, "Q8_K", 256, 292, true},
    GgmlTypeTraits{GgmlType::IQ2_XXS, "IQ2_XXS", 256, 66, false},
    GgmlTypeTraits{GgmlType::IQ2_XS, "IQ2_XS", 256, 74, false},
    GgmlTypeTraits{GgmlType::IQ3_XXS, "IQ3_XXS", 256, 98, false},
    GgmlTypeTraits{GgmlType::IQ1_S, "IQ1_S", 256, 50, false},
    GgmlTypeTraits{GgmlType::IQ4_NL, "IQ4_NL", 32, 18, true},
    GgmlTypeTraits{GgmlType::IQ3_S, "IQ3_S", 256, 110, false},
    GgmlTypeTraits{GgmlType::IQ2_S, "IQ2_S", 256, 82, false},
    GgmlTypeTraits{GgmlType::IQ4_XS, "IQ4_XS", 256, 136, true},
    GgmlTypeTraits{GgmlType::I8, "I8", 1, 1, true},
    GgmlTypeTraits{GgmlType::I16, "I16", 1, 2, true},
    GgmlTypeTraits{GgmlType::I32, "I32", 1, 4, true},
    GgmlTypeTraits{GgmlType::I64, "I64", 1, 8, true},
    GgmlTypeTraits{GgmlType::F64, "F64", 1, 8, true},
    GgmlTypeTraits{GgmlType::IQ1_M, "IQ1_M", 256, 56, false},
    GgmlTypeTraits{GgmlType::BF16, "BF16", 1, 2, true},
    GgmlTypeTraits{GgmlType::TQ1_0, "TQ1_0", 256, 54, false},
    GgmlTypeTraits{GgmlType::TQ2_0, "TQ2_0", 256, 66, false},
    GgmlTypeTraits{GgmlType::MXFP4, "MXFP4", 32, 17, true},
};

// Direct index by on-disk id; ids ggml removed (4, 5, 31-33, 36-38) stay null.
constexpr uint32_t kIdLimit = 40;
constexpr std::array<const GgmlTypeTraits*, kIdLimit> make_index() {
  std::array<const GgmlTypeTraits*, kIdLimit> index{};
  for (const auto& t : kTraits) index[static_cast<uint32_t>(t.type)] = &t;
  return index;
}
constexpr auto kIndex = make_index();

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    const auto ca = static_cast<unsigned char>(a[i]);
    const auto cb = static_cast<unsigned char>(b[i]);
    if (std::toupper(ca) != std::toupper(cb)) return false;
  }
  return true;
}

}  // namespace

const GgmlTypeTraits* ggml_type_traits(uint32_t id) {
  return id < kIdLimit ? kIndex[id] : nullptr;
}

const GgmlTypeTraits& ggml_type_traits(GgmlType type) {
  // Every enumerator has a row (checked by the unit test); only a value cast
  // from an unchecked integer can miss, which is a bug in the caller.
  const GgmlTypeTraits* traits = ggml_type_traits(static_cast<uint32_t>(type));
  if (traits == nullptr) {
    throw std::out_of_range("ggml_type_traits: not a ggml type: " +
                            std::to_string(static_cast<uint32_t>(type)));
  }
  return *traits;
}

std::string_view ggml_type_name(GgmlType type) { return ggml_type_traits(type).name; }

std::optional<GgmlType> ggml_type_from_name(std::string_view name) {
  // ggml itself prints lower case ("q4_K"), gguf-py upper case ("Q4_K").
  for (const auto& t : kTraits) {
    if (equals_ignoring_case(t.name, name)) return t.type;
  }
  return std::nullopt;
}

std::optional<uint64_t> ggml_tensor_bytes(GgmlType type, uint64_t n_elements) {
  const GgmlTypeTraits& t = ggml_type_traits(type);
  if (n_elements % t.block_size != 0) return std::nullopt;
  const uint64_t n_blocks = n_elements / t.block_size;
  if (n_blocks > std::numeric_limits<uint64_t>::max() / t.type_size) return std::nullopt;
  return n_blocks * t.type_size;
}

}  // namespace pocketllm
