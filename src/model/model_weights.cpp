#include "model/model_weights.h"

#include <charconv>
#include <utility>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "backends/cpu/quant/dequantize.h"
#include "util/error.h"

namespace pocketllm {
namespace {

// HF suffixes after "model.layers.N." and their canonical "blk.N." suffixes.
// post_attention_layernorm is handled apart (its meaning depends on the model).
struct LayerName {
  std::string_view hf;
  std::string_view canonical;
};
constexpr LayerName kLayerNames[] = {
    {"input_layernorm.weight", "attn_norm.weight"},
    {"pre_feedforward_layernorm.weight", "ffn_norm.weight"},
    {"post_feedforward_layernorm.weight", "post_ffw_norm.weight"},
    {"self_attn.q_proj.weight", "attn_q.weight"},
    {"self_attn.k_proj.weight", "attn_k.weight"},
    {"self_attn.v_proj.weight", "attn_v.weight"},
    {"self_attn.o_proj.weight", "attn_output.weight"},
    {"self_attn.q_proj.bias", "attn_q.bias"},
    {"self_attn.k_proj.bias", "attn_k.bias"},
    {"self_attn.v_proj.bias", "attn_v.bias"},
    {"self_attn.o_proj.bias", "attn_output.bias"},
    {"self_attn.qkv_proj.weight", "attn_qkv.weight"},
    {"self_attn.qkv_proj.bias", "attn_qkv.bias"},
    {"self_attn.q_norm.weight", "attn_q_norm.weight"},
    {"self_attn.k_norm.weight", "attn_k_norm.weight"},
    {"mlp.gate_proj.weight", "ffn_gate.weight"},
    {"mlp.up_proj.weight", "ffn_up.weight"},
    {"mlp.down_proj.weight", "ffn_down.weight"},
    // Phi-3 stores gate and up as one tensor (gate rows first), as GGUF's ffn_up.
    {"mlp.gate_up_proj.weight", "ffn_up.weight"},
};

std::optional<GgmlType> ggml_type_of(SafetensorsDtype dtype) {
  switch (dtype) {
    case SafetensorsDtype::F32: return GgmlType::F32;
    case SafetensorsDtype::F16: return GgmlType::F16;
    case SafetensorsDtype::BF16: return GgmlType::BF16;
    default: return std::nullopt;
  }
}

std::span<const std::byte> as_bytes(std::span<const uint8_t> data) {
  return {reinterpret_cast<const std::byte*>(data.data()), data.size()};
}

void add_safetensors(const SafetensorsModel& weights, bool post_norms,
                     std::unordered_map<std::string, WeightTensor>& out) {
  for (const SafetensorsTensor* t : weights.tensors()) {
    std::optional<std::string> canonical = hf_to_canonical_name(t->name, post_norms);
    if (!canonical) continue;
    out[*canonical] = WeightTensor{t->name, ggml_type_of(t->dtype),
                                   std::string(safetensors_dtype_name(t->dtype)), t->shape,
                                   as_bytes(t->data)};
  }
}

}  // namespace

std::optional<std::string> hf_to_canonical_name(std::string_view hf_name, bool post_norms) {
  // Multimodal wrappers nest the language model one level down.
  for (std::string_view prefix : {"model.language_model.", "language_model.model."}) {
    if (hf_name.starts_with(prefix)) {
      return hf_to_canonical_name(std::string("model.").append(hf_name.substr(prefix.size())), post_norms);
    }
  }
  if (hf_name == "language_model.lm_head.weight") return "output.weight";
  if (hf_name == "model.embed_tokens.weight") return "token_embd.weight";
  if (hf_name == "model.norm.weight") return "output_norm.weight";
  if (hf_name == "lm_head.weight") return "output.weight";
  constexpr std::string_view kLayers = "model.layers.";
  if (!hf_name.starts_with(kLayers)) return std::nullopt;
  std::string_view rest = hf_name.substr(kLayers.size());
  uint32_t layer = 0;
  auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), layer);
  if (ec != std::errc() || end == rest.data() + rest.size() || *end != '.') return std::nullopt;
  std::string_view suffix = rest.substr(static_cast<size_t>(end - rest.data()) + 1);
  if (suffix == "post_attention_layernorm.weight") {
    return fmt::format("blk.{}.{}", layer, post_norms ? "post_attention_norm.weight" : "ffn_norm.weight");
  }
  for (const LayerName& name : kLayerNames) {
    if (suffix == name.hf) return fmt::format("blk.{}.{}", layer, name.canonical);
  }
  return std::nullopt;
}

