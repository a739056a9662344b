// The model part of `pocketllm info`: JSON with integer counts and bytes, and
// the text form, on configs whose figures are checked by hand.
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "test_support.h"
#include "model/model_desc_hf.h"
#include "model/model_info.h"
#include "model/model_stats.h"

namespace pocketllm {
namespace {

using nlohmann::json;

ModelDesc describe_config(const std::string& file) {
  return describe_from_hf_config(test_support::load_test_json("configs/" + file), file);
}

TEST(ModelInfo, JsonCarriesIntegersAndTheHandCheckedFigures) {
  const ModelDesc d = describe_config("GLM-4.7-Flash.json");
  // Round trip through text, as a script reading `info --json` sees it.
  const json j = json::parse(model_info_to_json(d, compute_stats(d)).dump());
  EXPECT_EQ(j["architecture"], "glm4moelite");
  EXPECT_EQ(j["layers"], 47);
  ASSERT_TRUE(j["parameters"]["total"].is_number_integer());
  EXPECT_EQ(j["parameters"]["total"].get<uint64_t>(), 29'943'393'920u);
  const json& kv = j["kv_cache"];
  ASSERT_TRUE(kv["bytes_per_token"]["f16"]["full_layers"].is_number_integer());
  EXPECT_EQ(kv["bytes_per_token"]["f16"]["full_layers"].get<uint64_t>(), 54'144u);
  EXPECT_EQ(kv["bytes_at_4096_tokens"]["f16"].get<uint64_t>(), 54'144u * 4096);
  EXPECT_EQ(kv["expanded"]["f16"]["bytes_per_token"].get<uint64_t>(), 962'560u);
  EXPECT_TRUE(kv["latent"].get<bool>());
  EXPECT_EQ(j["mla"]["kv_lora_rank"], 512);
  EXPECT_EQ(j["moe"]["leading_dense_layers"], 1);

  const ModelDesc oss = describe_config("gpt-oss-20b.json");
  const json o = model_info_to_json(oss, compute_stats(oss));
  EXPECT_EQ(o["kv_cache"]["sliding_layers"], 12);
  EXPECT_EQ(o["kv_cache"]["sliding_window"], 128);
  EXPECT_EQ(o["kv_cache"]["bytes_per_token"]["f16"]["sliding_layers"].get<uint64_t>(), 24'576u);
  EXPECT_EQ(o["sliding_layers"].size(), 12u);
  EXPECT_EQ(o["sliding_layers"][1], 2);
  EXPECT_TRUE(o["mla"].is_null());

  const ModelDesc llama = describe_config("Llama-3.1-8B.json");
  const json l = model_info_to_json(llama, compute_stats(llama));
  EXPECT_TRUE(l["moe"].is_null());
  EXPECT_EQ(l["parameters"]["active"], l["parameters"]["total"]);
  EXPECT_EQ(l["rope"]["scaling"], "llama3");
}

TEST(ModelInfo, TextLines) {
  const ModelDesc d = describe_config("Llama-3.1-8B.json");
  const std::string text = format_model_info(d, compute_stats(d));
  EXPECT_NE(text.find("architecture          llama (LlamaForCausalLM)\n"), std::string::npos) << text;
  EXPECT_NE(text.find("parameters            8.03 B (8030261248)\n"), std::string::npos) << text;
  EXPECT_NE(text.find("kv cache f16          131072 B/token; 512.00 MiB at 4096 tokens\n"), std::string::npos)
      << text;
  const ModelDesc oss = describe_config("gpt-oss-20b.json");
  const std::string oss_text = format_model_info(oss, compute_stats(oss));
  EXPECT_NE(oss_text.find("sliding window        128 tokens on 12 of 24 layers\n"), std::string::npos) << oss_text;
  EXPECT_EQ(format_bytes(1023), "1023 B");
  EXPECT_EQ(format_bytes(3u * 1024 * 1024 * 1024 / 2), "1.50 GiB");
  EXPECT_EQ(format_count(3'608'307'264u), "3.61 B");
}

}  // namespace
}  // namespace pocketllm
