#pragma once
// A Hugging Face model as found on disk:
//   FOLDER/config.json                      required: the architecture
//   FOLDER/generation_config.json           optional: sampling defaults
//   FOLDER/model.safetensors                weights in one file, or
//   FOLDER/model.safetensors.index.json     weights in shards it names
// or a bare config file of any name (people plan before they download).
// Weights may be absent; when both forms are present the single file wins,
// as in transformers. Everything found is opened and validated on open().
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "formats/safetensors.h"

namespace pocketllm {

enum class HfWeightsLayout { None, SingleFile, Sharded };

class HfModelDir {
 public:
  // `path` is a folder, or a JSON config file. A file named exactly
  // "config.json" is taken as its folder's config, so the folder's
  // generation_config.json and weights are loaded too; a file of any other
  // name (e.g. "Qwen3-8B.json") stands alone. Throws InputError naming the
  // file and the problem.
  static HfModelDir open(const std::string& path);

  // The folder looked in for companions; empty for a stand-alone config file.
  const std::string& folder() const { return folder_; }
  const std::string& config_path() const { return config_path_; }
  const nlohmann::json& config() const { return config_; }  // a JSON object

  // Path and contents (a JSON object) of generation_config.json, when present.
  const std::string& generation_config_path() const { return generation_config_path_; }
  const std::optional<nlohmann::json>& generation_config() const { return generation_config_; }

  HfWeightsLayout weights_layout() const { return weights_layout_; }
  // model.safetensors or model.safetensors.index.json; empty when None.
  const std::string& weights_path() const { return weights_path_; }
  // The opened weights; nullptr when None.
  const SafetensorsModel* weights() const { return weights_ ? &*weights_ : nullptr; }

 private:
  HfModelDir() = default;

  std::string folder_;
  std::string config_path_;
  nlohmann::json config_;
  std::string generation_config_path_;
  std::optional<nlohmann::json> generation_config_;
  HfWeightsLayout weights_layout_ = HfWeightsLayout::None;
  std::string weights_path_;
  std::optional<SafetensorsModel> weights_;
};

}  // namespace pocketllm
