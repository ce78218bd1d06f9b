# learned detectors: fastText scoring exactness, training, thresholds (src/detect/fasttext_model,
# src/detect/learned, src/learn)
dg_test_exe(learn_tests SOURCES unit/learn/learn_test.cc LIBS dg_learn PkgConfig::FASTTEXT)

# `dualguard train` + `dualguard eval` end to end on ../shared/corpora: every shipped model reproduced
# bit for bit (skips with exit 77 when the corpora are absent; needs jq).
add_test(NAME train_cli COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cli/train_cli_test.sh $<TARGET_FILE:dualguard>)
set_tests_properties(train_cli PROPERTIES TIMEOUT 900 SKIP_RETURN_CODE 77)
