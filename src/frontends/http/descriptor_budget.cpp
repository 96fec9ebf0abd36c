#include "frontends/http/descriptor_budget.hpp"

#include <sys/resource.h>

#include <algorithm>

namespace surge::http {

std::size_t raise_descriptor_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return 1024;
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  if (limit.rlim_cur == RLIM_INFINITY) return 1 << 20;
  return static_cast<std::size_t>(limit.rlim_cur);
}

descriptor_plan plan_descriptors(std::size_t descriptor_limit, std::size_t http_wanted, std::size_t metrics_wanted) {
  descriptor_plan plan;
  // A quarter of the descriptors, at least 256, stay out of the HTTP limits.
  plan.reserved = std::max<std::size_t>(256, descriptor_limit / 4);
  const std::size_t available = descriptor_limit > 2 * plan.reserved ? descriptor_limit - plan.reserved
                                                                      : descriptor_limit / 2;
  plan.reserved = descriptor_limit - available;
  // The metrics port keeps its own share, at most an eighth of what HTTP may use.
  plan.metrics_connections = std::clamp<std::size_t>(metrics_wanted, 1, std::max<std::size_t>(1, available / 8));
  plan.http_connections =
      std::clamp<std::size_t>(http_wanted, 1, std::max<std::size_t>(1, available - plan.metrics_connections));
  plan.clamped = plan.metrics_connections != metrics_wanted || plan.http_connections != http_wanted;
  return plan;
}

}  // namespace surge::http
