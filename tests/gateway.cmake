# Request-path building blocks of the gateway (src/gateway): limiter, circuit breaker, metrics,
# abuse signals; included by tests/CMakeLists.txt.
dg_test_exe(gateway_tests SOURCES
  unit/gateway/limiter_test.cc
  unit/gateway/circuit_breaker_test.cc
  unit/gateway/metrics_test.cc
  unit/gateway/abuse_test.cc
  unit/gateway/openai_test.cc
  LIBS dg_gateway)

# The real `dualguard serve` against the scripted upstream (tests/integration/upstream/server.mjs),
# driven by curl-like fetches and the official openai npm client. Needs node and npm (scripts/deps.sh).
add_test(NAME gateway_integration
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/integration/run.sh $<TARGET_FILE:dualguard>)
set_tests_properties(gateway_integration PROPERTIES TIMEOUT 900 RUN_SERIAL TRUE)

# The dashboard in headless Debian Chromium (playwright-core) against the real gateway serving web/dist
# (built first by scripts/build-web.sh); screenshots in build/e2e-screenshots. Exit 77 = no Chromium.
add_test(NAME dashboard_e2e
         COMMAND bash -c "${CMAKE_SOURCE_DIR}/scripts/build-web.sh && ${CMAKE_CURRENT_SOURCE_DIR}/e2e/run.sh $<TARGET_FILE:dualguard> ${CMAKE_BINARY_DIR}/e2e-screenshots")
set_tests_properties(dashboard_e2e PROPERTIES TIMEOUT 600 RUN_SERIAL TRUE SKIP_RETURN_CODE 77)
