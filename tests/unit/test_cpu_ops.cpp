// f32 ops: every fast op against its scalar reference on random inputs of
// sizes that are no multiple of any vector width, and against values from
// Hugging Face transformers (tests/data/ops/ops_oracle.json, made by
// make_ops_oracle.py from transformers' own modules: RoPE frequencies and
// rotations for the golden bundles' and real models' configs, RMSNorm,
// LayerNorm, GptOss gate, attention with sinks / soft-cap, activations).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <numeric>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "backends/cpu/ops/activations.h"
#include "backends/cpu/ops/elementwise.h"
#include "backends/cpu/ops/norm.h"
#include "backends/cpu/ops/rope.h"
#include "backends/cpu/ops/select.h"
#include "backends/cpu/ops/softmax.h"
#include "backends/cpu/ops/vec_math.h"
#include "model/model_desc_hf.h"
#include "util/error.h"

namespace pocketllm {
namespace {

using nlohmann::json;

const std::string kData = std::string(POCKETLLM_TEST_DATA_DIR) + "/ops/";

const json& oracle() {
  static const json data = json::parse(std::ifstream(kData + "ops_oracle.json"));
  return data;
}
const json& rope_configs() {
  static const json data = json::parse(std::ifstream(kData + "rope_configs.json"));
  return data;
}

std::vector<float> floats(const json& values) {
  std::vector<float> out;
  for (const json& v : values) out.push_back(v.get<float>());
  return out;
}

// Random values in [-4, 4): never zero or constant.
std::vector<float> random_vector(size_t n, unsigned seed, float range = 4.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-range, range);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// |a - b| <= abs_tol + rel_tol * |b| elementwise.
void expect_near_all(std::span<const float> got, std::span<const float> want, double abs_tol,
                     double rel_tol, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) {
    const auto g = static_cast<double>(got[i]);
    const auto w = static_cast<double>(want[i]);
    EXPECT_LE(std::fabs(g - w), abs_tol + rel_tol * std::fabs(w))
        << what << " [" << i << "]: got " << g << " want " << w;
  }
}

// Sizes that cross no vector width evenly, plus one that does.
constexpr size_t kSizes[] = {1, 7, 17, 33, 64, 1001, 4099};

// ---------------------------------------------------------------- exp

TEST(VecMath, ExpApproxWithinFourUlpOfLibm) {
  for (double x = -87.0; x <= 88.0; x += 0.0137) {
    const auto xf = static_cast<float>(x);
    const double want = std::exp(static_cast<double>(xf));
    const auto got = static_cast<double>(ops::exp_approx(xf));
    EXPECT_LE(std::fabs(got - want), 4.8e-7 * want) << "x=" << xf;  // 4 ulp of float
  }
  EXPECT_EQ(ops::exp_approx(0.0f), 1.0f);
  EXPECT_EQ(ops::exp_approx(-std::numeric_limits<float>::infinity()), 0.0f);
  EXPECT_EQ(ops::exp_approx(-100.0f), 0.0f);
  EXPECT_TRUE(std::isfinite(ops::exp_approx(100.0f)));
}

// ---------------------------------------------------------------- norms

TEST(Norms, RmsNormMatchesReference) {
  for (const size_t n : kSizes) {
    for (const auto mode : {ops::NormWeight::Plain, ops::NormWeight::OnePlus}) {
      const std::vector<float> x = random_vector(n, 1);
      const std::vector<float> w = random_vector(n, 2, 1.0f);
      std::vector<float> got(n);
      std::vector<float> want(n);
      ops::rms_norm(x, w, 1e-6f, mode, got);
      ops::rms_norm_reference(x, w, 1e-6f, mode, want);
      // f32 16-lane sum of squares vs double: a few ulp of the scale.
      expect_near_all(got, want, 1e-6, 2e-6, "rms_norm n=" + std::to_string(n));
      ops::rms_norm(x, {}, 1e-6f, mode, got);  // no weight = 1
      ops::rms_norm_reference(x, {}, 1e-6f, mode, want);
      expect_near_all(got, want, 1e-6, 2e-6, "rms_norm no weight n=" + std::to_string(n));
    }
  }
}

TEST(Norms, LayerNormMatchesReference) {
  for (const size_t n : kSizes) {
    const std::vector<float> x = random_vector(n, 3);
    const std::vector<float> w = random_vector(n, 4, 1.0f);
    const std::vector<float> b = random_vector(n, 5, 1.0f);
    std::vector<float> got(n);
    std::vector<float> want(n);
    ops::layer_norm(x, w, b, 1e-5f, got);
    ops::layer_norm_reference(x, w, b, 1e-5f, want);
    expect_near_all(got, want, 1e-6, 2e-6, "layer_norm n=" + std::to_string(n));
  }
}

TEST(Norms, MatchTransformers) {
  const json& o = oracle()["norms"];
  const std::vector<float> x = floats(o["x"]);
  const std::vector<float> w = floats(o["weight"]);
  const std::vector<float> b = floats(o["bias"]);
  std::vector<float> out(x.size());
  // LlamaRMSNorm (eps 1e-5), Gemma3RMSNorm (1 + w, eps 1e-6), nn.LayerNorm: float32 in torch too.
  ops::rms_norm(x, w, 1e-5f, ops::NormWeight::Plain, out);
  expect_near_all(out, floats(o["rms_llama_eps1e-5"]), 1e-6, 1e-6, "LlamaRMSNorm");
  ops::rms_norm(x, w, 1e-6f, ops::NormWeight::OnePlus, out);
  expect_near_all(out, floats(o["rms_gemma_eps1e-6"]), 1e-6, 1e-6, "Gemma3RMSNorm");
  ops::layer_norm(x, w, b, 1e-5f, out);
  expect_near_all(out, floats(o["layernorm_eps1e-5"]), 1e-6, 1e-6, "LayerNorm");
  // In place.
  std::vector<float> in_place = x;
  ops::rms_norm(in_place, w, 1e-5f, ops::NormWeight::Plain, in_place);
  expect_near_all(in_place, floats(o["rms_llama_eps1e-5"]), 1e-6, 1e-6, "in place");
}

TEST(Norms, ShapeMismatchIsInvalidArgument) {
  std::vector<float> x(5, 1.0f);
  std::vector<float> w(4, 1.0f);
  std::vector<float> out(5);
  EXPECT_THROW(ops::rms_norm(x, w, 1e-6f, ops::NormWeight::Plain, out), std::invalid_argument);
  EXPECT_THROW(ops::layer_norm(x, {}, w, 1e-6f, out), std::invalid_argument);
}

// ---------------------------------------------------------------- RoPE

// The desc that pocketllm reads from each config, and transformers' numbers for it.
TEST(Rope, FrequenciesMatchTransformersForEveryScaling) {
  const json& cases = oracle()["rope"];
  ASSERT_GE(cases.size(), 14u);
  for (const auto& [name, entry] : cases.items()) {
    const ModelDesc desc = describe_from_hf_config(rope_configs()[name], name);
    for (const auto& [buffer, values] : entry["inv_freq"].items()) {
      const bool sliding = buffer.rfind("sliding_attention", 0) == 0;
      const ops::RopeFrequencies f = ops::rope_frequencies(desc.rope, sliding);
      // transformers computes these in float32 too; pow / division order may differ by an ulp.
      expect_near_all(f.inv_freq, floats(values), 0.0, 1e-6, name + " " + buffer);
      const std::string scaling_key =
          buffer == "inv_freq" ? "attention_scaling"
                               : buffer.substr(0, buffer.size() - 8) + "attention_scaling";
      EXPECT_NEAR(f.attention_factor, entry["attention_scaling"][scaling_key].get<double>(), 1e-6)
          << name << " " << scaling_key;
    }
  }
}

TEST(Rope, YarnAttentionFactorsOfGptOssAndDeepSeek) {
  // golden/README.md and golden.json: gpt-oss cos/sin factor 0.1 ln 8 + 1 = 1.2079441541679836;
  // DeepSeek softmax scale qk_head_dim^-0.5 * mscale(factor, mscale_all_dim)^2.
  EXPECT_NEAR(ops::yarn_get_mscale(8.0), 1.2079441541679836, 1e-15);
  const double ds2 = std::pow(24.0, -0.5) * std::pow(ops::yarn_get_mscale(4.0, 0.707), 2);
  EXPECT_NEAR(ds2, 0.24609782191507454, 1e-15);
  const double ds3 = std::pow(24.0, -0.5) * std::pow(ops::yarn_get_mscale(4.0, 1.0), 2);
  EXPECT_NEAR(ds3, 0.2646422579642267, 1e-15);
  EXPECT_EQ(ops::yarn_get_mscale(1.0, 0.707), 1.0);
}

TEST(Rope, RotationMatchesTransformers) {
  for (const auto& [name, entry] : oracle()["rope"].items()) {
    ASSERT_TRUE(entry.contains("rotate")) << name;
    const json& r = entry["rotate"];
    const ModelDesc desc = describe_from_hf_config(rope_configs()[name], name);
    ops::RopeFrequencies f = ops::rope_frequencies(desc.rope);
    // transformers' own inv_freq: ours differ from them by 1 ulp in 5 of ~600
    // values (powf rounding; checked at 1e-6 above), which at position 4097
    // moves an angle by 3e-5 rad. This test is about the rotation.
    const std::string buffer = entry["inv_freq"].contains("inv_freq") ? "inv_freq" : "full_attention_inv_freq";
    f.inv_freq = floats(entry["inv_freq"][buffer]);
    const auto head_dim = r["head_dim"].get<size_t>();
    ASSERT_EQ(r["rotary_dims"].get<size_t>(), 2 * f.inv_freq.size()) << name;
    // transformers' DeepSeek-V2 rotates complex pairs (2i, 2i+1); the others were
    // rotated by apply_rotary_pos_emb (rotate_half).
    const RopeLayout layout = entry["class"] == "DeepseekV2RotaryEmbedding"
                                  ? RopeLayout::Interleaved
                                  : RopeLayout::HalfSplit;
    std::vector<float> q = floats(r["q"]);
    const std::vector<float> want = floats(r["q_rotated"]);
    std::vector<float> cos(f.inv_freq.size());
    std::vector<float> sin(f.inv_freq.size());
    const json& positions = r["positions"];
    for (size_t p = 0; p < positions.size(); ++p) {
      ops::rope_cos_sin(positions[p].get<int64_t>(), f.inv_freq, f.attention_factor, cos, sin);
      std::span<float> row(q.data() + p * head_dim, head_dim);
      ops::rope_apply(row, 1, head_dim, layout, cos, sin);
      // Same float32 angles as torch; cos/sin rounding differs by an ulp.
      expect_near_all(row, std::span<const float>(want.data() + p * head_dim, head_dim), 2e-6,
                      2e-6, name + " position " + std::to_string(positions[p].get<int>()));
    }
  }
}

TEST(Rope, ApplyMatchesReferenceForBothLayoutsAndPartialDims) {
  for (const auto layout : {RopeLayout::HalfSplit, RopeLayout::Interleaved}) {
    for (const size_t head_dim : {size_t{6}, size_t{34}, size_t{80}, size_t{128}}) {
      for (const size_t n_dims : {head_dim, head_dim / 2 - (head_dim / 2) % 2}) {
        RopeDesc rope;
        rope.n_dims = static_cast<uint32_t>(n_dims);
        rope.theta = 10000.0;
        const ops::RopeFrequencies f = ops::rope_frequencies(rope);
        std::vector<float> cos(n_dims / 2);
        std::vector<float> sin(n_dims / 2);
        ops::rope_cos_sin(1234, f.inv_freq, 1.0f, cos, sin);
        const size_t n_heads = 3;
        std::vector<float> got = random_vector(n_heads * head_dim, 9);
        std::vector<float> want = got;
        const std::vector<float> before = got;
        ops::rope_apply(got, n_heads, head_dim, layout, cos, sin);
        ops::rope_apply_reference(want, n_heads, head_dim, layout, cos, sin);
        expect_near_all(got, want, 1e-6, 1e-6, "rope_apply dim " + std::to_string(head_dim));
        // Dims past n_dims stay as they were; each rotated pair keeps its norm.
        for (size_t h = 0; h < n_heads; ++h) {
          for (size_t i = n_dims; i < head_dim; ++i) {
            EXPECT_EQ(got[h * head_dim + i], before[h * head_dim + i]);
          }
        }
      }
    }
  }
}

TEST(Rope, Llama3FreqFactorsTensorReproducesScaledFrequencies) {
  // llama.cpp stores llama3 scaling as rope_freqs = base / scaled per pair.
  RopeDesc plain;
  plain.n_dims = 64;
  plain.theta = 500000.0;
  RopeDesc llama3 = plain;
  llama3.scaling = RopeScalingType::Llama3;
  llama3.factor = 32.0;
  llama3.original_context = 8192;
  ops::RopeFrequencies base = ops::rope_frequencies(plain);
  const ops::RopeFrequencies scaled = ops::rope_frequencies(llama3);
  std::vector<float> factors(base.inv_freq.size());
  for (size_t i = 0; i < factors.size(); ++i) factors[i] = base.inv_freq[i] / scaled.inv_freq[i];
  // Highest frequencies kept (factor 1), lowest divided by 32.
  EXPECT_EQ(factors.front(), 1.0f);
  EXPECT_NEAR(factors.back(), 32.0f, 1e-4);
  ops::apply_rope_freq_factors(base.inv_freq, factors);
  expect_near_all(base.inv_freq, scaled.inv_freq, 0.0, 1e-6, "freq factors");
  std::vector<float> wrong(3, 1.0f);
  EXPECT_THROW(ops::apply_rope_freq_factors(base.inv_freq, wrong), InputError);
}

TEST(Rope, BadParametersAreInputErrors) {
  RopeDesc rope;
  rope.n_dims = 7;
  EXPECT_THROW(ops::rope_frequencies(rope), InputError);
  rope.n_dims = 8;
  rope.scaling = RopeScalingType::Yarn;
  rope.factor = 4.0;
  rope.original_context = 0;
  EXPECT_THROW(ops::rope_frequencies(rope), InputError);
}

// ---------------------------------------------------------------- softmax

TEST(Softmax, MatchesReferenceAndSumsToOne) {
  for (const size_t n : kSizes) {
    std::vector<float> got = random_vector(n, 11, 20.0f);
    if (n > 3) got[2] = -std::numeric_limits<float>::infinity();  // a masked key
    std::vector<float> want = got;
    ops::softmax(got);
    ops::softmax_reference(want);
    expect_near_all(got, want, 1e-9, 2e-6, "softmax n=" + std::to_string(n));
    const double sum = std::accumulate(got.begin(), got.end(), 0.0);
    EXPECT_NEAR(sum, 1.0, 2e-6) << n;
    if (n > 3) {
      EXPECT_EQ(got[2], 0.0f);
    }

    std::vector<float> sink_got = random_vector(n, 12, 20.0f);
    std::vector<float> sink_want = sink_got;
    ops::softmax_with_sink(sink_got, 3.5f);
    ops::softmax_with_sink_reference(sink_want, 3.5f);
    expect_near_all(sink_got, sink_want, 1e-9, 2e-6, "softmax_with_sink n=" + std::to_string(n));
  }
}

TEST(Softmax, MatchesTransformersSinksAndSoftCap) {
  const json& o = oracle()["softmax"];
  const std::vector<float> logits = floats(o["logits"]);  // [2 heads, 11 keys]
  const std::vector<float> sinks = floats(o["sinks"]);
  const std::vector<float> with_sinks = floats(o["probs_with_sinks"]);
  const std::vector<float> softcapped = floats(o["probs_softcap"]);
  const std::vector<float> plain = floats(o["probs_plain"]);
  const size_t keys = logits.size() / 2;
  for (size_t h = 0; h < 2; ++h) {
    const std::span<const float> row(logits.data() + h * keys, keys);
    const auto want = [&](const std::vector<float>& v) {
      return std::span<const float>(v.data() + h * keys, keys);
    };
    std::vector<float> p(row.begin(), row.end());
    ops::softmax(p);
    expect_near_all(p, want(plain), 1e-7, 1e-6, "softmax");
    p.assign(row.begin(), row.end());
    ops::softmax_with_sink(p, sinks[h]);  // GptOss eager_attention_forward
    expect_near_all(p, want(with_sinks), 1e-7, 1e-6, "sinks");
    const double sum = std::accumulate(p.begin(), p.end(), 0.0);
    EXPECT_LT(sum, 1.0);  // the sink keeps a share
    p.assign(row.begin(), row.end());
    ops::soft_cap(p, o["softcap"].get<float>());  // Gemma2 eager_attention_forward
    ops::softmax(p);
    expect_near_all(p, want(softcapped), 1e-7, 1e-6, "soft-cap");
  }
}

// ---------------------------------------------------------------- activations

TEST(Activations, MatchTransformersAtFixedPoints) {
  const json& o = oracle()["activations"];
  const std::vector<float> x = floats(o["x"]);
  std::vector<float> out(x.size());
  ops::silu(x, out);
  expect_near_all(out, floats(o["silu"]), 1e-7, 1e-6, "silu");
  ops::gelu_tanh(x, out);
  expect_near_all(out, floats(o["gelu_tanh"]), 1e-7, 1e-6, "gelu_tanh");
  // Published values: GELU-tanh(1) = 0.841192, SiLU(1) = 1/(1+e^-1) = 0.731059.
  EXPECT_NEAR(out[9], 0.8411920f, 1e-6f);
  ops::silu_reference(x, out);
  expect_near_all(out, floats(o["silu"]), 1e-7, 1e-6, "silu reference");
  ops::gelu_tanh_reference(x, out);
  expect_near_all(out, floats(o["gelu_tanh"]), 1e-7, 1e-6, "gelu_tanh reference");
  std::vector<float> sig(x.size());
  for (size_t i = 0; i < x.size(); ++i) sig[i] = ops::sigmoid_approx(x[i]);
  expect_near_all(sig, floats(o["sigmoid"]), 1e-9, 1e-6, "sigmoid");
}

TEST(Activations, GatedMatchReference) {
  for (const size_t n : kSizes) {
    const std::vector<float> gate = random_vector(n, 21, 10.0f);  // reaches the +-7 clamp
    const std::vector<float> up = random_vector(n, 22, 10.0f);
    std::vector<float> got(n);
    std::vector<float> want(n);
    ops::silu(gate, got);
    ops::silu_reference(gate, want);
    expect_near_all(got, want, 1e-7, 1e-6, "silu");
    ops::gelu_tanh(gate, got);
    ops::gelu_tanh_reference(gate, want);
    expect_near_all(got, want, 1e-7, 1e-6, "gelu_tanh");
    ops::swiglu(gate, up, got);
    ops::swiglu_reference(gate, up, want);
    expect_near_all(got, want, 1e-6, 1e-6, "swiglu");
    ops::geglu(gate, up, got);
    ops::geglu_reference(gate, up, want);
    expect_near_all(got, want, 1e-6, 1e-6, "geglu");
    ops::swiglu_oai(gate, up, got);
    ops::swiglu_oai_reference(gate, up, want);
    expect_near_all(got, want, 1e-6, 1e-6, "swiglu_oai");
  }
}

TEST(Activations, GptOssClampedSwigluMatchesTransformers) {
  // GptOssExperts._apply_gate on gate/up interleaved in one row, with values past +-7.
  const json& o = oracle()["gptoss_gate"];
  const std::vector<float> both = floats(o["gate_up_interleaved"]);
  std::vector<float> gate;
  std::vector<float> up;
  for (size_t i = 0; i < both.size(); i += 2) {
    gate.push_back(both[i]);
    up.push_back(both[i + 1]);
  }
  std::vector<float> out(gate.size());
  ops::swiglu_oai(gate, up, out);
  expect_near_all(out, floats(o["out"]), 1e-6, 1e-6, "swiglu_oai");
  // gate 9 -> 7 (clamped), up -9 -> -7: (1 - 7) * 7 * sigmoid(1.702 * 7).
  EXPECT_NEAR(out[0], -6.0 * 7.0 / (1.0 + std::exp(-1.702 * 7.0)), 1e-5);
  // gate -9 is not clamped from below: (7 + 1) * -9 * sigmoid(-15.318).
  EXPECT_NEAR(out[1], 8.0 * -9.0 / (1.0 + std::exp(1.702 * 9.0)), 1e-9);
}

// ---------------------------------------------------------------- element-wise

TEST(Elementwise, ExactAgainstPlainLoops) {
  const size_t n = 1001;
  const std::vector<float> a = random_vector(n, 31);
  const std::vector<float> b = random_vector(n, 32);
  std::vector<float> out(n);
  ops::add(a, b, out);
  for (size_t i = 0; i < n; ++i) EXPECT_EQ(out[i], a[i] + b[i]);
  ops::mul(a, b, out);
  for (size_t i = 0; i < n; ++i) EXPECT_EQ(out[i], a[i] * b[i]);
  ops::scale(a, 0.37f, out);
  for (size_t i = 0; i < n; ++i) EXPECT_EQ(out[i], a[i] * 0.37f);
  std::vector<float> acc = b;
  ops::add_scaled(a, -1.5f, acc);
  // The compiler may contract s * x + acc into one FMA (the product unrounded):
  // within an ulp of the product and of the sum.
  for (size_t i = 0; i < n; ++i) {
    const double bound = 1.2e-7 * (std::fabs(static_cast<double>(b[i])) + 1.5 * std::fabs(static_cast<double>(a[i])));
    EXPECT_NEAR(acc[i], b[i] + -1.5f * a[i], bound) << i;
  }
  std::vector<float> short_out(n - 1);
  EXPECT_THROW(ops::add(a, b, short_out), std::invalid_argument);
}

// ---------------------------------------------------------------- selection

TEST(Select, ArgmaxTiesGoToLowerIndexAndNanNeverWins) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> x = {1.0f, nan, 5.0f, -2.0f, 5.0f, 4.0f};
  EXPECT_EQ(ops::argmax(x), 2u);
  const std::vector<float> first_nan = {nan, -1.0f, -3.0f};
  EXPECT_EQ(ops::argmax(first_nan), 1u);
  EXPECT_THROW(ops::argmax(std::span<const float>{}), std::invalid_argument);
}

TEST(Select, TopKMatchesFullSort) {
  for (const size_t n : {size_t{8}, size_t{128}, size_t{1001}, size_t{32000}}) {
    std::vector<float> x = random_vector(n, 41);
    for (size_t i = 0; i + 5 < n; i += 5) x[i + 5] = x[i];  // ties
    for (const size_t k : {size_t{1}, size_t{2}, size_t{8}}) {
      std::vector<size_t> idx(k);
      std::vector<float> val(k);
      ops::top_k(x, idx, val);
      std::vector<size_t> order(n);
      std::iota(order.begin(), order.end(), size_t{0});
      std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return x[a] > x[b]; });
      for (size_t i = 0; i < k; ++i) {
        EXPECT_EQ(idx[i], order[i]) << "n=" << n << " k=" << k << " rank " << i;
        EXPECT_EQ(val[i], x[order[i]]);
      }
    }
  }
  std::vector<size_t> too_many(4);
  std::vector<float> values(4);
  const std::vector<float> three = {1.0f, 2.0f, 3.0f};
  EXPECT_THROW(ops::top_k(three, too_many, values), InputError);
}

}  // namespace
}  // namespace pocketllm
