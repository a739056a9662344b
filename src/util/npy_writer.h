#pragma once
// NumPy .npy files (format version 1.0, numpy/lib/format.py) holding a
// float32 array in C order, so that numpy.load reads what we write:
//
//   "\x93NUMPY" 0x01 0x00   magic and version 1.0
//   u16 little-endian       header length H
//   H bytes                 "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"
//                           padded with spaces and ended by '\n' so that the
//                           data starts at a multiple of 64 bytes
//   data                    little-endian float32, last index fastest
#include <cstddef>
#include <cstdio>
#include <memory>
#include <span>
#include <string>

namespace pocketllm {

// The magic, version, length and padded header for a float32 C-order array
// of `shape` (shape () is a scalar, (n,) a vector).
std::string npy_f32_header(std::span<const size_t> shape);

// Writes a float32 array of `shape` to `path` a piece at a time, so that
// rows can be written as they are computed (logits of a long prompt) without
// holding the whole array. Throws InputError when the file cannot be written,
// std::invalid_argument when more or fewer than product(shape) floats come.
class NpyF32Writer {
 public:
  NpyF32Writer(const std::string& path, std::span<const size_t> shape);
  ~NpyF32Writer();
  NpyF32Writer(const NpyF32Writer&) = delete;
  NpyF32Writer& operator=(const NpyF32Writer&) = delete;
  void append(std::span<const float> data);
  // Checks the count and closes the file; a writer destroyed unfinished just closes it.
  void finish();

 private:
  struct FileCloser {
    void operator()(std::FILE* file) const { std::fclose(file); }
  };
  std::string path_;
  std::unique_ptr<std::FILE, FileCloser> file_;
  size_t expected_ = 0;
  size_t written_ = 0;
};

// Writes `data` (product(shape) floats) to `path`. Throws InputError when the
// file cannot be written, std::invalid_argument when sizes disagree.
void write_npy_f32(const std::string& path, std::span<const float> data, std::span<const size_t> shape);

}  // namespace pocketllm