ModelWeights::ModelWeights(const ModelSource& source) : source_name_(source.name) {
  const bool post_norms = source.desc && source.desc->post_norms;
  if (source.gguf) {
    const GgufFile& file = *source.gguf;
    for (const GgufTensorInfo& t : file.tensors()) {
      std::vector<uint64_t> shape(t.ne.rbegin(), t.ne.rend());
      tensors_[std::string(t.name)] =
          WeightTensor{std::string(t.name), t.type, std::string(ggml_type_name(t.type)),
                       std::move(shape), as_bytes(file.tensor_data(t))};
    }
  } else if (source.hf && source.hf->weights() != nullptr) {
    add_safetensors(*source.hf->weights(), post_norms, tensors_);
  } else if (source.safetensors) {
    add_safetensors(*source.safetensors, post_norms, tensors_);
  }
  if (tensors_.empty()) throw InputError(source.name + ": the model has no weights to run");
}

bool ModelWeights::has(std::string_view name) const { return find(name) != nullptr; }

const WeightTensor* ModelWeights::find(std::string_view name) const {
  auto it = tensors_.find(std::string(name));
  return it == tensors_.end() ? nullptr : &it->second;
}

const WeightTensor& ModelWeights::require(std::string_view name) const {
  const WeightTensor* tensor = find(name);
  if (tensor == nullptr) throw InputError(fmt::format("{}: tensor '{}': missing", source_name_, name));
  return *tensor;
}

void ModelWeights::fail(const WeightTensor& tensor, std::string_view canonical,
                        const std::string& problem) const {
  if (tensor.file_name == canonical) {
    throw InputError(fmt::format("{}: tensor '{}': {}", source_name_, canonical, problem));
  }
  throw InputError(fmt::format("{}: tensor '{}' ({}): {}", source_name_, tensor.file_name, canonical, problem));
}

void ModelWeights::check_shape(const WeightTensor& tensor, std::string_view canonical,
                               const std::vector<uint64_t>& shape) const {
  if (tensor.shape != shape) {
    fail(tensor, canonical, fmt::format("shape [{}], expected [{}]", fmt::join(tensor.shape, ", "),
                                        fmt::join(shape, ", ")));
  }
}

WeightMatrix ModelWeights::matrix(std::string_view name, uint64_t rows, uint64_t k) const {
  const WeightTensor& t = require(name);
  check_shape(t, name, {rows, k});
  if (!t.type || !MatmulKernels::supports(*t.type)) {
    fail(t, name, fmt::format("type {} has no matmul kernel", t.dtype_name));
  }
  WeightMatrix w;
  w.type = *t.type;
  w.data = t.data.data();
  w.rows = static_cast<int64_t>(rows);
  w.k = static_cast<int64_t>(k);
  if (k % ggml_type_traits(w.type).block_size != 0 || w.row_bytes() * rows != t.data.size()) {
    fail(t, name, fmt::format("{} bytes do not hold [{}, {}] {}", t.data.size(), rows, k, t.dtype_name));
  }
  return w;
}

std::vector<float> ModelWeights::vector_f32(std::string_view name, uint64_t n, float offset) const {
  const WeightTensor& t = require(name);
  check_shape(t, name, {n});
  if (!t.type || !has_dequantizer(*t.type)) fail(t, name, fmt::format("unsupported type {}", t.dtype_name));
  std::vector<float> out(n);
  dequantize_row(*t.type, t.data, out);
  for (float& v : out) v += offset;
  return out;
}

const WeightTensor& ModelWeights::row_table(std::string_view name, uint64_t rows, uint64_t cols) const {
  const WeightTensor& t = require(name);
  check_shape(t, name, {rows, cols});
  if (!t.type || !has_dequantizer(*t.type)) fail(t, name, fmt::format("unsupported type {}", t.dtype_name));
  std::optional<uint64_t> row_bytes = ggml_tensor_bytes(*t.type, cols);
  if (!row_bytes || *row_bytes * rows != t.data.size()) {
    fail(t, name, fmt::format("{} bytes do not hold [{}, {}] {}", t.data.size(), rows, cols, t.dtype_name));
  }
  return t;
}

}  // namespace pocketllm
