# Tests of the threat analysis (src/threat) and `dualguard threat analyze`; included by tests/CMakeLists.txt.

dg_test_exe(threat_tests SOURCES
  unit/threat/model_test.cc
  unit/threat/analyze_test.cc
  golden/threat_golden_test.cc
  unit/threat/incident_test.cc
  LIBS dg_threat dg_learn)

add_test(NAME threat_cli COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cli/threat_cli_test.sh $<TARGET_FILE:dualguard>)
set_tests_properties(threat_cli PROPERTIES TIMEOUT 120)

add_test(NAME threat_classify_cli COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cli/threat_classify_test.sh $<TARGET_FILE:dualguard>)
set_tests_properties(threat_classify_cli PROPERTIES TIMEOUT 180)
