# Warnings for our own targets only (third-party headers come in as SYSTEM).
function(pocketllm_warnings target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion
    -Wnon-virtual-dtor -Wold-style-cast -Wcast-align -Wnull-dereference
    -Wdouble-promotion -Wformat=2 -Wimplicit-fallthrough)
  if(POCKETLLM_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
