#pragma once
// Small text helpers for the probes that read procfs/sysfs files.
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace pocketllm {

// Whole file as bytes; nullopt when it cannot be opened (absent files are
// normal in procfs/sysfs and mean "not available").
std::optional<std::string> read_text_file(const std::filesystem::path& path);

// Without leading/trailing spaces, tabs, CR, LF and NUL (sysfs pads with them).
std::string_view trim(std::string_view text);

}  // namespace pocketllm
