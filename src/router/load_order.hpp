#pragma once

#include <map>
#include <string>
#include <vector>

namespace surge {

struct load_order {
  // Every model given, each after the models it depends on among those given
  // (ties in name order, so the order is reproducible).
  std::vector<std::string> order;
  // Models on a dependency cycle, each with the cycle spelled out:
  // "dependency cycle: a -> b -> a". They cannot load.
  std::map<std::string, std::string> cycles;
};

// Orders a set of models by their dependencies (model name to the names it
// depends on). Dependencies outside the set are ignored here: the registry
// checks them against what it already serves.
load_order order_by_dependencies(const std::map<std::string, std::vector<std::string>>& dependencies);

}  // namespace surge
