#include "model/embedded_model.h"

// .incbin keeps the model out of the compiler's way (a 1 MB array literal
// would cost seconds and memory to compile); 64-byte alignment satisfies
// GGUF's data alignment so tensors can be used in place.
asm(R"(
  .section .rodata
  .balign 64
  .global pocketllm_embedded_model_begin
pocketllm_embedded_model_begin:
  .incbin ")" POCKETLLM_DEFAULT_MODEL_PATH R"("
  .global pocketllm_embedded_model_end
pocketllm_embedded_model_end:
  .previous
)");

extern "C" const uint8_t pocketllm_embedded_model_begin[];
extern "C" const uint8_t pocketllm_embedded_model_end[];

namespace pocketllm {

std::span<const uint8_t> embedded_default_model() {
  return {pocketllm_embedded_model_begin, pocketllm_embedded_model_end};
}

}  // namespace pocketllm
