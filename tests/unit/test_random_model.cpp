// `pocketllm gen` (random-weight GGUF at real shapes) and the weight
// quantizer it uses. The quantizer's round trip is held to the error bound
// that each ggml block format allows (weight_quantizer.h); the generated file
// must read back with our GGUF reader and ModelDesc at the preset's shapes,
// and load and run in llama.cpp (node-llama-cpp from tests/js, live).
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "backends/cpu/quant/dequantize.h"
#include "backends/cpu/quant/scalar_types.h"
#include "formats/gguf.h"
#include "model/model_desc_gguf.h"
#include "test_support.h"
#include "tokenizer/tokenizer.h"
#include "tools/random_model.h"
#include "tools/weight_quantizer.h"

namespace fs = std::filesystem;
using namespace pocketllm;
using namespace pocketllm::test_support;

namespace {

const std::string kVocab = test_data_path("tokenizer/llama-cpp-vocab/ggml-vocab-llama-spm.gguf");
const std::string kJsDir = js_dir();

std::vector<float> quantize_round_trip(GgmlType type, const std::vector<float>& x) {
  std::vector<std::byte> bytes(*ggml_tensor_bytes(type, x.size()));
  quantize_row(type, x.data(), bytes.data(), static_cast<int64_t>(x.size()));
  std::vector<float> y(x.size());
  dequantize_row(type, bytes, y);
  return y;
}

// Random blocks of varied scale, plus blocks that stress the edge cases:
// all zeros, one outlier, all equal, and sign-flipped extremes.
std::vector<float> test_values() {
  std::mt19937 rng(7);
  std::vector<float> x;
  for (int block = 0; block < 64; ++block) {
    const float scale = std::ldexp(1.0f, block % 16 - 8);
    std::normal_distribution<float> normal(0.0f, scale);
    for (int j = 0; j < 32; ++j) x.push_back(normal(rng));
  }
  for (int j = 0; j < 32; ++j) x.push_back(0.0f);
  for (int j = 0; j < 32; ++j) x.push_back(j == 5 ? 100.0f : 0.01f * static_cast<float>(j));
  for (int j = 0; j < 32; ++j) x.push_back(-3.0f);
  for (int j = 0; j < 32; ++j) x.push_back(j % 2 == 0 ? 1.0f : -1.0f);
  return x;
}

// The largest error an element of a 32-block may get (weight_quantizer.h):
// the quantization step's share plus the f16 rounding of the scale (and of
// the minimum for the _1 types), with a little f32 slack.
float error_bound(GgmlType type, const float* block) {
  float amax = 0.0f;
  float lo = block[0];
  float hi = block[0];
  for (int j = 0; j < 32; ++j) {
    amax = std::max(amax, std::fabs(block[j]));
    lo = std::min(lo, block[j]);
    hi = std::max(hi, block[j]);
  }
  const float f16_rel = std::ldexp(1.0f, -11);
  const float slack = 1e-6f * amax;
  switch (type) {
    case GgmlType::Q8_0: { const float d = amax / 127; return d / 2 + 127 * d * f16_rel + slack; }
    case GgmlType::Q4_0: { const float d = amax / 8; return d + 8 * d * f16_rel + slack; }
    case GgmlType::Q5_0: { const float d = amax / 16; return d + 16 * d * f16_rel + slack; }
    case GgmlType::Q4_1: { const float d = (hi - lo) / 15; return d / 2 + 15 * d * f16_rel + std::fabs(lo) * f16_rel + slack; }
    case GgmlType::Q5_1: { const float d = (hi - lo) / 31; return d / 2 + 31 * d * f16_rel + std::fabs(lo) * f16_rel + slack; }
    default: return 0.0f;
  }
}

TEST(WeightQuantizer, RoundTripWithinTheBlockFormatsErrorBound) {
  const std::vector<float> x = test_values();
  for (GgmlType type : {GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q8_0}) {
    const std::vector<float> y = quantize_round_trip(type, x);
    for (size_t b = 0; b < x.size() / 32; ++b) {
      const float bound = error_bound(type, &x[32 * b]);
      for (size_t j = 32 * b; j < 32 * b + 32; ++j) {
        ASSERT_LE(std::fabs(y[j] - x[j]), bound) << ggml_type_name(type) << " element " << j << " x=" << x[j];
      }
    }
  }
}

TEST(WeightQuantizer, ValuesOnTheGridComeBackExactly) {
  // A block of k * d for every quant k the format has, with d a power of two
  // (exact in f16) and the extreme chosen so the quantizer picks that d.
  std::vector<float> q4(32);
  std::vector<float> q8(32);
  for (int j = 0; j < 32; ++j) {
    q4[static_cast<size_t>(j)] = static_cast<float>(j % 16 - 8) * 0.25f;  // -8 d is the signed max: d = 0.25
    q8[static_cast<size_t>(j)] = static_cast<float>(j * 8 - 127) * 0.5f;  // amax 127 d: d = 0.5
  }
  q8[31] = 127 * 0.5f;
  EXPECT_EQ(quantize_round_trip(GgmlType::Q4_0, q4), q4);
  EXPECT_EQ(quantize_round_trip(GgmlType::Q8_0, q8), q8);
}

TEST(WeightQuantizer, Q4_0BytesFollowGgmlsLayout) {
  // d = max / -8 with max = -2 (the value of largest magnitude): d = 0.25
  // (f16 0x3400); q = x / d + 8, element j in the low nibble of qs[j],
  // element j + 16 in the high nibble.
  std::vector<float> x(32);
  for (int j = 0; j < 32; ++j) x[static_cast<size_t>(j)] = static_cast<float>(j % 16 - 8) * 0.25f;
  std::vector<uint8_t> bytes(18);
  quantize_row(GgmlType::Q4_0, x.data(), bytes.data(), 32);
  EXPECT_EQ(bytes[0] | (bytes[1] << 8), 0x3400);
  for (int j = 0; j < 16; ++j) EXPECT_EQ(bytes[static_cast<size_t>(2 + j)], j | (j << 4)) << j;
}

TEST(WeightQuantizer, F16AndBf16RoundToNearest) {
  const std::vector<float> x = test_values();
  const std::vector<float> h = quantize_round_trip(GgmlType::F16, x);
  const std::vector<float> b = quantize_round_trip(GgmlType::BF16, x);
  for (size_t i = 0; i < x.size(); ++i) {
    EXPECT_EQ(h[i], fp16_to_f32(f32_to_fp16(x[i])));
    EXPECT_EQ(b[i], bf16_to_f32(f32_to_bf16(x[i])));
  }
}

TEST(WeightQuantizer, RefusesPartialBlocksAndUnsupportedTypes) {
  std::vector<float> x(48, 1.0f);
  std::vector<uint8_t> out(1024);
  EXPECT_EQ(error_of([&] { quantize_row(GgmlType::Q8_0, x.data(), out.data(), 48); }),
            "cannot quantize 48 elements to Q8_0: not a multiple of its block size 32");
  EXPECT_EQ(error_of([&] { quantize_row(GgmlType::Q6_K, x.data(), out.data(), 32); }), "no quantizer for tensor type Q6_K");
}

// Published shapes of the presets (TinyLlama/TinyLlama-1.1B-Chat-v1.0 and
// meta-llama/Llama-2-7b-hf config.json).
TEST(RandomModel, PresetsHaveThePublishedShapes) {
  const RandomModelPreset& t = find_random_model_preset("tinyllama-1.1b");
  EXPECT_EQ(t.n_embd, 2048u);
  EXPECT_EQ(t.n_layers, 22u);
  EXPECT_EQ(t.n_heads, 32u);
  EXPECT_EQ(t.n_kv_heads, 4u);
  EXPECT_EQ(t.n_ff, 5632u);
  EXPECT_EQ(t.vocab_size, 32000u);
  EXPECT_EQ(t.rope_theta, 10000.0);
  const RandomModelPreset& l = find_random_model_preset("llama2-7b");
  EXPECT_EQ(l.n_embd, 4096u);
  EXPECT_EQ(l.n_layers, 32u);
  EXPECT_EQ(l.n_kv_heads, 32u);
  EXPECT_EQ(l.n_ff, 11008u);
  EXPECT_EQ(error_of([] { find_random_model_preset("gpt-5"); }),
            "unknown preset 'gpt-5' (known: tiny, tinyllama-1.1b, llama2-7b)");
}

TEST(RandomModel, GenWritesAFileThatReadsBackAtThePresetsShapes) {
  TempDir dir;
  const std::string path = (dir.path() / "tiny.gguf").string();
  const RunResult run =
      run_pocketllm("gen --arch llama --preset tiny --type q8_0 --seed 3 --vocab " + kVocab + " -o " + path);
  ASSERT_EQ(run.status, 0) << run.err;

  const GgufFile file = GgufFile::open(path);
  const ModelDesc desc = describe_from_gguf(file);
  EXPECT_EQ(desc.architecture, "llama");
  EXPECT_EQ(desc.n_embd, 64u);
  EXPECT_EQ(desc.n_layers, 2u);
  EXPECT_EQ(desc.n_heads, 4u);
  EXPECT_EQ(desc.n_kv_heads, 2u);
  EXPECT_EQ(desc.head_dim_k, 16u);
  EXPECT_EQ(desc.n_ff, 128u);
  EXPECT_EQ(desc.vocab_size, 32000u);
  EXPECT_EQ(desc.rope.theta, 10000.0);
  EXPECT_EQ(file.get_uint("general.file_type"), 7u);  // LLAMA_FTYPE_MOSTLY_Q8_0
  ASSERT_EQ(file.tensors().size(), 3u + 9u * 2u);

  // Matrices in the requested type, norms F32 and all ones; the weights are
  // uniform with stddev 0.02 (a = 0.02 sqrt 3 = 0.0346), up to Q8_0 rounding.
  const GgufTensorInfo* q = file.find_tensor("blk.1.attn_q.weight");
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->type, GgmlType::Q8_0);
  EXPECT_EQ(q->ne, (std::vector<uint64_t>{64, 64}));
  const GgufTensorInfo* k = file.find_tensor("blk.0.attn_k.weight");
  ASSERT_NE(k, nullptr);
  EXPECT_EQ(k->ne, (std::vector<uint64_t>{64, 32}));
  const GgufTensorInfo* norm = file.find_tensor("output_norm.weight");
  ASSERT_NE(norm, nullptr);
  EXPECT_EQ(norm->type, GgmlType::F32);
  EXPECT_EQ(norm->ne, (std::vector<uint64_t>{64}));

