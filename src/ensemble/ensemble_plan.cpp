#include "ensemble/ensemble_plan.hpp"

#include <algorithm>
#include <set>

namespace surge::ensemble {
namespace {

std::string quoted(const std::string& s) { return "'" + s + "'"; }

std::string type_name(config::DataType type) { return config::DataType_Name(type); }

std::string shape_text(const std::vector<std::int64_t>& dims) {
  std::string out = "[";
  for (std::size_t i = 0; i < dims.size(); ++i) {
    if (i > 0) out += ",";
    out += std::to_string(dims[i]);
  }
  return out + "]";
}

// The shape a request sees: with the batch dimension (-1) when the model batches.
template <typename Dims>
std::vector<std::int64_t> full_shape(int max_batch_size, const Dims& dims) {
  std::vector<std::int64_t> out;
  if (max_batch_size > 0) out.push_back(-1);
  out.insert(out.end(), dims.begin(), dims.end());
  return out;
}

// -1 on either side matches any size: a variable dimension is checked when
// the tensor exists, by the model that receives it.
bool shapes_compatible(const std::vector<std::int64_t>& a, const std::vector<std::int64_t>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i] != b[i] && a[i] != -1 && b[i] != -1) return false;
  }
  return true;
}

// Where an ensemble tensor comes from.
struct produced_tensor {
  std::string origin;  // "ensemble input 'x'" or "step 1 ('m') output 'y'"
  config::DataType type{config::TYPE_INVALID};
  std::vector<std::int64_t> shape;
  std::optional<std::size_t> step;
  std::string step_output;
};

template <typename Tensors>
const auto* find_tensor(const Tensors& tensors, const std::string& name) {
  const auto it = std::find_if(tensors.begin(), tensors.end(), [&name](const auto& t) { return t.name() == name; });
  return it == tensors.end() ? nullptr : &*it;
}

template <typename Map>
std::vector<std::pair<std::string, std::string>> sorted_pairs(const Map& map) {
  std::vector<std::pair<std::string, std::string>> out(map.begin(), map.end());
  std::sort(out.begin(), out.end());
  return out;
}

struct edge {
  std::size_t to;
  std::string tensor;
};

// Depth-first search for a cycle among steps: the (step, tensor it passes
// on) pairs around it, beginning at the step the search returned to.
class cycle_finder {
 public:
  explicit cycle_finder(const std::vector<std::vector<edge>>& edges) : edges_(edges), state_(edges.size(), unvisited) {}

  std::vector<std::pair<std::size_t, std::string>> find() {
    for (std::size_t i = 0; i < edges_.size(); ++i) {
      if (state_[i] == unvisited && visit(i)) return cycle_;
    }
    return {};
  }

 private:
  enum state { unvisited, on_path, done };

  bool visit(std::size_t step) {
    state_[step] = on_path;
    for (const auto& out : edges_[step]) {
      path_.push_back({step, out.tensor});
      if (state_[out.to] == on_path) {
        const auto start = std::find_if(path_.begin(), path_.end(), [&](const auto& p) { return p.first == out.to; });
        cycle_.assign(start, path_.end());
        return true;
      }
      if (state_[out.to] == unvisited && visit(out.to)) return true;
      path_.pop_back();
    }
    state_[step] = done;
    return false;
  }

  const std::vector<std::vector<edge>>& edges_;
  std::vector<state> state_;
  std::vector<std::pair<std::size_t, std::string>> path_;  // (step, tensor it passes on)
  std::vector<std::pair<std::size_t, std::string>> cycle_;
};

}  // namespace

std::string describe_step(const std::string& ensemble, std::size_t index, const std::string& model) {
  return "ensemble " + quoted(ensemble) + " step " + std::to_string(index + 1) + " (" + quoted(model) + ")";
}

std::vector<std::string> step_models(const config::ModelConfig& ensemble) {
  std::set<std::string> names;
  for (const auto& step : ensemble.ensemble_scheduling().step()) names.insert(step.model_name());
  return {names.begin(), names.end()};
}

