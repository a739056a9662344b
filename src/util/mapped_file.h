#pragma once
// Read-only view of a whole file, memory-mapped so that weights are used in
// place and never copied. Also wraps bytes that are already in memory (the
// embedded default model, fuzzer inputs) behind the same interface.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace pocketllm {

class MappedFile {
 public:
  // Maps `path` read-only. Throws InputError naming the path on failure
  // (missing, a directory, unreadable). An empty file maps to an empty span.
  static MappedFile open(const std::string& path);
  // Borrows `bytes`; the caller keeps them alive for the MappedFile's life.
  static MappedFile borrow(std::span<const uint8_t> bytes, std::string name);

  MappedFile() = default;
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  std::span<const uint8_t> bytes() const { return {data_, size_}; }
  size_t size() const { return size_; }
  // Whether bytes() is this object's own mapping of a file (not borrowed).
  bool is_file_mapping() const { return owns_mapping_; }
  // The path, or the name given to borrow(); used in every error message.
  const std::string& name() const { return name_; }

 private:
  void release() noexcept;

  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  bool owns_mapping_ = false;
  std::string name_;
};

}  // namespace pocketllm
