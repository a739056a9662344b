#include "tools/random_model.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "backends/cpu/thread_pool.h"
#include "formats/gguf.h"
#include "formats/gguf_writer.h"
#include "tools/weight_quantizer.h"
#include "util/error.h"

namespace pocketllm {
namespace {

constexpr double kWeightStddev = 0.02;

// splitmix64: tiny, fast, and good enough for weights nobody trains.
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }

 private:
  uint64_t state_;
};

// Uniform on [-a, a) with a = stddev * sqrt(3); two 24-bit draws per call.
void fill_uniform(SplitMix64& rng, float* x, size_t n, float stddev) {
  const float a = stddev * std::sqrt(3.0f);
  const float scale = 2.0f * a / 16777216.0f;  // 2^24
  size_t i = 0;
  for (; i + 1 < n; i += 2) {
    const uint64_t r = rng.next();
    x[i] = static_cast<float>((r >> 40) & 0xFFFFFFu) * scale - a;
    x[i + 1] = static_cast<float>((r >> 8) & 0xFFFFFFu) * scale - a;
  }
  if (i < n) x[i] = static_cast<float>(rng.next() >> 40) * scale - a;
}

// One tensor to write: ne in ggml order ([row width, rows]).
struct TensorPlan {
  std::string name;
  uint64_t row_width;
  uint64_t n_rows;
  GgmlType type;
  bool is_norm;  // all ones
};

std::vector<TensorPlan> llama_tensors(const RandomModelPreset& p, uint32_t n_layers, uint32_t vocab, GgmlType type,
                                      QuantMix mix) {
  const uint64_t head_dim = p.n_embd / p.n_heads;
  const uint64_t q_out = p.n_heads * head_dim;
  const uint64_t kv_out = p.n_kv_heads * head_dim;
  const auto matrix = [&](std::string_view role, uint32_t layer) {
    return mix == QuantMix::kNone ? type : mix_tensor_type(mix, role, layer, n_layers);
  };
  std::vector<TensorPlan> t;
  t.push_back({"token_embd.weight", p.n_embd, vocab, matrix("token_embd.weight", 0), false});
  for (uint32_t i = 0; i < n_layers; ++i) {
    const std::string b = fmt::format("blk.{}.", i);
    t.push_back({b + "attn_norm.weight", p.n_embd, 1, GgmlType::F32, true});
    t.push_back({b + "attn_q.weight", p.n_embd, q_out, matrix("attn_q.weight", i), false});
    t.push_back({b + "attn_k.weight", p.n_embd, kv_out, matrix("attn_k.weight", i), false});
    t.push_back({b + "attn_v.weight", p.n_embd, kv_out, matrix("attn_v.weight", i), false});
    t.push_back({b + "attn_output.weight", q_out, p.n_embd, matrix("attn_output.weight", i), false});
    t.push_back({b + "ffn_norm.weight", p.n_embd, 1, GgmlType::F32, true});
    t.push_back({b + "ffn_gate.weight", p.n_embd, p.n_ff, matrix("ffn_gate.weight", i), false});
    t.push_back({b + "ffn_up.weight", p.n_embd, p.n_ff, matrix("ffn_up.weight", i), false});
    t.push_back({b + "ffn_down.weight", p.n_ff, p.n_embd, matrix("ffn_down.weight", i), false});
  }
  t.push_back({"output_norm.weight", p.n_embd, 1, GgmlType::F32, true});
  t.push_back({"output.weight", p.n_embd, vocab, matrix("output.weight", 0), false});
  return t;
}

// llama.cpp's use_more_bits (llama-quant.cpp): the first and last eighth of
// the layers, and every third layer between.
bool uses_more_bits(uint32_t layer, uint32_t n_layers) {
  const auto i = static_cast<int64_t>(layer);
  const auto n = static_cast<int64_t>(n_layers);
  return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
}

