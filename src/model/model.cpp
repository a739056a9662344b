#include "model/model.h"

#include <fmt/format.h>

#include "model/arch/arch_builders.h"
#include "util/error.h"

namespace pocketllm {

std::unique_ptr<Model> Model::load(const std::string& path, const ModelLoadOptions& options) {
  ModelSource source = open_model_source(path);
  if (!source.desc) {
    throw InputError(fmt::format("{}: no config.json beside the weights says what model they are", source.name));
  }
  if (!source.has_weights()) {
    throw InputError(fmt::format("{}: no weights to run (a bare config can be described with `info`)", source.name));
  }
  const RunnableArchitecture* arch = find_runnable_architecture(source.desc->architecture);
  if (arch == nullptr) {
    throw InputError(fmt::format("{}: architecture '{}' cannot be run yet", source.name, source.desc->architecture));
  }
  return arch->build(std::move(source), options);
}

void Model::shift_key_positions(PagedKvCache&, SeqId, uint32_t, uint32_t, int64_t) {
  throw InputError(fmt::format("{}: this model cannot shift key positions (needed by cache eviction)",
                               desc().architecture));
}

void Model::set_query_observer(QueryObserver) {
  throw InputError(fmt::format("{}: this model cannot report its queries (needed by the h2o eviction policy)",
                               desc().architecture));
}

}  // namespace pocketllm
