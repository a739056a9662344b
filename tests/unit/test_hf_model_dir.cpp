// Hugging Face model folders and bare config files: what is found, what is
// optional, and the one-line errors for malformed JSON (the committed corpus
// tests/data/hf/malformed/EXPECTED.txt).
#include "test_support.h"
#include "formats/hf_model_dir.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "formats/json_file.h"
#include "util/error.h"

namespace pocketllm {
namespace {

using namespace pocketllm::test_support;

namespace fs = std::filesystem;

const std::string kData = POCKETLLM_TEST_DATA_DIR;

TEST(HfModelDir, GoldenQwen3Folder) {
  const std::string folder = kData + "/hf/qwen3";
  const HfModelDir model = HfModelDir::open(folder);
  EXPECT_EQ(model.folder(), folder);
  EXPECT_EQ(model.config_path(), folder + "/config.json");
  EXPECT_EQ(model.config().at("model_type"), "qwen3");
  EXPECT_EQ(model.config().at("architectures")[0], "Qwen3ForCausalLM");
  EXPECT_EQ(model.config().at("head_dim"), 32);  // README: head_dim 32, not hidden/heads = 16
  ASSERT_TRUE(model.generation_config().has_value());
  EXPECT_EQ(model.generation_config()->at("transformers_version"), "5.17.0");
  EXPECT_EQ(model.weights_layout(), HfWeightsLayout::SingleFile);
  EXPECT_EQ(model.weights_path(), folder + "/model.safetensors");
  const SafetensorsModel* weights = model.weights();
  ASSERT_NE(weights, nullptr);
  EXPECT_EQ(weights->tensors().size(), 36U);  // golden.json "tensor_count"
}

TEST(HfModelDir, ConfigJsonPathMeansItsFolder) {
  const std::string folder = kData + "/hf/gptoss";
  const HfModelDir model = HfModelDir::open(folder + "/config.json");
  EXPECT_EQ(model.folder(), folder);
  EXPECT_EQ(model.config().at("model_type"), "gpt_oss");
  EXPECT_EQ(model.config().at("num_local_experts"), 8);
  EXPECT_TRUE(model.generation_config().has_value());
  const SafetensorsModel* weights = model.weights();
  ASSERT_NE(weights, nullptr);
  EXPECT_EQ(weights->tensors().size(), 71U);  // golden.json "tensor_count"
}

TEST(HfModelDir, BareConfigOfAnotherNameStandsAlone) {
  // Even next to weights: a file not named config.json is a plan, not a folder.
  TempDir dir;
  fs::copy_file(kData + "/hf/qwen3/config.json", dir.path() / "Qwen3-tiny.json");
  fs::copy_file(kData + "/hf/qwen3/model.safetensors", dir.path() / "model.safetensors");
  const HfModelDir model = HfModelDir::open((dir.path() / "Qwen3-tiny.json").string());
  EXPECT_EQ(model.folder(), "");
  EXPECT_EQ(model.config().at("model_type"), "qwen3");
  EXPECT_FALSE(model.generation_config().has_value());
  EXPECT_EQ(model.weights_layout(), HfWeightsLayout::None);
  EXPECT_EQ(model.weights(), nullptr);
  EXPECT_EQ(model.weights_path(), "");
}

TEST(HfModelDir, FolderWithOnlyAConfigHasNoWeights) {
  TempDir dir;
  fs::copy_file(kData + "/hf/qwen3/config.json", dir.path() / "config.json");
  const HfModelDir model = HfModelDir::open(dir.path().string());
  EXPECT_EQ(model.weights_layout(), HfWeightsLayout::None);
  EXPECT_EQ(model.weights(), nullptr);
  EXPECT_FALSE(model.generation_config().has_value());
}

TEST(HfModelDir, ShardedFolder) {
  // An index whose one shard is the golden file: enough to see the folder
  // take the sharded path (shard checks are in test_safetensors).
  TempDir dir;
  fs::copy_file(kData + "/hf/qwen3/config.json", dir.path() / "config.json");
  fs::copy_file(kData + "/hf/qwen3/model.safetensors", dir.path() / "model-00001-of-00001.safetensors");
  const SafetensorsModel single = SafetensorsModel::open_file(kData + "/hf/qwen3/model.safetensors");
  nlohmann::json weight_map = nlohmann::json::object();
  for (const SafetensorsTensor* t : single.tensors()) weight_map[t->name] = "model-00001-of-00001.safetensors";
  write_file(dir.path() / "model.safetensors.index.json",
             nlohmann::json{{"metadata", {{"total_size", single.tensor_bytes()}}}, {"weight_map", weight_map}}
                 .dump());
  const HfModelDir model = HfModelDir::open(dir.path().string());
  EXPECT_EQ(model.weights_layout(), HfWeightsLayout::Sharded);
  EXPECT_EQ(model.weights_path(), (dir.path() / "model.safetensors.index.json").string());
  const SafetensorsModel* weights = model.weights();
  ASSERT_NE(weights, nullptr);
  EXPECT_EQ(weights->tensors().size(), 36U);
  EXPECT_EQ(weights->tensor_bytes(), single.tensor_bytes());

  // With model.safetensors present too, the single file wins (as in transformers).
  fs::copy_file(kData + "/hf/qwen3/model.safetensors", dir.path() / "model.safetensors");
  EXPECT_EQ(HfModelDir::open(dir.path().string()).weights_layout(), HfWeightsLayout::SingleFile);
}

TEST(HfModelDir, FolderWithoutConfig) {
  TempDir dir;
  const std::string error = error_of([&] { HfModelDir::open(dir.path().string()); });
  EXPECT_NE(error.find(dir.path().string() + ": no config.json in this folder"), std::string::npos) << error;
}

TEST(HfModelDir, MissingConfigFile) {
  const std::string error = error_of([] { HfModelDir::open(kData + "/hf/none/config.json"); });
  EXPECT_NE(error.find("hf/none/config.json: cannot open"), std::string::npos) << error;
}

TEST(HfModelDir, BrokenGenerationConfigIsReportedByName) {
  TempDir dir;
  fs::copy_file(kData + "/hf/qwen3/config.json", dir.path() / "config.json");
  write_file(dir.path() / "generation_config.json", "{\"do_sample\": tru}");
  const std::string error = error_of([&] { HfModelDir::open(dir.path().string()); });
  EXPECT_NE(error.find("generation_config.json: line 1 column"), std::string::npos) << error;
}

TEST(HfModelDir, BrokenWeightsAreReportedByName) {
  TempDir dir;
  fs::copy_file(kData + "/hf/qwen3/config.json", dir.path() / "config.json");
  write_file(dir.path() / "model.safetensors", "tiny");
  const std::string error = error_of([&] { HfModelDir::open(dir.path().string()); });
  EXPECT_NE(error.find("model.safetensors: offset 0: file is 4 bytes"), std::string::npos) << error;
}

// --- malformed config corpus -----------------------------------------------

struct Expectation {
  std::string file;
  std::string substring;
};

std::vector<Expectation> read_expectations() {
  std::ifstream in(kData + "/hf/malformed/EXPECTED.txt");
  std::vector<Expectation> list;
  std::string line;
  while (std::getline(in, line)) {
    const size_t tab = line.find('\t');
    if (line.empty() || line[0] == '#' || tab == std::string::npos) continue;
    list.push_back({line.substr(0, tab), line.substr(tab + 1)});
  }
  return list;
}

class MalformedConfig : public testing::TestWithParam<Expectation> {};

TEST_P(MalformedConfig, OneLineInputErrorNamingFileAndProblem) {
  const std::string path = kData + "/hf/malformed/" + GetParam().file;
  ASSERT_TRUE(fs::exists(path)) << path;
  const std::string error = error_of([&] { HfModelDir::open(path); });
  EXPECT_EQ(error.rfind(path + ": ", 0), 0U) << error;
  EXPECT_NE(error.find(GetParam().substring), std::string::npos) << error;
  EXPECT_EQ(error.find('\n'), std::string::npos) << error;
}

INSTANTIATE_TEST_SUITE_P(Corpus, MalformedConfig, testing::ValuesIn(read_expectations()),
                         [](const testing::TestParamInfo<Expectation>& param_info) {
                           std::string name = param_info.param.file.substr(0, param_info.param.file.find('.'));
                           for (char& c : name) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return name;
                         });

TEST(MalformedConfig, CorpusIsNotEmpty) { EXPECT_GE(read_expectations().size(), 5U); }

// --- json_file helpers -------------------------------------------------------

TEST(JsonFile, LineColumnCountsFromOne) {
  EXPECT_EQ(json_line_column("ab\ncd", 0), "line 1 column 1");
  EXPECT_EQ(json_line_column("ab\ncd", 4), "line 2 column 2");
  EXPECT_EQ(json_line_column("ab\ncd", 99), "line 2 column 3");
}

TEST(JsonFile, QuoteForMessageEscapesAndCuts) {
  EXPECT_EQ(quote_for_message("a'b\n"), "'a\\'b\\x0a'");
  const std::string quoted = quote_for_message(std::string(500, 'x'));
  EXPECT_LT(quoted.size(), 130U);
  EXPECT_EQ(quoted.substr(quoted.size() - 4), "...'");
}

TEST(JsonFile, DuplicateKeysInNestedObjectsAreFoundButSiblingsMayShareKeys) {
  const auto locate = [](size_t byte) { return "t: byte " + std::to_string(byte); };
  EXPECT_NO_THROW(parse_untrusted_json(R"({"a":{"k":1},"b":{"k":2},"c":[{"k":1},{"k":2}]})", locate));
  const std::string error =
      error_of([&] { parse_untrusted_json(R"({"a":{"k":1,"j":[],"k":2}})", locate); });
  // The second "k" closes its quote at byte 21.
  EXPECT_EQ(error, "t: byte 21: duplicate key 'k'");
}

}  // namespace
}  // namespace pocketllm