// Streams a tensor's rows: generated, quantized and written ~4 MiB of f32 at
// a time. Rows are quantized on all cores (the K-quants' fits cost ~100 ns
// an element); each row alone, so the bytes do not depend on the core count.
GgufWriter::TensorSource random_rows(const TensorPlan& plan, uint64_t seed, std::shared_ptr<ThreadPool> pool) {
  return [plan, seed, pool](std::ostream& out) {
    SplitMix64 rng(seed);
    const uint64_t row_bytes = *ggml_tensor_bytes(plan.type, plan.row_width);
    const uint64_t rows_per_batch = std::max<uint64_t>(1, (uint64_t{4} << 20) / (plan.row_width * sizeof(float)));
    std::vector<float> values(plan.row_width * rows_per_batch);
    std::vector<char> bytes(row_bytes * rows_per_batch);
    for (uint64_t row = 0; row < plan.n_rows; row += rows_per_batch) {
      const uint64_t n = std::min(rows_per_batch, plan.n_rows - row);
      if (plan.is_norm) {
        std::fill(values.begin(), values.end(), 1.0f);
      } else {
        fill_uniform(rng, values.data(), n * plan.row_width, static_cast<float>(kWeightStddev));
      }
      pool->parallel_for(n, [&](size_t r, unsigned) {
        quantize_row(plan.type, values.data() + r * plan.row_width, bytes.data() + r * row_bytes,
                     static_cast<int64_t>(plan.row_width));
      });
      out.write(bytes.data(), static_cast<std::streamsize>(n * row_bytes));
    }
  };
}

GgufValue u32(uint64_t v) { return GgufValue::make_uint(GgufValueType::UINT32, v); }
GgufValue f32(double v) { return GgufValue::make_float(GgufValueType::FLOAT32, v); }

}  // namespace

const std::vector<RandomModelPreset>& random_model_presets() {
  static const std::vector<RandomModelPreset> presets = {
      {"tiny", "2 blocks of width 64 (tests)", 64, 2, 4, 2, 128, 0, 2048, 10000.0, 1e-5},
      {"tiny-k", "2 blocks of width 256, whole K-quant super-blocks (tests)", 256, 2, 4, 2, 512, 0, 2048, 10000.0, 1e-5},
      {"tinyllama-1.1b", "TinyLlama-1.1B (Llama 2 shapes, GQA 32/4)", 2048, 22, 32, 4, 5632, 32000, 2048, 10000.0, 1e-5},
      {"llama2-7b", "Llama-2-7B", 4096, 32, 32, 32, 11008, 32000, 4096, 10000.0, 1e-5},
  };
  return presets;
}

const RandomModelPreset& find_random_model_preset(std::string_view name) {
  std::string known;
  for (const auto& p : random_model_presets()) {
    if (p.name == name) return p;
    known += (known.empty() ? "" : ", ") + std::string(p.name);
  }
  throw InputError(fmt::format("unknown preset '{}' (known: {})", name, known));
}

std::optional<uint32_t> llama_file_type_of(GgmlType type) {
  switch (type) {
    case GgmlType::F32: return 0;
    case GgmlType::F16: return 1;
    case GgmlType::Q4_0: return 2;
    case GgmlType::Q4_1: return 3;
    case GgmlType::Q8_0: return 7;
    case GgmlType::Q5_0: return 8;
    case GgmlType::Q5_1: return 9;
    case GgmlType::Q4_K: return 14;  // LLAMA_FTYPE_MOSTLY_Q4_K_S
    case GgmlType::Q5_K: return 16;  // LLAMA_FTYPE_MOSTLY_Q5_K_S
    case GgmlType::Q6_K: return 18;
    case GgmlType::BF16: return 32;
    default: return std::nullopt;
  }
}

uint32_t llama_file_type_of(QuantMix mix) { return mix == QuantMix::kQ5_K_M ? 17 : 15; }

std::optional<QuantMix> quant_mix_from_name(std::string_view name) {
  if (name == "Q4_K_M") return QuantMix::kQ4_K_M;
  if (name == "Q5_K_M") return QuantMix::kQ5_K_M;
  return std::nullopt;
}

GgmlType mix_tensor_type(QuantMix mix, std::string_view role, uint32_t layer, uint32_t n_layers) {
  const GgmlType base = mix == QuantMix::kQ5_K_M ? GgmlType::Q5_K : GgmlType::Q4_K;
  if (role == "output.weight") return GgmlType::Q6_K;
  if (role == "attn_v.weight" || role == "ffn_down.weight") {
    return uses_more_bits(layer, n_layers) ? GgmlType::Q6_K : base;
  }
  return base;
}

