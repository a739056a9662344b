#include "model/model_source.h"

#include <array>
#include <filesystem>
#include <fstream>

#include "formats/json_file.h"
#include "model/embedded_model.h"
#include "model/model_desc_gguf.h"
#include "model/model_desc_hf.h"
#include "util/error.h"

namespace pocketllm {
namespace {

namespace fs = std::filesystem;

TensorTypeTotals& totals_for(ModelSource& source, std::string_view type, bool supported) {
  for (auto& totals : source.tensor_types) {
    if (totals.type == type) return totals;
  }
  source.tensor_types.push_back({std::string(type), supported, 0, 0, 0});
  return source.tensor_types.back();
}

void add_tensor(ModelSource& source, std::string_view type, bool supported,
                uint64_t n_elements, uint64_t n_bytes) {
  TensorTypeTotals& totals = totals_for(source, type, supported);
  totals.n_tensors += 1;
  totals.n_elements += n_elements;
  totals.n_bytes += n_bytes;
  source.n_tensors += 1;
  source.n_tensor_elements += n_elements;
  source.n_tensor_bytes += n_bytes;
}

void add_safetensors(ModelSource& source, const SafetensorsModel& weights) {
  for (const SafetensorsTensor* tensor : weights.tensors()) {
    add_tensor(source, safetensors_dtype_name(tensor->dtype), true, tensor->n_elements,
               tensor->n_bytes);
  }
}

ModelSource from_gguf(GgufFile file) {
  ModelSource source;
  source.name = file.name();
  source.format = ModelFormat::Gguf;
  for (const GgufTensorInfo& tensor : file.tensors()) {
    const GgmlTypeTraits& traits = ggml_type_traits(tensor.type);
    add_tensor(source, traits.name, traits.supported, tensor.n_elements, tensor.n_bytes);
  }
  source.desc = describe_from_gguf(file);
  source.gguf.emplace(std::move(file));
  return source;
}

ModelSource from_hf(const std::string& path) {
  ModelSource source;
  source.name = path;
  source.format = ModelFormat::HuggingFace;
  HfModelDir dir = HfModelDir::open(path);
  source.desc = describe_from_hf_config(dir.config(), dir.config_path());
  if (const SafetensorsModel* weights = dir.weights()) add_safetensors(source, *weights);
  source.hf.emplace(std::move(dir));
  return source;
}

ModelSource from_safetensors_file(const std::string& path) {
  ModelSource source;
  source.name = path;
  source.format = ModelFormat::Safetensors;
  SafetensorsModel weights = SafetensorsModel::open_file(path);
  add_safetensors(source, weights);
  // A config.json beside the weights describes them.
  const fs::path config = fs::path(path).parent_path() / "config.json";
  std::error_code ec;
  if (fs::is_regular_file(config, ec)) {
    // The config alone: the folder's weights may be other files than this one.
    source.desc = describe_from_hf_config(load_json_object_file(config.string()), config.string());
  }
  source.safetensors.emplace(std::move(weights));
  return source;
}

bool has_extension(const std::string& path, std::string_view extension) {
  return fs::path(path).extension() == extension;
}

// First bytes of the file, to tell GGUF from JSON whatever the extension.
std::array<char, 4> peek_magic(const std::string& path) {
  std::array<char, 4> magic{};
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path + ": cannot open");
  in.read(magic.data(), magic.size());
  return magic;
}

}  // namespace

ModelSource open_model_source(const std::string& path) {
  if (path.empty()) {
    return from_gguf(GgufFile::from_memory(embedded_default_model(),
                                           std::string(kEmbeddedModelName)));
  }
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (ec || !fs::exists(status)) throw InputError(path + ": no such file or folder");
  if (fs::is_directory(status)) return from_hf(path);
  if (!fs::is_regular_file(status)) throw InputError(path + ": not a regular file");

  const std::array<char, 4> magic = peek_magic(path);
  if (has_extension(path, ".gguf") || std::string_view(magic.data(), 4) == "GGUF") {
    return from_gguf(GgufFile::open(path));
  }
  if (has_extension(path, ".safetensors")) return from_safetensors_file(path);
  // The shard index stands for its folder.
  if (path.ends_with(".safetensors.index.json")) {
    return from_hf(fs::path(path).parent_path().string());
  }
  if (has_extension(path, ".json") || magic[0] == '{') return from_hf(path);
  throw InputError(path +
                   ": not a model: expected a GGUF file, a .safetensors file, a config.json"
                   " or a Hugging Face model folder");
}

}  // namespace pocketllm