  std::vector<float> w(64 * 32);
  const auto bytes = file.tensor_data(*k);
  dequantize_row(GgmlType::Q8_0, std::as_bytes(bytes), w);
  double sum2 = 0.0;
  float amax = 0.0f;
  for (float v : w) {
    sum2 += static_cast<double>(v) * static_cast<double>(v);
    amax = std::max(amax, std::fabs(v));
  }
  const double stddev = std::sqrt(sum2 / static_cast<double>(w.size()));
  EXPECT_NEAR(stddev, 0.02, 0.002);  // 2048 samples: the estimate's own spread is ~0.0003
  EXPECT_LE(amax, 0.0347f);

  // The same seed gives the same bytes; another seed other weights.
  const std::string again = (dir.path() / "again.gguf").string();
  const std::string other = (dir.path() / "other.gguf").string();
  ASSERT_EQ(run_pocketllm("gen --preset tiny --type q8_0 --seed 3 --vocab " + kVocab + " -o " + again).status, 0);
  ASSERT_EQ(run_pocketllm("gen --preset tiny --type q8_0 --seed 4 --vocab " + kVocab + " -o " + other).status, 0);
  EXPECT_EQ(read_file_bytes(path), read_file_bytes(again));
  EXPECT_NE(read_file_bytes(path), read_file_bytes(other));
}

