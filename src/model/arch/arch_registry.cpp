#include <fmt/format.h>

#include "model/arch/arch_builders.h"
#include "util/error.h"

namespace pocketllm {

std::span<const RunnableArchitecture> runnable_architectures() {
  static constexpr RunnableArchitecture kTable[] = {
      {"llama", build_llama},
      {"mistral", build_mistral},
      {"qwen2", build_qwen2},
      {"qwen3", build_qwen3},
      {"phi3", build_phi3},
      {"gemma2", build_gemma2},
      {"gemma3", build_gemma3},
  };
  return kTable;
}

const RunnableArchitecture* find_runnable_architecture(std::string_view name) {
  for (const RunnableArchitecture& arch : runnable_architectures()) {
    if (arch.name == name) return &arch;
  }
  return nullptr;
}

void require_arch(bool ok, const ModelSource& source, std::string_view what) {
  if (ok) return;
  throw InputError(fmt::format("{}: {} needs {}", source.name, source.desc->architecture, what));
}

}  // namespace pocketllm
