// `pocketllm gen` (random-weight GGUF at real shapes) and the weight
// quantizer it uses. The quantizer's round trip is held to the error bound
// that each ggml block format allows (weight_quantizer.h), and its K-quant
// bytes to ggml's own reference quantizers; the generated file
// must read back with our GGUF reader and ModelDesc at the preset's shapes,
// and load and run in llama.cpp (node-llama-cpp from tests/js, live).
#include <dlfcn.h>

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
// stories260K's 512-token vocabulary keeps the K-quant files small (the
// reference quantizers fit every group: ~10x slower than Q8_0).
const std::string kSmallVocab = std::string(POCKETLLM_TEST_DATA_DIR) + "/../../models/stories260K.gguf";
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

// 256-element super-blocks that stress the K-quants' fits: normal and
// uniform groups, groups of scales 2^-8 .. 2^6 in one super-block, all
// positive and all negative (away from 0), sparse outliers of 50x, and
// groups of +-amax only. Scales keep d and dmin normal f16 (weight_quantizer.h).
std::vector<float> k_quant_test_values() {
  std::mt19937 rng(11);
  std::vector<float> x;
  for (int block = 0; block < 96; ++block) {
    const int kind = block % 6;
    const float scale = std::ldexp(1.0f, block % 8);
    std::normal_distribution<float> normal(0.0f, scale);
    std::uniform_real_distribution<float> uniform(-scale, scale);
    for (int j = 0; j < 256; ++j) {
      float v = kind == 1 ? uniform(rng) : normal(rng);
      if (kind == 2) v *= std::ldexp(1.0f, 2 * (j / 32) - 8);
      if (kind == 3) v = (block % 12 < 6 ? 1.0f : -1.0f) * (std::fabs(v) + scale);
      if (kind == 4 && rng() % 64 == 0) v *= 50.0f;
      if (kind == 5) v = (rng() % 2 == 0 ? scale : -scale) * (1.0f + 0.01f * uniform(rng) / scale);
      x.push_back(v);
    }
  }
  return x;
}

// weight_quantizer.h: |err| <= 2 steps of the super-block's span, plus the
// f16 rounding of d and dmin (relative 2^-11 of the span).
float k_quant_error_bound(GgmlType type, const float* block) {
  float lo = 0.0f;
  float hi = 0.0f;
  for (int j = 0; j < 256; ++j) {
    lo = std::min(lo, block[j]);
    hi = std::max(hi, block[j]);
  }
  const float amax = std::max(hi, -lo);
  const float span = type == GgmlType::Q6_K ? amax : hi - lo;
  const float step = span / (type == GgmlType::Q4_K ? 15.0f : type == GgmlType::Q5_K ? 31.0f : 32.0f);
  return 2.0f * step + 2.0f * std::ldexp(span, -11);
}

TEST(WeightQuantizer, KQuantRoundTripWithinTheSuperBlockBound) {
  const std::vector<float> x = k_quant_test_values();
  for (GgmlType type : {GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K}) {
    const std::vector<float> y = quantize_round_trip(type, x);
    double sum2 = 0.0;
    double step2 = 0.0;
    for (size_t b = 0; b < x.size() / 256; ++b) {
      const float bound = k_quant_error_bound(type, &x[256 * b]);
      for (size_t j = 256 * b; j < 256 * b + 256; ++j) {
        ASSERT_LE(std::fabs(y[j] - x[j]), bound) << ggml_type_name(type) << " element " << j << " x=" << x[j];
        const double err = static_cast<double>(y[j]) - static_cast<double>(x[j]);
        sum2 += err * err;
      }
      const double half = static_cast<double>(bound) / 2;
      step2 += 256.0 * half * half;
    }
    // Most elements are far better than the worst case: rounding alone gives
    // step^2 / 12 on average.
    EXPECT_LT(sum2, step2 / 12) << ggml_type_name(type);
  }
}

