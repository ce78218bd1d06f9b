# Tests of the evaluator (src/eval) and `dualguard eval`; included by tests/CMakeLists.txt.

dg_test_exe(eval_tests SOURCES
  unit/eval/metrics_test.cc
  unit/eval/perturb_test.cc
  unit/eval/dataset_test.cc
  unit/eval/runner_test.cc
  unit/eval/report_test.cc
  unit/eval/diff_test.cc
  unit/eval/sweep_test.cc
  LIBS dg_eval)

# End to end on the built binary (needs jq); the corpus check inside skips when ../shared/corpora is absent.
add_test(NAME eval_cli COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/eval/eval_test.sh $<TARGET_FILE:dualguard>)
set_tests_properties(eval_cli PROPERTIES TIMEOUT 120)
