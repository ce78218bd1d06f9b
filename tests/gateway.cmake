# Request-path building blocks of the gateway (src/gateway): limiter, circuit breaker, metrics,
# abuse signals; included by tests/CMakeLists.txt.
dg_test_exe(gateway_tests SOURCES
  unit/gateway/limiter_test.cc
  unit/gateway/circuit_breaker_test.cc
  unit/gateway/metrics_test.cc
  unit/gateway/abuse_test.cc
  LIBS dg_gateway)