// The bytes are ggml's own: quantize_row_q*_K_ref from the libggml-base.so
// that node-llama-cpp ships (llama.cpp's build, x86-64 Linux), on the same
// stress blocks and on blocks small enough for subnormal f16 scales.
TEST(WeightQuantizer, KQuantBytesMatchGgmlsReferenceQuantizers) {
  const std::string lib = kJsDir + "/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64/libggml-base.so";
  if (!fs::exists(lib)) GTEST_SKIP() << "no " << lib << " (node-llama-cpp's x86-64 Linux binaries)";
  void* ggml = dlopen(lib.c_str(), RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(ggml, nullptr) << dlerror();
  std::vector<float> x = k_quant_test_values();
  const size_t n = x.size();
  for (size_t i = 0; i < n; ++i) x.push_back(x[i] * 1e-4f);
  using RefQuantizer = void (*)(const float*, void*, int64_t);
  for (const auto& [type, name] : {std::pair{GgmlType::Q4_K, "quantize_row_q4_K_ref"},
                                   std::pair{GgmlType::Q5_K, "quantize_row_q5_K_ref"},
                                   std::pair{GgmlType::Q6_K, "quantize_row_q6_K_ref"}}) {
    const auto ref = reinterpret_cast<RefQuantizer>(dlsym(ggml, name));
    ASSERT_NE(ref, nullptr) << name;
    std::vector<uint8_t> theirs(*ggml_tensor_bytes(type, x.size()));
    std::vector<uint8_t> ours(theirs.size());
    ref(x.data(), theirs.data(), static_cast<int64_t>(x.size()));
    quantize_row(type, x.data(), ours.data(), static_cast<int64_t>(x.size()));
    EXPECT_EQ(ours, theirs) << name;
  }
  dlclose(ggml);
}

TEST(WeightQuantizer, KQuantZerosAndOneGridComeBackExactly) {
  // An all-zero super-block decodes to zeros; so does Q6_K's all-zero group
  // in a super-block whose other groups are integers k in -32..31 times
  // 2^-4 with a -32 in each (d = 2^-4 / 128 * 128 exact in f16).
  std::vector<float> zeros(256, 0.0f);
  for (GgmlType type : {GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K}) {
    EXPECT_EQ(quantize_round_trip(type, zeros), zeros) << ggml_type_name(type);
  }
  std::vector<float> grid(256);
  for (int j = 16; j < 256; ++j) {
    grid[static_cast<size_t>(j)] = static_cast<float>(j % 16 == 0 ? -32 : (j * 7) % 64 - 32) / 16.0f;
  }
  EXPECT_EQ(quantize_round_trip(GgmlType::Q6_K, grid), grid);
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
  EXPECT_EQ(error_of([&] { quantize_row(GgmlType::Q3_K, x.data(), out.data(), 32); }), "no quantizer for tensor type Q3_K");
  EXPECT_EQ(error_of([&] { quantize_row(GgmlType::Q4_K, x.data(), out.data(), 32); }),
            "cannot quantize 32 elements to Q4_K: not a multiple of its block size 256");
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
            "unknown preset 'gpt-5' (known: tiny, tiny-k, tinyllama-1.1b, llama2-7b)");
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
  RunResult r = run_pocketllm("gen --preset tiny --type q3_k --vocab " + kVocab + out);
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err,
            "pocketllm: error: gen: cannot write tensor type Q3_K (supported: f32, f16, bf16, q4_0, q4_1, q5_0, q5_1, q8_0, "
            "q4_k, q5_k, q6_k, q4_k_m, q5_k_m)\n");
  r = run_pocketllm("gen --preset tiny --type q4_k_m --vocab " + kVocab + out);  // 64 wide: not 256-element blocks
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err, "pocketllm: error: gen: preset 'tiny' rows are not whole Q4_K blocks\n");
  r = run_pocketllm("gen --preset nope --vocab " + kVocab + out);
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err, "pocketllm: error: unknown preset 'nope' (known: tiny, tiny-k, tinyllama-1.1b, llama2-7b)\n");
  r = run_pocketllm("gen --preset tinyllama-1.1b --vocab " + test_data_path("gguf/ggml-vocab-bert-bge.gguf") + out);
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("has 30522 tokens, preset 'tinyllama-1.1b' needs 32000"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir.path() / "x.gguf"));
}

