#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "config/model_config.pb.h"
#include "core/status.hpp"

namespace surge::ensemble {

// One step of an ensemble as it runs: which model, what it reads and writes
// (ensemble tensor names), and which steps wait for it.
struct step_plan {
  std::string model_name;
  std::optional<std::int64_t> model_version;  // nullopt: the highest version served when the step runs
  // (step model input, ensemble tensor), sorted by input name.
  std::vector<std::pair<std::string, std::string>> inputs;
  // (step model output, ensemble tensor), sorted by output name.
  std::vector<std::pair<std::string, std::string>> outputs;
  // How many of its inputs other steps produce: it runs when all of them are.
  std::size_t produced_inputs{0};
  // Steps that read an output of this one, once per tensor they read from it.
  std::vector<std::size_t> consumers;
};

// An ensemble's steps as a graph checked against the models they run: every
// tensor is produced once, by an ensemble input or one step; types and
// shapes agree along every edge; there is no cycle. Immutable once made, and
// shared by every request of the ensemble.
struct ensemble_plan {
  std::string name;
  std::vector<step_plan> steps;  // in config order; "step N" in messages is index N-1
  std::vector<std::size_t> initial_steps;  // those that read only ensemble inputs
  // Ensemble output name -> (producing step, step output name).
  std::map<std::string, std::pair<std::size_t, std::string>> outputs;
};

// The config of a step's model as it is served now; nullptr when there is
// none (or not that version).
using step_model_lookup =
    std::function<const config::ModelConfig*(const std::string& model, std::optional<std::int64_t> version)>;

// "ensemble 'e' step 2 ('m')": how every message about a step begins.
std::string describe_step(const std::string& ensemble, std::size_t index, const std::string& model);

// Checks the ensemble against the step models `lookup` finds and orders its
// steps. Every problem is reported at once, each naming the ensemble, the
// step and the tensor; invalid_argument.
std::variant<ensemble_plan, error> plan_ensemble(const config::ModelConfig& ensemble, const step_model_lookup& lookup);

// The step models an ensemble runs, each once, in name order.
std::vector<std::string> step_models(const config::ModelConfig& ensemble);

}  // namespace surge::ensemble
