// libFuzzer target for the GGUF reader: any bytes either parse or raise
// InputError; everything a parsed file exposes is then read end to end, so
// ASan/UBSan see every view the reader hands out.
#include <cstddef>
#include <cstdint>
#include <span>

#include "formats/gguf.h"
#include "util/error.h"

namespace {

// Folds a value into `acc` so that nothing read is optimised away.
uint64_t touch(const pocketllm::GgufValue& v, uint64_t acc) {
  acc = acc * 31 + static_cast<uint64_t>(v.type());
  if (const auto u = v.as_uint()) acc += *u;
  if (const auto i = v.as_int()) acc += static_cast<uint64_t>(*i);
  if (const auto f = v.as_float()) acc += *f > 0 ? 1 : 0;
  if (const auto b = v.as_bool()) acc += *b ? 1 : 0;
  if (const auto s = v.as_string()) {
    for (const char c : *s) acc += static_cast<uint8_t>(c);
  }
  for (const auto& item : v.array()) acc = touch(item, acc);
  return acc;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace pocketllm;
  try {
    const GgufFile file = GgufFile::from_memory(std::span<const uint8_t>(data, size), "fuzz.gguf");
    uint64_t acc = file.version() + file.alignment() + file.data_offset();
    for (const GgufKeyValue& kv : file.metadata()) {
      acc += kv.key.size();
      acc = touch(kv.value, acc);
      if (file.find(kv.key) != &kv.value) __builtin_trap();
      // The typed getters either answer or raise InputError.
      try {
        (void)file.get_int(kv.key);
      } catch (const InputError&) {
      }
      try {
        (void)file.get_string_array(kv.key);
      } catch (const InputError&) {
      }
    }
    for (const GgufTensorInfo& t : file.tensors()) {
      if (file.find_tensor(t.name) != &t) __builtin_trap();
      const auto bytes = file.tensor_data(t);
      if (bytes.size() != t.n_bytes) __builtin_trap();
      for (const uint8_t b : bytes) acc += b;
    }
    volatile uint64_t sink = acc;
    (void)sink;
  } catch (const InputError&) {
    // Refusing malformed input is the expected outcome for most inputs.
  }
  return 0;
}