// llama.cpp's Q4_K_M mix (llama_tensor_get_type without an imatrix): Q6_K
// for output.weight and for attn_v / ffn_down where use_more_bits(i, n):
// with 8 layers, i < 1, i >= 7, or (i - 1) % 3 == 2, i.e. layers 0, 3, 6, 7.
TEST(RandomModel, GenQ4KMWritesLlamaCppsMixOfTypes) {
  TempDir dir;
  const std::string path = (dir.path() / "q4km.gguf").string();
  const RunResult run = run_pocketllm("gen --preset tiny-k --n-layers 8 --type q4_k_m --vocab " + kSmallVocab + " -o " + path);
  ASSERT_EQ(run.status, 0) << run.err;
  const GgufFile file = GgufFile::open(path);
  EXPECT_EQ(file.get_uint("general.file_type"), 15u);  // LLAMA_FTYPE_MOSTLY_Q4_K_M
  const auto type_of = [&](const std::string& name) {
    const GgufTensorInfo* t = file.find_tensor(name);
    return t ? t->type : GgmlType::F32;
  };
  EXPECT_EQ(type_of("token_embd.weight"), GgmlType::Q4_K);
  EXPECT_EQ(type_of("output.weight"), GgmlType::Q6_K);
  EXPECT_EQ(type_of("output_norm.weight"), GgmlType::F32);
  for (int i = 0; i < 8; ++i) {
    const std::string b = "blk." + std::to_string(i) + ".";
    const GgmlType more = (i == 0 || i == 3 || i == 6 || i == 7) ? GgmlType::Q6_K : GgmlType::Q4_K;
    EXPECT_EQ(type_of(b + "attn_v.weight"), more) << i;
    EXPECT_EQ(type_of(b + "ffn_down.weight"), more) << i;
    for (const char* role : {"attn_q.weight", "attn_k.weight", "attn_output.weight", "ffn_gate.weight", "ffn_up.weight"}) {
      EXPECT_EQ(type_of(b + role), GgmlType::Q4_K) << b << role;
    }
  }
  // The weights decode to the generator's uniform distribution (stddev 0.02).
  const GgufTensorInfo* v = file.find_tensor("blk.0.attn_v.weight");
  ASSERT_NE(v, nullptr);
  std::vector<float> w(256 * 128);
  dequantize_row(GgmlType::Q6_K, std::as_bytes(file.tensor_data(*v)), w);
  double sum2 = 0.0;
  for (float x : w) sum2 += static_cast<double>(x) * static_cast<double>(x);
  EXPECT_NEAR(std::sqrt(sum2 / static_cast<double>(w.size())), 0.02, 0.001);

  const std::string q6 = (dir.path() / "q6k.gguf").string();
  ASSERT_EQ(run_pocketllm("gen --preset tiny-k --type q6_k --vocab " + kSmallVocab + " -o " + q6).status, 0);
  EXPECT_EQ(GgufFile::open(q6).get_uint("general.file_type"), 18u);  // LLAMA_FTYPE_MOSTLY_Q6_K
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

  // A Q4_K_M file (Q4_K and Q6_K blocks) loads and runs too, to the same 4
  // greedy tokens as ours (stories260K's vocabulary; seed 1 has no near tie).
  const std::string mixed = (dir.path() / "q4km.gguf").string();
  ASSERT_EQ(run_pocketllm("gen --preset tiny-k --type q4_k_m --vocab " + kSmallVocab + " -o " + mixed).status, 0);
  const std::string out_k = command_output(
      "node " + kJsDir + "/llama_cpp_greedy.mjs --threads 1 --n 4 --model " + mixed + " --tokens 1,200,300", status);
  ASSERT_EQ(status, 0) << out_k;
  const auto greedy_k = nlohmann::json::parse(out_k)["greedy"].get<std::vector<int>>();
  const RunResult ours_k = run_pocketllm("logits -m " + mixed + " --tokens 1,200,300 --greedy 4 --out " +
                                         (dir.path() / "q4km.npy").string());
  ASSERT_EQ(ours_k.status, 0) << ours_k.err;
  EXPECT_EQ(nlohmann::json::parse(ours_k.out.substr(ours_k.out.rfind('{')))["greedy"].get<std::vector<int>>(), greedy_k) << out_k;
}

}  // namespace
