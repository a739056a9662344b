#include "model/model_desc_hf.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>

#include <fmt/format.h>

#include "model/architectures.h"
#include "util/error.h"

namespace pocketllm {
namespace {

using nlohmann::json;

// Typed, checked access to the keys of one JSON object. `prefix` makes the
// key names in errors read as paths ("text_config.num_hidden_layers").
class KeyReader {
 public:
  KeyReader(const json& object, std::string source, std::string prefix)
      : object_(object), source_(std::move(source)), prefix_(std::move(prefix)) {}

  [[noreturn]] void fail(std::string_view key, std::string_view problem) const {
    throw InputError(fmt::format("{}: key '{}{}': {}", source_, prefix_, key, problem));
  }

  // nullptr when the key is absent or null.
  const json* get(std::string_view key) const {
    auto it = object_.find(key);
    if (it == object_.end() || it->is_null()) return nullptr;
    return &*it;
  }
  bool has(std::string_view key) const { return get(key) != nullptr; }

  std::optional<uint32_t> opt_uint(std::string_view key) const {
    const json* value = get(key);
    if (value == nullptr) return std::nullopt;
    return to_uint(key, *value);
  }
  uint32_t positive(std::string_view key) const {
    std::optional<uint32_t> value = opt_uint(key);
    if (!value) fail(key, "missing");
    if (*value == 0) fail(key, "must be positive, got 0");
    return *value;
  }
  uint32_t uint_or(std::string_view key, uint32_t fallback) const {
    return opt_uint(key).value_or(fallback);
  }
  std::optional<double> opt_number(std::string_view key) const {
    const json* value = get(key);
    if (value == nullptr) return std::nullopt;
    if (!value->is_number()) fail(key, fmt::format("expected a number, got {}", brief(*value)));
    double number = value->get<double>();
    if (!std::isfinite(number)) fail(key, "must be finite");
    return number;
  }
  double number_or(std::string_view key, double fallback) const {
    return opt_number(key).value_or(fallback);
  }
  double positive_number_or(std::string_view key, double fallback) const {
    double number = number_or(key, fallback);
    if (!(number > 0.0)) fail(key, fmt::format("must be positive, got {}", number));
    return number;
  }
  bool flag_or(std::string_view key, bool fallback) const {
    const json* value = get(key);
    if (value == nullptr) return fallback;
    if (!value->is_boolean()) fail(key, fmt::format("expected true or false, got {}", brief(*value)));
    return value->get<bool>();
  }
  std::optional<std::string> opt_string(std::string_view key) const {
    const json* value = get(key);
    if (value == nullptr) return std::nullopt;
    if (!value->is_string()) fail(key, fmt::format("expected a string, got {}", brief(*value)));
    return value->get<std::string>();
  }
  const json* opt_object(std::string_view key) const {
    const json* value = get(key);
    if (value != nullptr && !value->is_object()) {
      fail(key, fmt::format("expected an object, got {}", brief(*value)));
    }
    return value;
  }
  const json* opt_array(std::string_view key) const {
    const json* value = get(key);
    if (value != nullptr && !value->is_array()) {
      fail(key, fmt::format("expected an array, got {}", brief(*value)));
    }
    return value;
  }

  uint32_t to_uint(std::string_view key, const json& value) const {
    constexpr double kMax = std::numeric_limits<uint32_t>::max();
    if (value.is_number_unsigned()) {
      uint64_t v = value.get<uint64_t>();
      if (v > std::numeric_limits<uint32_t>::max()) fail(key, fmt::format("{} is too large", v));
      return static_cast<uint32_t>(v);
    }
    if (value.is_number_integer()) {
      int64_t v = value.get<int64_t>();
      if (v < 0) fail(key, fmt::format("must not be negative, got {}", v));
      if (v > int64_t{std::numeric_limits<uint32_t>::max()}) fail(key, fmt::format("{} is too large", v));
      return static_cast<uint32_t>(v);
    }
    if (value.is_number_float()) {
      double v = value.get<double>();
      if (std::isfinite(v) && v >= 0.0 && v <= kMax && std::floor(v) == v) {
        return static_cast<uint32_t>(v);
      }
      fail(key, fmt::format("expected a non-negative integer, got {}", v));
    }
    fail(key, fmt::format("expected a non-negative integer, got {}", brief(value)));
  }

