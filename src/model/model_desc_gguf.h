#pragma once
// ModelDesc from GGUF metadata, following llama.cpp's key conventions
// ("{arch}.block_count", "{arch}.attention.head_count_kv", ...; llama-arch.cpp)
// and its per-architecture fixed choices where the file says nothing (which
// layers slide, RoPE pair layout). Optional features (biases, q/k norms,
// sinks, tied output) are read from which tensors the file holds, as
// llama.cpp does.
//
// Errors: InputError "FILE: unsupported architecture 'X' (key
// 'general.architecture')" or "FILE: key 'K': problem".
#include "formats/gguf.h"
#include "model/model_desc.h"

namespace pocketllm {

ModelDesc describe_from_gguf(const GgufFile& file);

}  // namespace pocketllm
