// `pocketllm info` as a user runs it: the real binary, its exit status,
// stdout (text and --json) and stderr.
#include <gtest/gtest.h>
#include <string>

#include <nlohmann/json.hpp>

#include "test_support.h"

namespace {

using namespace pocketllm::test_support;

nlohmann::json info_json(const std::string& model) {
  const RunResult run = run_pocketllm("info --json " + model);
  EXPECT_EQ(run.status, 0) << run.err;
  return nlohmann::json::parse(run.out);
}

std::string data(const std::string& relative) { return test_data_path(relative); }

TEST(CliInfo, EmbeddedModelTextNamesArchitectureAndParameters) {
  const RunResult run = run_pocketllm("info");
  ASSERT_EQ(run.status, 0) << run.err;
  EXPECT_TRUE(run.err.empty()) << run.err;
  EXPECT_NE(run.out.find("architecture          llama"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("(292800)"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("CPU: "), std::string::npos);
  EXPECT_NE(run.out.find("Memory: total "), std::string::npos);
}

// stories260K (models/SOURCES.md): vocab 512, embd 64, 5 layers, 8 heads of 8,
// 4 KV heads, FFN 172, separate output matrix. Per layer: q 64*64 + k 64*32 +
// v 64*32 + o 64*64 = 12288, FFN 3*64*172 = 33024, two norms 128 -> 45440;
// 5 layers 227200 + embeddings 2*512*64 + final norm 64 = 292800.
TEST(CliInfo, EmbeddedModelJson) {
  const nlohmann::json report = info_json("");
  const nlohmann::json& model = report.at("model");
  EXPECT_EQ(model.at("architecture"), "llama");
  EXPECT_EQ(model.at("format"), "gguf");
  EXPECT_EQ(model.at("gguf_version"), 3);
  EXPECT_EQ(model.at("context_length"), 2048);
  ASSERT_TRUE(model.at("parameters").at("total").is_number_integer());
  EXPECT_EQ(model.at("parameters").at("total"), 292800);
  EXPECT_EQ(model.at("file").at("parameters"), 292800);
  // All F32: 4 bytes a parameter, in 48 tensors (9 per layer + 3).
  EXPECT_EQ(model.at("file").at("bytes"), 292800 * 4);
  EXPECT_EQ(model.at("file").at("by_type").at(0).at("type"), "F32");
  EXPECT_EQ(model.at("file").at("tensors"), 48);
  // f16 KV: 5 layers * (K + V) * 4 heads * 8 dims * 2 bytes = 640 B/token.
  EXPECT_EQ(model.at("kv_cache").at("bytes_per_token").at("f16").at("full_layers"), 640);
  const nlohmann::json& memory = report.at("hardware").at("memory").at("system");
  ASSERT_TRUE(memory.at("total_bytes").is_number_integer());
  EXPECT_GT(memory.at("total_bytes").get<uint64_t>(), 0U);
  EXPECT_GE(report.at("hardware").at("cpu").at("physical_cores").get<int>(), 1);
}

// GLM-4.7-Flash (config): 47 layers, MLA kv_lora_rank 512 + rope 64 cached per
// layer -> 47 * 576 * 2 B = 54144 B/token at f16; expanded per-head K (192+64)
// and V (256) for 20 heads -> 47 * 20 * 512 * 2 B = 962560 B/token (17.8x).
TEST(CliInfo, GlmFlashLatentKv) {
  const nlohmann::json model = info_json(data("configs/GLM-4.7-Flash.json")).at("model");
  const nlohmann::json& kv = model.at("kv_cache");
  EXPECT_EQ(kv.at("latent"), true);
  EXPECT_EQ(kv.at("bytes_per_token").at("f16").at("full_layers"), 54144);
  EXPECT_EQ(kv.at("expanded").at("f16").at("bytes_per_token"), 962560);
  EXPECT_EQ(kv.at("bytes_at_4096_tokens").at("f16"), 54144LL * 4096);
  EXPECT_EQ(model.at("file").at("tensors"), 0);  // a bare config: no weights
}

// gpt-oss-20b (config): layer_types alternate sliding/full over 24 layers,
// window 128; 8 KV heads of 64 dims -> per layer 2*8*64*2 = 2048 B/token.
TEST(CliInfo, GptOssSlidingLayers) {
  const nlohmann::json model = info_json(data("configs/gpt-oss-20b.json")).at("model");
  const nlohmann::json& kv = model.at("kv_cache");
  EXPECT_EQ(kv.at("sliding_layers"), 12);
  EXPECT_EQ(kv.at("full_layers"), 12);
  EXPECT_EQ(kv.at("sliding_window"), 128);
  EXPECT_EQ(kv.at("bytes_per_token").at("f16").at("full_layers"), 12 * 2048);
  EXPECT_EQ(kv.at("bytes_per_token").at("f16").at("sliding_layers"), 12 * 2048);
  // 4096 tokens: full layers hold all of them, sliding layers only 128.
  EXPECT_EQ(kv.at("bytes_at_4096_tokens").at("f16"), 12LL * 2048 * 4096 + 12LL * 2048 * 128);
  // Model card: 21B total (20.9B), 3.6B active.
  const double total = model.at("parameters").at("total").get<double>();
  EXPECT_NEAR(total / 1e9, 20.9, 0.05);
  EXPECT_NEAR(model.at("parameters").at("active_excl_token_embedding").get<double>() / 1e9, 3.6, 0.05);
}

// Llama-3.1-8B: 32 layers * (K + V) * 8 KV heads * 128 dims * 2 B = 131072 B/token.
TEST(CliInfo, Llama31KvPerToken) {
  const nlohmann::json model = info_json(data("configs/Llama-3.1-8B.json")).at("model");
  EXPECT_EQ(model.at("kv_cache").at("bytes_per_token").at("f16").at("full_layers"), 131072);
  EXPECT_EQ(model.at("architecture"), "llama");
}

// A Hugging Face folder with weights: every tensor of the golden qwen3 bundle
// is bf16 (2 bytes a parameter), and the description's expected tensors
// account for exactly the parameters in the file.
TEST(CliInfo, HuggingFaceFolderWithWeights) {
  const nlohmann::json model = info_json(data("hf/qwen3")).at("model");
  EXPECT_EQ(model.at("format"), "huggingface");
  EXPECT_EQ(model.at("architecture"), "qwen3");
  const nlohmann::json& file = model.at("file");
  ASSERT_EQ(file.at("by_type").size(), 1U);
  EXPECT_EQ(file.at("by_type").at(0).at("type"), "BF16");
  EXPECT_EQ(file.at("bytes").get<uint64_t>(), 2 * file.at("parameters").get<uint64_t>());
  EXPECT_EQ(file.at("parameters"), model.at("parameters").at("total"));
}

TEST(CliInfo, MissingFileIsOneLineErrorWithStatus2) {
  const RunResult run = run_pocketllm("info /nonexistent/model.gguf");
  EXPECT_EQ(run.status, 2);
  EXPECT_TRUE(run.out.empty());
  EXPECT_EQ(run.err, "pocketllm: error: /nonexistent/model.gguf: no such file or folder\n");
}

TEST(CliInfo, NotAModelIsRefused) {
  const RunResult run = run_pocketllm("info " + data("configs/SOURCES.md"));
  EXPECT_EQ(run.status, 2);
  EXPECT_NE(run.err.find("SOURCES.md: not a model"), std::string::npos) << run.err;
}

TEST(CliInfo, UnsupportedArchitectureNamed) {
  const RunResult run = run_pocketllm("info " + data("configs/gemma-4-E4B.text_config.json"));
  EXPECT_EQ(run.status, 2);
  EXPECT_NE(run.err.find("unsupported architecture 'gemma4_text'"), std::string::npos) << run.err;
}

TEST(CliInfo, ModelGivenTwiceIsAUsageError) {
  const RunResult run = run_pocketllm("info -m a.gguf b.gguf");
  EXPECT_EQ(run.status, 2);
}

TEST(CliInfo, UnknownOptionIsAUsageError) {
  const RunResult run = run_pocketllm("info --no-such-flag");
  EXPECT_EQ(run.status, 2);
}

}  // namespace
