#pragma once
// GGUF version 3 writer for the tools that make, convert and quantize model
// files. Metadata and tensor infos are collected first; write() then streams
// the file: header, key-values, tensor infos, padding, and each tensor's
// bytes padded to the alignment, in the order added (the layout llama.cpp's
// gguf writer produces, so a file read and re-written is byte-identical).
//
// Tensor bytes are never gathered in memory: each comes from a span the
// caller keeps alive until write() returns, or from a callback that streams
// it into the file.
#include <cstdint>
#include <functional>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "formats/ggml_types.h"
#include "formats/gguf.h"

namespace pocketllm {

class GgufWriter {
 public:
  // Writes exactly the tensor's n_bytes to `out`; the writer checks the count.
  using TensorSource = std::function<void(std::ostream& out)>;

  // Adds a key-value; keys keep the order in which they were added. String
  // values made with make_string_view (or taken from a GgufFile) must stay
  // valid until write() returns. Throws std::invalid_argument on a duplicate
  // key, or a `general.alignment` that is not a UINT32 power of two.
  void add(std::string key, GgufValue value);
  // Sets `general.alignment` (adding the key when it is absent); 32 without it.
  void set_alignment(uint32_t alignment);
  uint32_t alignment() const { return alignment_; }

  // Adds a tensor whose bytes are `data` (not copied). `ne` is in ggml order
  // (ne[0] contiguous), at most 4 dimensions; data.size() must equal the
  // type's byte size for that shape. Throws std::invalid_argument otherwise or
  // on a duplicate name.
  void add_tensor(std::string name, std::vector<uint64_t> ne, GgmlType type, std::span<const uint8_t> data);
  // Same, with the bytes produced by `source` while the file is written.
  void add_tensor(std::string name, std::vector<uint64_t> ne, GgmlType type, TensorSource source);

  size_t metadata_count() const { return metadata_.size(); }
  size_t tensor_count() const { return tensors_.size(); }

  // Writes the file to `path` through a temporary file in the same folder
  // that is renamed into place only when complete. Throws std::runtime_error
  // naming the path on an I/O error or a source that wrote the wrong count.
  void write(const std::string& path) const;

 private:
  // One tensor to write: its info and where its bytes come from.
  struct PendingTensor {
    std::string name;
    std::vector<uint64_t> ne;
    GgmlType type;
    uint64_t n_bytes;
    std::span<const uint8_t> data;  // used when source is empty
    TensorSource source;
  };
  struct PendingKeyValue {
    std::string key;
    GgufValue value;
  };

  PendingTensor& add_tensor_info(std::string name, std::vector<uint64_t> ne, GgmlType type);

  uint32_t alignment_ = 32;
  std::vector<PendingKeyValue> metadata_;
  std::vector<PendingTensor> tensors_;
  std::unordered_set<std::string> keys_;
  std::unordered_set<std::string> tensor_names_;
};

}  // namespace pocketllm