void write_random_model(const RandomModelOptions& options, const std::string& path) {
  if (options.arch != "llama") {
    throw InputError(fmt::format("gen: unsupported architecture '{}' (supported: llama)", options.arch));
  }
  const RandomModelPreset& preset = find_random_model_preset(options.preset);
  if (options.mix == QuantMix::kNone && (!has_quantizer(options.type) || !llama_file_type_of(options.type))) {
    throw InputError(fmt::format("gen: cannot write tensor type {} (supported: {})", ggml_type_name(options.type),
                                 kRandomModelTypes));
  }
  const uint32_t n_layers = options.n_layers.value_or(preset.n_layers);
  if (n_layers == 0) throw InputError("gen: --n-layers must be at least 1");

  const GgufFile vocab = GgufFile::open(options.vocab_path);
  const auto tokens = vocab.get_string_array("tokenizer.ggml.tokens");
  if (!tokens || !vocab.get_string("tokenizer.ggml.model")) {
    throw InputError(fmt::format("{}: no tokenizer (tokenizer.ggml.model and tokenizer.ggml.tokens)", options.vocab_path));
  }
  const auto n_vocab = static_cast<uint32_t>(tokens->size());
  if (preset.vocab_size != 0 && n_vocab != preset.vocab_size) {
    throw InputError(fmt::format("{}: has {} tokens, preset '{}' needs {}", options.vocab_path, n_vocab, preset.name,
                                 preset.vocab_size));
  }
  const std::vector<TensorPlan> plans = llama_tensors(preset, n_layers, n_vocab, options.type, options.mix);
  for (const TensorPlan& plan : plans) {
    if (plan.row_width % ggml_type_traits(plan.type).block_size != 0) {
      throw InputError(fmt::format("gen: preset '{}' rows are not whole {} blocks", preset.name, ggml_type_name(plan.type)));
    }
  }

  GgufWriter writer;
  writer.add("general.architecture", GgufValue::make_string("llama"));
  writer.add("general.name", GgufValue::make_string(fmt::format("pocketllm random {} (seed {})", preset.name, options.seed)));
  writer.add("general.file_type",
             u32(options.mix == QuantMix::kNone ? *llama_file_type_of(options.type) : llama_file_type_of(options.mix)));
  writer.add("general.quantization_version", u32(2));
  writer.add("llama.context_length", u32(preset.context_length));
  writer.add("llama.embedding_length", u32(preset.n_embd));
  writer.add("llama.block_count", u32(n_layers));
  writer.add("llama.feed_forward_length", u32(preset.n_ff));
  writer.add("llama.rope.dimension_count", u32(preset.n_embd / preset.n_heads));
  writer.add("llama.attention.head_count", u32(preset.n_heads));
  writer.add("llama.attention.head_count_kv", u32(preset.n_kv_heads));
  writer.add("llama.attention.layer_norm_rms_epsilon", f32(preset.norm_eps));
  writer.add("llama.rope.freq_base", f32(preset.rope_theta));
  writer.add("llama.vocab_size", u32(n_vocab));
  for (const GgufKeyValue& kv : vocab.metadata()) {
    if (kv.key.starts_with("tokenizer.")) writer.add(std::string(kv.key), kv.value);
  }

  const auto pool = std::make_shared<ThreadPool>(ThreadPool::default_thread_count());
  for (size_t i = 0; i < plans.size(); ++i) {
    const TensorPlan& plan = plans[i];
    const uint64_t seed = SplitMix64(options.seed ^ (0xD1B54A32D192ED03ull * (i + 1))).next();
    std::vector<uint64_t> ne = {plan.row_width};  // norms are vectors
    if (!plan.is_norm) ne.push_back(plan.n_rows);
    writer.add_tensor(plan.name, std::move(ne), plan.type, random_rows(plan, seed, pool));
  }
  try {
    writer.write(path);
  } catch (const std::runtime_error& e) {
    throw InputError(e.what());  // an unwritable output path is the user's input
  }
}

}  // namespace pocketllm
