#pragma once
// Rows of IEEE binary16 <-> f32, the conversions the f16 KV cache does on
// every write (store) and read (attention tile). F16C on x86-64 (picked at
// run time), NEON on aarch64, exact scalar code elsewhere; all three round to
// nearest even and agree bit for bit (scalar_types.h is the reference).
#include <cstddef>
#include <cstdint>

namespace pocketllm {

void f16_to_f32_row(const uint16_t* src, float* dst, size_t n);
void f32_to_f16_row(const float* src, uint16_t* dst, size_t n);

}  // namespace pocketllm