TEST(RandomModel, GenRefusesBadRequestsWithOneLine) {
  TempDir dir;
  const std::string out = " -o " + (dir.path() / "x.gguf").string();
  RunResult r = run_pocketllm("gen --preset tiny --type q6_k --vocab " + kVocab + out);
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err,
            "pocketllm: error: gen: cannot write tensor type Q6_K (supported: f32, f16, bf16, q4_0, q4_1, q5_0, q5_1, q8_0)\n");
  r = run_pocketllm("gen --preset nope --vocab " + kVocab + out);
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err, "pocketllm: error: unknown preset 'nope' (known: tiny, tinyllama-1.1b, llama2-7b)\n");
  r = run_pocketllm("gen --preset tinyllama-1.1b --vocab " + test_data_path("gguf/ggml-vocab-bert-bge.gguf") + out);
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("has 30522 tokens, preset 'tinyllama-1.1b' needs 32000"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir.path() / "x.gguf"));
}

TEST(RandomModel, LlamaCppLoadsAndRunsTheGeneratedModel) {
  POCKETLLM_REQUIRE_LLAMA_CPP_ORACLE();
  TempDir dir;
  const std::string path = (dir.path() / "tiny.gguf").string();
  ASSERT_EQ(run_pocketllm("gen --preset tiny --type q4_0 --vocab " + kVocab + " -o " + path).status, 0);

  int status = -1;
  const std::string out = command_output(
      "node " + kJsDir + "/llama_cpp_greedy.mjs --threads 1 --n 4 --model " + path + " --prompt 'Hello world'", status);
  ASSERT_EQ(status, 0) << out;
  const auto result = nlohmann::json::parse(out);

  // llama.cpp tokenizes the prompt as our tokenizer does (BOS first) ...
  const GgufFile file = GgufFile::open(path);
  const std::vector<TokenId> ours = Tokenizer::from_gguf(file).encode("Hello world", true, false);
  EXPECT_EQ(result["prompt"].get<std::vector<TokenId>>(), ours);
  EXPECT_EQ(ours, (std::vector<TokenId>{1, 15043, 3186}));  // Llama 2's ids for "Hello world"
  // ... and runs the random weights to 4 ordinary tokens.
  const auto greedy = result["greedy"].get<std::vector<int>>();
  ASSERT_EQ(greedy.size(), 4u);
  for (int id : greedy) EXPECT_TRUE(id >= 0 && id < 32000) << id;
}

}  // namespace
