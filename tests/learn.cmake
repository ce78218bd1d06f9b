# learned detectors: fastText scoring exactness, training, thresholds (src/detect/fasttext_model,
# src/detect/learned, src/learn)
dg_test_exe(learn_tests SOURCES unit/learn/learn_test.cc LIBS dg_learn PkgConfig::FASTTEXT)
