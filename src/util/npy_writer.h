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
#include <span>
#include <string>

namespace pocketllm {

// The magic, version, length and padded header for a float32 C-order array
// of `shape` (shape () is a scalar, (n,) a vector).
std::string npy_f32_header(std::span<const size_t> shape);

// Writes `data` (product(shape) floats) to `path`. Throws InputError when the
// file cannot be written, std::invalid_argument when sizes disagree.
void write_npy_f32(const std::string& path, std::span<const float> data, std::span<const size_t> shape);

}  // namespace pocketllm
