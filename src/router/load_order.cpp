#include "router/load_order.hpp"

#include <algorithm>
#include <functional>

namespace surge {

load_order order_by_dependencies(const std::map<std::string, std::vector<std::string>>& dependencies) {
  enum class mark { unvisited, on_path, done };
  std::map<std::string, mark> marks;
  for (const auto& [name, deps] : dependencies) marks[name] = mark::unvisited;

  load_order result;
  std::vector<std::string> path;  // the depth-first path from the model being ordered
  // Recursion depth is bounded by the number of models in one load.
  std::function<void(const std::string&)> visit = [&](const std::string& name) {
    marks[name] = mark::on_path;
    path.push_back(name);
    auto deps = dependencies.at(name);
    std::sort(deps.begin(), deps.end());
    for (const auto& dep : deps) {
      const auto it = marks.find(dep);
      if (it == marks.end()) continue;
      if (it->second == mark::unvisited) {
        visit(dep);
      } else if (it->second == mark::on_path) {
        const auto from = std::find(path.begin(), path.end(), dep);
        std::string cycle = "dependency cycle: ";
        for (auto step = from; step != path.end(); ++step) cycle += *step + " -> ";
        cycle += dep;
        for (auto step = from; step != path.end(); ++step) result.cycles.try_emplace(*step, cycle);
      }
    }
    path.pop_back();
    marks[name] = mark::done;
    result.order.push_back(name);
  };
  for (const auto& [name, deps] : dependencies) {
    if (marks[name] == mark::unvisited) visit(name);
  }
  return result;
}

}  // namespace surge
