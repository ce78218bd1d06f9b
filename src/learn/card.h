// Model cards: `models/<task>.md` (for people: data, licences, training command, dev metrics,
// thresholds, known gaps) and `models/<task>.json` (the same numbers for tools and tests).
#pragma once

#include <string>
#include <utility>

#include "core/load_result.h"
#include "learn/dataset.h"
#include "learn/trainer.h"

namespace dg::learn {

// Writes both files next to the model; returns {markdown path, json path}.
LoadResult<std::pair<std::string, std::string>> write_card(const Task& task, const TrainOptions& opt,
                                                           const TrainResult& res);

// The licence of a corpus source as stated in ../shared/corpora/README.md ("" when unknown).
std::string source_licence(const std::string& source);

}  // namespace dg::learn