  const std::string& source() const { return source_; }
  const std::string& prefix() const { return prefix_; }

 private:
  static std::string brief(const json& value) {
    std::string text = value.dump();
    if (text.size() > 40) text = text.substr(0, 40) + "...";
    return text;
  }

  const json& object_;
  std::string source_;
  std::string prefix_;
};

Activation activation_from(const KeyReader& cfg, const ArchitectureInfo& arch) {
  if (arch.activation == Activation::SwiGLUOaiClamped) return arch.activation;
  // Gemma names it hidden_activation (and keeps hidden_act for old files).
  std::string_view key = cfg.has("hidden_activation") ? "hidden_activation" : "hidden_act";
  std::optional<std::string> name = cfg.opt_string(key);
  if (!name) return arch.activation;
  if (*name == "silu" || *name == "swish") return Activation::SwiGLU;
  if (*name == "gelu_pytorch_tanh" || *name == "gelu_tanh" || *name == "gelu_new" ||
      *name == "gelu") {
    return Activation::GeGLU;
  }
  cfg.fail(key, fmt::format("unsupported activation '{}'", *name));
}

RopeScalingType rope_type_from(const KeyReader& params, std::string_view* key_out) {
  std::string_view key = params.has("rope_type") ? "rope_type" : "type";
  *key_out = key;
  std::string type = params.opt_string(key).value_or("default");
  if (type == "default") return RopeScalingType::None;
  if (type == "linear") return RopeScalingType::Linear;
  if (type == "llama3") return RopeScalingType::Llama3;
  if (type == "yarn") return RopeScalingType::Yarn;
  params.fail(key, fmt::format("unsupported RoPE type '{}'", type));
}

// Reads one set of RoPE parameters: theta, type and the type's own keys.
void read_rope_params(const KeyReader& params, RopeDesc& rope) {
  rope.theta = params.positive_number_or("rope_theta", rope.theta);
  std::string_view type_key;
  rope.scaling = rope_type_from(params, &type_key);
  if (rope.scaling == RopeScalingType::None) return;
  rope.factor = params.positive_number_or("factor", 1.0);
  rope.original_context = params.uint_or("original_max_position_embeddings", 0);
  if (rope.scaling == RopeScalingType::Llama3) {
    rope.low_freq_factor = params.positive_number_or("low_freq_factor", 1.0);
    rope.high_freq_factor = params.positive_number_or("high_freq_factor", 4.0);
    if (rope.original_context == 0) params.fail("original_max_position_embeddings", "missing");
  }
  if (rope.scaling == RopeScalingType::Yarn) {
    rope.beta_fast = params.positive_number_or("beta_fast", 32.0);
    rope.beta_slow = params.positive_number_or("beta_slow", 1.0);
    rope.mscale = params.number_or("mscale", 1.0);
    rope.mscale_all_dim = params.number_or("mscale_all_dim", 0.0);
    rope.truncate = params.flag_or("truncate", true);
    if (rope.original_context == 0) params.fail("original_max_position_embeddings", "missing");
  }
}

// RoPE in either spelling. Returns the partial rotary factor.
double read_rope(const KeyReader& cfg, const ArchitectureInfo& arch, RopeDesc& rope) {
  double partial = cfg.number_or("partial_rotary_factor", 1.0);
  if (const json* params = cfg.opt_object("rope_parameters")) {
    // transformers 5: theta inside; per layer type for Gemma 3.
    if (params->contains("full_attention") || params->contains("sliding_attention")) {
      KeyReader outer(*params, cfg.source(), cfg.prefix() + "rope_parameters.");
      const json* full = outer.opt_object("full_attention");
      const json* sliding = outer.opt_object("sliding_attention");
      if (full == nullptr) outer.fail("full_attention", "missing");
      KeyReader full_reader(*full, cfg.source(), cfg.prefix() + "rope_parameters.full_attention.");
      read_rope_params(full_reader, rope);
      partial = full_reader.number_or("partial_rotary_factor", partial);
      if (sliding != nullptr) {
        KeyReader sliding_reader(*sliding, cfg.source(),
                                 cfg.prefix() + "rope_parameters.sliding_attention.");
        RopeDesc local;
        read_rope_params(sliding_reader, local);
        if (local.scaling != RopeScalingType::None) {
          sliding_reader.fail("rope_type", "scaled RoPE on sliding layers is not supported");
        }
        rope.theta_sliding = local.theta;
      }
    } else {
      KeyReader reader(*params, cfg.source(), cfg.prefix() + "rope_parameters.");
      read_rope_params(reader, rope);
      partial = reader.number_or("partial_rotary_factor", partial);
    }
  } else {
    rope.theta = cfg.positive_number_or("rope_theta", rope.theta);
    if (const json* scaling = cfg.opt_object("rope_scaling")) {
      KeyReader reader(*scaling, cfg.source(), cfg.prefix() + "rope_scaling.");
      double theta = rope.theta;
      read_rope_params(reader, rope);
      rope.theta = theta;
    }
    if (arch.sliding == SlidingLayers::Pattern) {
      rope.theta_sliding = cfg.positive_number_or("rope_local_base_freq", 10000.0);
    }
  }
  if (!(partial > 0.0 && partial <= 1.0)) {
    cfg.fail("partial_rotary_factor", fmt::format("must be in (0, 1], got {}", partial));
  }
  return partial;
}

// Which layers use the sliding window; also sets desc.sliding_window.
void read_sliding(const KeyReader& cfg, const ArchitectureInfo& arch, ModelDesc& d) {
  d.layer_sliding.assign(d.n_layers, false);
  std::optional<uint32_t> window = cfg.opt_uint("sliding_window");
  if (const json* types = cfg.opt_array("layer_types")) {
    if (types->size() != d.n_layers) {
      cfg.fail("layer_types", fmt::format("has {} entries for {} layers", types->size(), d.n_layers));
    }
    for (uint32_t i = 0; i < d.n_layers; ++i) {
      const json& type = (*types)[i];
      if (type == "sliding_attention") {
        d.layer_sliding[i] = true;
      } else if (type != "full_attention") {
        cfg.fail("layer_types", fmt::format("entry {} is {}, expected \"sliding_attention\" or "
                                            "\"full_attention\"", i, type.dump()));
      }
    }
  } else if (window) {
    switch (arch.sliding) {
      case SlidingLayers::AllIfWindow:
        d.layer_sliding.assign(d.n_layers, true);
        break;
      case SlidingLayers::EvenLayers:
        for (uint32_t i = 0; i < d.n_layers; i += 2) d.layer_sliding[i] = true;
        break;
      case SlidingLayers::Pattern: {
        std::string_view key =
            cfg.has("sliding_window_pattern") ? "sliding_window_pattern" : "_sliding_window_pattern";
        uint32_t pattern = cfg.positive(key);
        for (uint32_t i = 0; i < d.n_layers; ++i) d.layer_sliding[i] = (i + 1) % pattern != 0;
        break;
      }
      case SlidingLayers::QwenMaxWindow:
        if (cfg.flag_or("use_sliding_window", false)) {
          uint32_t first = cfg.uint_or("max_window_layers", 0);
          for (uint32_t i = first; i < d.n_layers; ++i) d.layer_sliding[i] = true;
        }
        break;
    }
  }
  bool any = false;
  for (bool sliding : d.layer_sliding) any = any || sliding;
  if (any) {
    if (!window || *window == 0) cfg.fail("sliding_window", "sliding layers need a positive window");
    d.sliding_window = *window;
  }
}

// Which layers route to experts, in the three spellings of the registry's MoE models.
void read_moe_layers(const KeyReader& cfg, ModelDesc& d) {
  d.layer_moe.assign(d.n_layers, false);
  if (!d.is_moe()) return;
  if (const json* types = cfg.opt_array("mlp_layer_types")) {  // transformers 5 GLM
    if (types->size() != d.n_layers) {
      cfg.fail("mlp_layer_types", fmt::format("has {} entries for {} layers", types->size(), d.n_layers));
    }
    for (uint32_t i = 0; i < d.n_layers; ++i) {
      const json& type = (*types)[i];
      if (type == "sparse") {
        d.layer_moe[i] = true;
      } else if (type != "dense") {
        cfg.fail("mlp_layer_types", fmt::format("entry {} is {}, expected \"sparse\" or \"dense\"", i, type.dump()));
      }
    }
    return;
  }
  if (cfg.has("decoder_sparse_step") || cfg.has("mlp_only_layers")) {  // Qwen MoE
    uint32_t step = cfg.uint_or("decoder_sparse_step", 1);
    if (step == 0) cfg.fail("decoder_sparse_step", "must be positive, got 0");
    std::vector<bool> dense_only(d.n_layers, false);
    if (const json* only = cfg.opt_array("mlp_only_layers")) {
      for (const json& entry : *only) {
        uint32_t layer = cfg.to_uint("mlp_only_layers", entry);
        if (layer >= d.n_layers) cfg.fail("mlp_only_layers", fmt::format("layer {} out of range", layer));
        dense_only[layer] = true;
      }
    }
    for (uint32_t i = 0; i < d.n_layers; ++i) d.layer_moe[i] = !dense_only[i] && (i + 1) % step == 0;
    return;
  }
  // DeepSeek / GLM: dense first layers, then every moe_layer_freq-th layer.
  uint32_t first_dense = cfg.uint_or("first_k_dense_replace", 0);
  uint32_t freq = cfg.uint_or("moe_layer_freq", 1);
  if (freq == 0) cfg.fail("moe_layer_freq", "must be positive, got 0");
  for (uint32_t i = first_dense; i < d.n_layers; ++i) d.layer_moe[i] = i % freq == 0;
}

void read_moe(const KeyReader& cfg, const ArchitectureInfo& arch, ModelDesc& d) {
  std::string_view experts_key = cfg.has("num_local_experts") ? "num_local_experts"
                                 : cfg.has("n_routed_experts") ? "n_routed_experts"
                                                               : "num_experts";
  d.moe.n_experts = cfg.uint_or(experts_key, 0);
  if (d.moe.n_experts == 0) return;
  std::string_view used_key = cfg.has("num_experts_per_tok") ? "num_experts_per_tok" : "experts_per_token";
  d.moe.n_experts_used = cfg.positive(used_key);
  if (d.moe.n_experts_used > d.moe.n_experts) {
    cfg.fail(used_key, fmt::format("{} exceeds the {} experts", d.moe.n_experts_used, d.moe.n_experts));
  }
  // Mixtral and gpt-oss size their experts with intermediate_size.
  d.moe.expert_ffn = cfg.has("moe_intermediate_size") ? cfg.positive("moe_intermediate_size")
                                                      : cfg.positive("intermediate_size");
  d.moe.n_shared_experts = cfg.uint_or("n_shared_experts", 0);
  // The shared experts are stored as one MLP of their summed width.
  d.moe.shared_expert_ffn = d.moe.n_shared_experts * d.moe.expert_ffn;
  d.moe.gating = arch.gating;
  if (std::optional<std::string> scoring = cfg.opt_string("scoring_func")) {
    if (*scoring == "softmax") {
      d.moe.gating = ExpertGating::Softmax;
    } else if (*scoring == "sigmoid") {
      d.moe.gating = ExpertGating::Sigmoid;
    } else {
      cfg.fail("scoring_func", fmt::format("unsupported expert scoring '{}'", *scoring));
    }
  }
  d.moe.score_bias = arch.score_bias;
  if (std::optional<std::string> method = cfg.opt_string("topk_method")) {
    if (*method == "noaux_tc") {
      d.moe.score_bias = true;
    } else if (*method == "greedy" || *method == "group_limited_greedy") {
      d.moe.score_bias = false;
    } else {
      cfg.fail("topk_method", fmt::format("unsupported expert selection '{}'", *method));
    }
  }
  d.moe.norm_topk_prob = cfg.flag_or("norm_topk_prob", arch.norm_topk_default);
  d.moe.routed_scaling = cfg.positive_number_or("routed_scaling_factor", 1.0);
  d.moe.n_groups = cfg.uint_or("n_group", 1);
  d.moe.topk_groups = cfg.uint_or("topk_group", 1);
  if (d.moe.n_groups == 0) cfg.fail("n_group", "must be positive, got 0");
  if (d.moe.topk_groups == 0 || d.moe.topk_groups > d.moe.n_groups) {
    cfg.fail("topk_group", fmt::format("must be between 1 and n_group ({})", d.moe.n_groups));
  }
  if (d.moe.n_experts % d.moe.n_groups != 0) {
    cfg.fail("n_group", fmt::format("{} groups do not divide {} experts", d.moe.n_groups, d.moe.n_experts));
  }
  d.moe.router_bias = arch.expert_biases;
  d.moe.expert_bias = arch.expert_biases;
}

void read_attention(const KeyReader& cfg, const ArchitectureInfo& arch, ModelDesc& d) {
  d.n_heads = cfg.positive("num_attention_heads");
  d.n_kv_heads = cfg.opt_uint("num_key_value_heads").value_or(d.n_heads);
  if (d.n_kv_heads == 0) cfg.fail("num_key_value_heads", "must be positive, got 0");
  if (d.n_heads % d.n_kv_heads != 0) {
    cfg.fail("num_key_value_heads", fmt::format("{} does not divide num_attention_heads {}",
                                                d.n_kv_heads, d.n_heads));
  }
  if (arch.mla) {
    d.mla.q_lora_rank = cfg.uint_or("q_lora_rank", 0);
    d.mla.kv_lora_rank = cfg.positive("kv_lora_rank");
    d.mla.qk_nope_head_dim = cfg.positive("qk_nope_head_dim");
    d.mla.qk_rope_head_dim = cfg.positive("qk_rope_head_dim");
    d.mla.v_head_dim = cfg.positive("v_head_dim");
    d.head_dim_k = d.mla.qk_nope_head_dim + d.mla.qk_rope_head_dim;
    d.head_dim_v = d.mla.v_head_dim;
    d.n_kv_heads = d.n_heads;  // every head gets its own K/V once the latent is expanded
    return;
  }
  if (std::optional<uint32_t> head_dim = cfg.opt_uint("head_dim")) {
    if (*head_dim == 0) cfg.fail("head_dim", "must be positive, got 0");
    d.head_dim_k = *head_dim;
  } else {
    if (d.n_embd % d.n_heads != 0) {
      cfg.fail("num_attention_heads", fmt::format("{} does not divide hidden_size {}", d.n_heads, d.n_embd));
    }
    d.head_dim_k = d.n_embd / d.n_heads;
  }
  d.head_dim_v = d.head_dim_k;
}

void read_biases_and_norms(const KeyReader& cfg, const ArchitectureInfo& arch, ModelDesc& d) {
  bool flag = cfg.flag_or("attention_bias", false);
  switch (arch.bias) {
    case AttentionBias::None: break;
    case AttentionBias::QkvAlways: d.qkv_bias = true; break;
    case AttentionBias::QkvIfFlag: d.qkv_bias = flag; break;
    case AttentionBias::QkvoIfFlag: d.qkv_bias = d.o_bias = flag; break;
  }
  if (cfg.flag_or("mlp_bias", false)) cfg.fail("mlp_bias", "biased MLP layers are not supported");
  d.qk_norm = arch.qk_norm_always || cfg.flag_or("use_qk_norm", false);
  d.post_norms = arch.post_norms;
  d.fused_qkv = arch.fused_qkv;
  d.attention_sinks = arch.attention_sinks;
  d.norm = arch.norm;
  d.norm_eps = cfg.positive_number_or("rms_norm_eps", 1e-6);
}

}  // namespace

ModelDesc describe_from_hf_config(const nlohmann::json& config, const std::string& source_name) {
  if (!config.is_object()) throw InputError(fmt::format("{}: expected a JSON object", source_name));
  KeyReader top(config, source_name, "");

  // Multimodal checkpoints (Gemma 3) nest the language model's config.
  const json* text_config = top.opt_object("text_config");
  const json& raw = text_config != nullptr ? *text_config : config;
  KeyReader raw_reader(raw, source_name, text_config != nullptr ? "text_config." : "");

  std::optional<std::string> model_type = raw_reader.opt_string("model_type");
  std::string class_name;
  if (const json* classes = top.opt_array("architectures")) {
    if (!classes->empty() && (*classes)[0].is_string()) class_name = (*classes)[0].get<std::string>();
  }
  const ArchitectureInfo* arch = nullptr;
  if (model_type) {
    arch = find_architecture_by_hf_model_type(*model_type);
    if (arch == nullptr) {
      throw InputError(fmt::format("{}: unsupported architecture '{}' (key '{}model_type')",
                                   source_name, *model_type, raw_reader.prefix()));
    }
  } else if (!class_name.empty()) {
    arch = find_architecture_by_hf_class(class_name);
    if (arch == nullptr) {
      throw InputError(fmt::format("{}: unsupported architecture '{}' (key 'architectures')",
                                   source_name, class_name));
    }
  } else {
    throw InputError(fmt::format("{}: key 'model_type': missing (and no 'architectures')", source_name));
  }

  // Class defaults underneath, the file's keys (even null ones) on top.
  json effective = json::parse(arch->hf_defaults);
  for (auto it = raw.begin(); it != raw.end(); ++it) effective[it.key()] = it.value();
  // A multimodal wrapper may tie embeddings at its own level.
  if (text_config != nullptr && !raw.contains("tie_word_embeddings") &&
      config.contains("tie_word_embeddings")) {
    effective["tie_word_embeddings"] = config["tie_word_embeddings"];
  }
  KeyReader cfg(effective, source_name, raw_reader.prefix());

  ModelDesc d;
  d.architecture = std::string(arch->name);
  d.source_architecture = class_name.empty() ? *model_type : class_name;
  d.name = top.opt_string("_name_or_path").value_or("");

  d.n_layers = cfg.positive("num_hidden_layers");
  d.n_nextn_layers = cfg.uint_or("num_nextn_predict_layers", 0);
  d.n_embd = cfg.positive("hidden_size");
  d.vocab_size = cfg.positive("vocab_size");
  d.context_length = cfg.positive("max_position_embeddings");
  d.tied_embeddings = cfg.flag_or("tie_word_embeddings", false);
  d.activation = activation_from(cfg, *arch);
  if (d.activation == Activation::SwiGLUOaiClamped) {
    d.swiglu_limit = cfg.positive_number_or("swiglu_limit", 7.0);
  }

  read_attention(cfg, *arch, d);
  read_biases_and_norms(cfg, *arch, d);

  double partial = read_rope(cfg, *arch, d.rope);
  if (arch->mla) {
    d.rope.n_dims = d.mla.qk_rope_head_dim;
  } else {
    double dims = std::round(partial * d.head_dim_k);
    d.rope.n_dims = static_cast<uint32_t>(dims);
  }
  d.rope.layout = arch->hf_rope_layout;
  if (arch->mla && !cfg.flag_or("rope_interleave", true)) d.rope.layout = RopeLayout::HalfSplit;

  read_moe(cfg, *arch, d);
  read_moe_layers(cfg, d);
  // A dense FFN exists only on layers without experts.
  bool any_dense = false;
  for (bool moe : d.layer_moe) any_dense = any_dense || !moe;
  d.n_ff = any_dense ? cfg.positive("intermediate_size") : 0;

  read_sliding(cfg, *arch, d);
  d.attn_softcap = cfg.number_or("attn_logit_softcapping", 0.0);
  d.final_softcap = cfg.number_or("final_logit_softcapping", 0.0);
  if (d.attn_softcap < 0.0) cfg.fail("attn_logit_softcapping", "must not be negative");
  if (d.final_softcap < 0.0) cfg.fail("final_logit_softcapping", "must not be negative");

  if (cfg.has("query_pre_attn_scalar")) {
    double scalar = cfg.positive_number_or("query_pre_attn_scalar", 1.0);
    d.attn_scale = 1.0 / std::sqrt(scalar);
  }
  // DeepSeek YaRN: the softmax scale grows with mscale(factor, mscale_all_dim)^2.
  if (arch->mla && d.rope.scaling == RopeScalingType::Yarn && d.rope.mscale_all_dim > 0.0 &&
      d.rope.factor > 1.0) {
    double m = 0.1 * d.rope.mscale_all_dim * std::log(d.rope.factor) + 1.0;
    d.attn_scale = m * m / std::sqrt(static_cast<double>(d.head_dim_k));
  }
  if (arch->gemma_embedding_scale) d.embedding_scale = std::sqrt(static_cast<double>(d.n_embd));

  validate_model_desc(d, source_name);
  return d;
}

}  // namespace pocketllm
