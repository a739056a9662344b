#pragma once
// How each runnable architecture builds its model: one function per file of
// model/arch/, and one registry line per architecture (arch_registry.cpp).
#include <memory>
#include <span>
#include <string_view>

#include "model/model.h"
#include "model/model_source.h"

namespace pocketllm {

using ModelBuilder = std::unique_ptr<Model> (*)(ModelSource source, const ModelLoadOptions& options);

struct RunnableArchitecture {
  std::string_view name;  // ModelDesc::architecture (model/architectures.cpp)
  ModelBuilder build;
};

std::span<const RunnableArchitecture> runnable_architectures();
// nullptr when the architecture is known but has no forward pass yet.
const RunnableArchitecture* find_runnable_architecture(std::string_view name);

// Throws InputError "SOURCE: <architecture> needs <what>" unless `ok`: the
// architecture files check the parts of the description they rely on.
void require_arch(bool ok, const ModelSource& source, std::string_view what);

std::unique_ptr<Model> build_llama(ModelSource source, const ModelLoadOptions& options);
std::unique_ptr<Model> build_mistral(ModelSource source, const ModelLoadOptions& options);
std::unique_ptr<Model> build_qwen2(ModelSource source, const ModelLoadOptions& options);
std::unique_ptr<Model> build_qwen3(ModelSource source, const ModelLoadOptions& options);
std::unique_ptr<Model> build_phi3(ModelSource source, const ModelLoadOptions& options);
std::unique_ptr<Model> build_gemma2(ModelSource source, const ModelLoadOptions& options);
std::unique_ptr<Model> build_gemma3(ModelSource source, const ModelLoadOptions& options);

}  // namespace pocketllm