std::variant<ensemble_plan, error> plan_ensemble(const config::ModelConfig& ensemble, const step_model_lookup& lookup) {
  const auto& name = ensemble.name();
  const auto batch = ensemble.max_batch_size();
  std::vector<std::string> problems;

  ensemble_plan plan;
  plan.name = name;
  std::map<std::string, produced_tensor> tensors;
  for (const auto& input : ensemble.input()) {
    tensors[input.name()] = {"ensemble input " + quoted(input.name()), input.data_type(),
                             full_shape(batch, input.dims()), std::nullopt, {}};
  }

  const auto& steps = ensemble.ensemble_scheduling().step();
  std::vector<const config::ModelConfig*> models;
  for (int i = 0; i < steps.size(); ++i) {
    const auto index = static_cast<std::size_t>(i);
    const auto& step = steps[i];
    const auto where = describe_step(name, index, step.model_name());
    step_plan planned;
    planned.model_name = step.model_name();
    if (step.model_version() > 0) planned.model_version = step.model_version();
    planned.inputs = sorted_pairs(step.input_map());
    planned.outputs = sorted_pairs(step.output_map());
    plan.steps.push_back(std::move(planned));

    const auto* model = lookup(step.model_name(), plan.steps.back().model_version);
    models.push_back(model);
    if (!model) {
      problems.push_back(where + ": model " + quoted(step.model_name()) +
                         (step.model_version() > 0 ? " version " + std::to_string(step.model_version()) : "") +
                         " is not served");
      continue;
    }
    if (model->has_generation()) problems.push_back(where + ": a generative model cannot be an ensemble step");
    if (model->model_transaction_policy().decoupled()) {
      problems.push_back(where + ": a decoupled model cannot be an ensemble step");
    }
    if (batch > 0 && model->max_batch_size() == 0) {
      problems.push_back(where +
                         ": the model does not batch (max_batch_size 0) but the ensemble does (max_batch_size " +
                         std::to_string(batch) + ")");
    } else if (batch > model->max_batch_size() && model->max_batch_size() > 0) {
      problems.push_back(where + ": the model's max_batch_size " + std::to_string(model->max_batch_size()) +
                         " is below the ensemble's " + std::to_string(batch));
    }
    for (const auto& [output, tensor] : plan.steps.back().outputs) {
      const auto* declared = find_tensor(model->output(), output);
      if (!declared) {
        problems.push_back(where + ": output_map names output " + quoted(output) + ", which model " +
                           quoted(step.model_name()) + " does not have");
        continue;
      }
      if (const auto it = tensors.find(tensor); it != tensors.end()) {
        problems.push_back(where + ": output " + quoted(output) + " writes tensor " + quoted(tensor) +
                           ", which " + it->second.origin + " already produces");
        continue;
      }
      tensors[tensor] = {"step " + std::to_string(i + 1) + " (" + quoted(step.model_name()) + ") output " +
                             quoted(output),
                         declared->data_type(), full_shape(model->max_batch_size(), declared->dims()), index, output};
    }
  }

  std::vector<std::vector<edge>> edges(plan.steps.size());
  for (std::size_t i = 0; i < plan.steps.size(); ++i) {
    const auto* model = models[i];
    if (!model) continue;
    auto& step = plan.steps[i];
    const auto where = describe_step(name, i, step.model_name);
    for (const auto& [input, tensor] : step.inputs) {
      const auto* declared = find_tensor(model->input(), input);
      if (!declared) {
        problems.push_back(where + ": input_map names input " + quoted(input) + ", which model " +
                           quoted(step.model_name) + " does not have");
        continue;
      }
      const auto it = tensors.find(tensor);
      if (it == tensors.end()) {
        problems.push_back(where + ": input " + quoted(input) + " reads tensor " + quoted(tensor) +
                           ", which no ensemble input or step produces");
        continue;
      }
      const auto& source = it->second;
      const auto shape = full_shape(model->max_batch_size(), declared->dims());
      if (source.type != declared->data_type()) {
        problems.push_back(where + ": input " + quoted(input) + " is " + type_name(declared->data_type()) +
                           " but tensor " + quoted(tensor) + " (" + source.origin + ") is " + type_name(source.type));
      } else if (!shapes_compatible(source.shape, shape)) {
        problems.push_back(where + ": input " + quoted(input) + " has shape " + shape_text(shape) + " but tensor " +
                           quoted(tensor) + " (" + source.origin + ") has shape " + shape_text(source.shape));
      }
      if (source.step) {
        ++step.produced_inputs;
        plan.steps[*source.step].consumers.push_back(i);
        edges[*source.step].push_back({i, tensor});
      }
    }
    for (const auto& declared : model->input()) {
      if (declared.optional()) continue;
      const bool mapped = std::any_of(step.inputs.begin(), step.inputs.end(),
                                      [&](const auto& mapping) { return mapping.first == declared.name(); });
      if (!mapped) {
        problems.push_back(where + ": the model's input " + quoted(declared.name()) +
                           " is required but input_map does not feed it");
      }
    }
  }

  for (const auto& output : ensemble.output()) {
    const auto it = tensors.find(output.name());
    if (it == tensors.end() || !it->second.step) {
      problems.push_back("ensemble " + quoted(name) + ": output " + quoted(output.name()) +
                         " is written by no step (no output_map names tensor " + quoted(output.name()) + ")");
      continue;
    }
    const auto& source = it->second;
    const auto shape = full_shape(batch, output.dims());
    if (source.type != output.data_type()) {
      problems.push_back("ensemble " + quoted(name) + ": output " + quoted(output.name()) + " is " +
                         type_name(output.data_type()) + " but " + source.origin + " is " + type_name(source.type));
    } else if (!shapes_compatible(source.shape, shape)) {
      problems.push_back("ensemble " + quoted(name) + ": output " + quoted(output.name()) + " has shape " +
                         shape_text(shape) + " but " + source.origin + " has shape " + shape_text(source.shape));
    }
    plan.outputs[output.name()] = {*source.step, source.step_output};
  }

  if (const auto cycle = cycle_finder(edges).find(); !cycle.empty()) {
    const auto first = cycle.front().first;
    std::string path;
    for (const auto& [step, tensor] : cycle) {
      path += "step " + std::to_string(step + 1) + " (" + quoted(plan.steps[step].model_name) + ") -> tensor " +
              quoted(tensor) + " -> ";
    }
    path += "step " + std::to_string(first + 1) + " (" + quoted(plan.steps[first].model_name) + ")";
    problems.push_back(describe_step(name, first, plan.steps[first].model_name) + ": dependency cycle: " + path);
  }

  if (!problems.empty()) {
    std::string message;
    for (const auto& problem : problems) {
      if (!message.empty()) message += "; ";
      message += problem;
    }
    return make_error(error_code::invalid_argument, std::move(message));
  }
  for (std::size_t i = 0; i < plan.steps.size(); ++i) {
    if (plan.steps[i].produced_inputs == 0) plan.initial_steps.push_back(i);
  }
  return plan;
}

}  // namespace surge::ensemble
