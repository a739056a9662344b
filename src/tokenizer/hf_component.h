#pragma once
// The shape every tokenizer.json pipeline component shares: an object with a
// string "type", and for "Sequence" an array of sub-components under a key
// that differs per component kind ("normalizers", "pretokenizers", ...).
#include <string>

#include <nlohmann/json.hpp>

#include "util/error.h"

namespace pocketllm {

// The component's "type"; `kind` ("decoder", "normalizer", ...) names it in errors.
inline std::string hf_component_type(const nlohmann::json& config, const char* kind) {
  if (!config.is_object() || !config.contains("type") || !config["type"].is_string()) {
    throw InputError(std::string("tokenizer.json: a ") + kind + " has no \"type\"");
  }
  return config["type"].get<std::string>();
}

// The sub-components of a "Sequence" component, stored under `key`.
inline const nlohmann::json& hf_sequence_items(const nlohmann::json& config, const char* kind, const char* key) {
  if (!config.contains(key) || !config[key].is_array()) {
    throw InputError(std::string("tokenizer.json: ") + kind + " Sequence without \"" + key + "\"");
  }
  return config[key];
}

}  // namespace pocketllm
