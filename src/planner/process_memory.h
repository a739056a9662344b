#pragma once
// This process's own memory figures, as the kernel counts them: what the
// memory estimate (memory_estimate.h) is checked against after a run.
#include <cstdint>
#include <filesystem>
#include <optional>

namespace pocketllm {

// Peak resident set size (VmHWM of <root>/proc/self/status) in bytes: every
// page the process has had mapped in at once, mapped file pages (weights)
// included. nullopt where the file or the line is missing (not Linux).
std::optional<uint64_t> peak_resident_bytes(const std::filesystem::path& root = "/");

}  // namespace pocketllm
