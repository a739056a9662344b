// `pocketllm info [MODEL]`: the hardware report and, for a model (the
// embedded default when none is given), what it is and what it will cost:
// parameters, bytes per tensor type, context length, KV bytes per token.
#include <fmt/format.h>

#include <cstdio>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "backends/cpu/cpu_info.h"
#include "cli/commands.h"
#include "model/model_info.h"
#include "model/model_source.h"
#include "model/model_stats.h"
#include "planner/memory_probe.h"
#include "util/error.h"

namespace pocketllm::cli {
namespace {

struct InfoOptions {
  std::string model_positional;
  std::string model_option;
  bool json = false;
};

std::string format_name(const ModelSource& source) {
  switch (source.format) {
    case ModelFormat::Gguf:
      return fmt::format("GGUF v{}", source.gguf->version());
    case ModelFormat::HuggingFace:
      return source.has_weights() ? "Hugging Face (config.json + safetensors)"
                                  : "Hugging Face config.json (no weights)";
    case ModelFormat::Safetensors:
      return "safetensors";
  }
  return "unknown";
}

std::string_view format_key(ModelFormat format) {
  switch (format) {
    case ModelFormat::Gguf: return "gguf";
    case ModelFormat::HuggingFace: return "huggingface";
    case ModelFormat::Safetensors: return "safetensors";
  }
  return "unknown";
}

nlohmann::json file_json(const ModelSource& source) {
  nlohmann::json by_type = nlohmann::json::array();
  for (const TensorTypeTotals& totals : source.tensor_types) {
    by_type.push_back({{"type", totals.type},
                       {"supported", totals.supported},
                       {"tensors", totals.n_tensors},
                       {"parameters", totals.n_elements},
                       {"bytes", totals.n_bytes}});
  }
  return {{"tensors", source.n_tensors},
          {"parameters", source.n_tensor_elements},
          {"bytes", source.n_tensor_bytes},
          {"by_type", by_type}};
}

nlohmann::json model_json(const ModelSource& source) {
  nlohmann::json model = nlohmann::json::object();
  if (source.desc) model = model_info_to_json(*source.desc, compute_stats(*source.desc));
  model["source"] = source.name;
  model["format"] = format_key(source.format);
  if (source.gguf) model["gguf_version"] = source.gguf->version();
  model["file"] = file_json(source);
  return model;
}

std::string file_text(const ModelSource& source) {
  if (!source.has_weights()) return "";
  std::string text = fmt::format("Tensors in the file: {} tensors, {} parameters, {}\n",
                                 source.n_tensors, format_count(source.n_tensor_elements),
                                 format_bytes(source.n_tensor_bytes));
  for (const TensorTypeTotals& totals : source.tensor_types) {
    text += fmt::format("  {:<8} {:>6} tensors  {:>12} parameters  {:>12}{}\n", totals.type,
                        totals.n_tensors, format_count(totals.n_elements),
                        format_bytes(totals.n_bytes),
                        totals.supported ? "" : "  (unsupported type)");
  }
  return text;
}

void run_info(const InfoOptions& options) {
  if (!options.model_positional.empty() && !options.model_option.empty()) {
    throw InputError("info: give the model either as -m/--model or as an argument, not both");
  }
  const std::string& path =
      options.model_option.empty() ? options.model_positional : options.model_option;
  // The model is opened first: a bad file is reported before any output.
  const ModelSource source = open_model_source(path);
  const CpuInfo cpu = probe_cpu();
  const MemoryReport memory = probe_memory();

  if (options.json) {
    const nlohmann::json report = {
        {"pocketllm_version", POCKETLLM_VERSION_STRING},
        {"hardware", {{"cpu", to_json(cpu)}, {"memory", to_json(memory)}}},
        {"model", model_json(source)}};
    std::fputs((report.dump(2) + "\n").c_str(), stdout);
    return;
  }
  std::string text = fmt::format("pocketllm {}\n\n", POCKETLLM_VERSION_STRING);
  text += format_cpu_text(cpu);
  text += format_memory_text(memory);
  text += fmt::format("\nModel: {} ({})\n", source.name, format_name(source));
  if (source.desc) {
    text += format_model_info(*source.desc, compute_stats(*source.desc));
  } else {
    text += "  no config.json beside the weights: architecture unknown\n";
  }
  text += file_text(source);
  std::fputs(text.c_str(), stdout);
}

}  // namespace

void add_info_command(CLI::App& app) {
  auto options = std::make_shared<InfoOptions>();
  CLI::App* info = app.add_subcommand(
      "info", "Hardware report, and what a model is and costs (no model: the embedded one)");
  info->add_option("model", options->model_positional,
                   "GGUF file, Hugging Face model folder, config.json or .safetensors file");
  info->add_option("-m,--model", options->model_option, "Same as the positional MODEL");
  info->add_flag("--json", options->json, "Machine-readable output");
  info->callback([options] { run_info(*options); });
}

}  // namespace pocketllm::cli
