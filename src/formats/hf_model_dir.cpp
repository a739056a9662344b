#include "formats/hf_model_dir.h"

#include <filesystem>
#include <system_error>

#include "formats/json_file.h"
#include "util/error.h"

namespace pocketllm {
namespace {

namespace fs = std::filesystem;

// Regular file (or a link to one: the Hugging Face cache links snapshots to blobs).
bool is_file(const fs::path& path) {
  std::error_code error;
  return fs::is_regular_file(path, error);
}

}  // namespace

HfModelDir HfModelDir::open(const std::string& path) {
  HfModelDir model;
  std::error_code error;
  const fs::path given(path);
  if (fs::is_directory(given, error)) {
    model.folder_ = path;
    const fs::path config = given / "config.json";
    if (!is_file(config)) {
      throw InputError(path + ": no config.json in this folder (not a Hugging Face model folder?)");
    }
    model.config_path_ = config.string();
  } else {
    // A missing or unreadable file is reported by the JSON loader below.
    model.config_path_ = path;
    if (given.filename() == "config.json") {
      const fs::path parent = given.parent_path();
      model.folder_ = parent.empty() ? std::string(".") : parent.string();
    }
  }
  model.config_ = load_json_object_file(model.config_path_);
  if (model.folder_.empty()) return model;  // a stand-alone config file

  const fs::path folder(model.folder_);
  if (const fs::path generation = folder / "generation_config.json"; is_file(generation)) {
    model.generation_config_path_ = generation.string();
    model.generation_config_ = load_json_object_file(model.generation_config_path_);
  }
  if (const fs::path single = folder / "model.safetensors"; is_file(single)) {
    model.weights_layout_ = HfWeightsLayout::SingleFile;
    model.weights_path_ = single.string();
    model.weights_ = SafetensorsModel::open_file(model.weights_path_);
  } else if (const fs::path index = folder / "model.safetensors.index.json"; is_file(index)) {
    model.weights_layout_ = HfWeightsLayout::Sharded;
    model.weights_path_ = index.string();
    model.weights_ = SafetensorsModel::open_index(model.weights_path_);
  }
  return model;
}

}  // namespace pocketllm
