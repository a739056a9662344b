#pragma once
// ModelDesc from a Hugging Face config.json (already parsed). Reads both RoPE
// spellings (transformers 5 `rope_parameters`, older `rope_theta` +
// `rope_scaling`), the nested `text_config` of multimodal checkpoints, and
// fills keys the file leaves out with the transformers config-class defaults
// recorded in the architecture registry.
//
// Errors: InputError "SOURCE: unsupported architecture 'X' (model_type)" for an
// architecture outside the registry; "SOURCE: key 'K': problem" for a missing,
// mistyped or nonsensical value.
#include <string>

#include <nlohmann/json.hpp>

#include "model/model_desc.h"

namespace pocketllm {

// `source_name` is what errors and `info` call the file (usually its path).
ModelDesc describe_from_hf_config(const nlohmann::json& config, const std::string& source_name);

}  // namespace pocketllm
