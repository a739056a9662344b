#pragma once
// The default model linked into the binary (models/stories260K.gguf, see
// models/SOURCES.md). Read in place from the executable's read-only data,
// like a mapped file.
#include <cstdint>
#include <span>
#include <string_view>

namespace pocketllm {

std::span<const uint8_t> embedded_default_model();
// Shown wherever a file path would be (errors, `info`).
inline constexpr std::string_view kEmbeddedModelName = "<embedded stories260K.gguf>";

}  // namespace pocketllm
