# `pocketllm info FILE` on every hand-made malformed file: exit status 2 and
# exactly one line on stderr containing the expected words. The corpora list
# their files in EXPECTED.txt as `file<TAB>expected substring`.
file(GLOB_RECURSE POCKETLLM_MALFORMED_LISTS CONFIGURE_DEPENDS
  ${PROJECT_SOURCE_DIR}/tests/data/*/malformed/EXPECTED.txt)
foreach(list_file ${POCKETLLM_MALFORMED_LISTS})
  get_filename_component(corpus_dir ${list_file} DIRECTORY)
  get_filename_component(corpus_parent ${corpus_dir} DIRECTORY)
  get_filename_component(corpus_kind ${corpus_parent} NAME)
  file(STRINGS ${list_file} entries)
  foreach(entry ${entries})
    if(entry MATCHES "^#" OR NOT entry MATCHES "\t")
      continue()
    endif()
    string(REPLACE "\t" ";" fields "${entry}")
    list(GET fields 0 malformed_name)
    list(GET fields 1 expected_words)
    add_test(NAME cli_malformed_${corpus_kind}_${malformed_name}
      COMMAND ${CMAKE_COMMAND}
        -DPOCKETLLM=$<TARGET_FILE:pocketllm>
        -DMODEL=${corpus_dir}/${malformed_name}
        -DEXPECTED=${expected_words}
        -P ${CMAKE_CURRENT_LIST_DIR}/expect_input_error.cmake)
    set_tests_properties(cli_malformed_${corpus_kind}_${malformed_name} PROPERTIES TIMEOUT 60)
  endforeach()
endforeach()
