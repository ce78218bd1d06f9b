# State (src/store): audit log and API keys, and `dualguard keys` / `dualguard audit`; included by
# tests/CMakeLists.txt.

dg_test_exe(store_tests SOURCES
  unit/store/audit_log_test.cc
  unit/store/key_store_test.cc
  unit/store/incident_store_test.cc
  LIBS dg_store nlohmann_json::nlohmann_json Threads::Threads)
# GCC 12 reports a false -Wmaybe-uninitialized inside std::regex's std::function under ASan at -O2
# (GCC PR 105562); it is about libstdc++, not this code, and -Werror would fail the sanitizer build.
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  target_compile_options(store_tests PRIVATE -Wno-maybe-uninitialized)
endif()

# Writes a real audit log for the CLI test (the gateway that normally writes it is not needed).
add_executable(make_audit_fixture unit/store/make_audit_fixture.cc)
target_link_libraries(make_audit_fixture PRIVATE dg_store)

# End to end on the built binary; tampering steps need the sqlite3 CLI and skip without it.
add_test(NAME store_cli COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cli/store_cli_test.sh
  $<TARGET_FILE:dualguard> $<TARGET_FILE:make_audit_fixture>)
set_tests_properties(store_cli PROPERTIES TIMEOUT 120)
