// libFuzzer target for the safetensors reader: any bytes either parse or
// raise InputError; a parsed file's invariants are then checked and every
// byte of every tensor view is read, so ASan/UBSan see each span the reader
// hands out.
#include <cstddef>
#include <cstdint>
#include <span>

#include "formats/safetensors.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace pocketllm;
  const std::span<const uint8_t> bytes(data, size);
  try {
    const SafetensorsFile file = SafetensorsFile::from_memory(bytes, "fuzz.safetensors");
    uint64_t acc = file.header_size();
    uint64_t next = file.data_offset();
    for (const SafetensorsTensor& t : file.tensors()) {
      // The tensors tile the data buffer in order, each sized by its shape.
      if (t.file_offset != next || t.data.size() != t.n_bytes) __builtin_trap();
      if (t.data.data() != data + t.file_offset) __builtin_trap();
      if (file.find(t.name) != &t) __builtin_trap();
      const auto expected = safetensors_tensor_bytes(t.dtype, t.n_elements);
      if (!expected || *expected != t.n_bytes) __builtin_trap();
      next += t.n_bytes;
      for (const uint8_t b : t.data) acc += b;
      for (const uint64_t d : t.shape) acc += d;
    }
    if (next != file.file_size()) __builtin_trap();
    for (const auto& [key, value] : file.metadata()) acc += key.size() + value.size();
    volatile uint64_t sink = acc;
    (void)sink;
  } catch (const InputError&) {
    // Refusing malformed input is the expected outcome for most inputs.
  }
  return 0;
}
