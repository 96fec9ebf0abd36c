#include "worker/batch_grouping.hpp"

#include <algorithm>

namespace surge::worker {

bool can_share_batch(const inference_request& a, const inference_request& b) {
  if (a.version != b.version || a.inputs.size() != b.inputs.size()) return false;
  for (std::size_t i = 0; i < a.inputs.size(); ++i) {
    const auto& x = a.inputs[i];
    const auto& y = b.inputs[i];
    if (x.name != y.name || x.type != y.type || x.shape.size() != y.shape.size()) return false;
    if (!std::equal(x.shape.begin() + (x.shape.empty() ? 0 : 1), x.shape.end(),
                    y.shape.begin() + (y.shape.empty() ? 0 : 1))) {
      return false;
    }
  }
  return true;
}

std::vector<std::vector<std::size_t>> group_batches(const std::vector<const inference_request*>& requests,
                                                    std::uint32_t max_batch_size) {
  std::vector<std::vector<std::size_t>> batches;
  std::vector<bool> placed(requests.size(), false);
  for (std::size_t head = 0; head < requests.size(); ++head) {
    if (placed[head]) continue;
    placed[head] = true;
    std::vector<std::size_t> batch{head};
    if (max_batch_size > 0) {
      auto rows = requests[head]->batch_rows();
      for (std::size_t next = head + 1; next < requests.size(); ++next) {
        if (placed[next] || !can_share_batch(*requests[head], *requests[next])) continue;
        const auto more = requests[next]->batch_rows();
        if (rows + more > static_cast<std::int64_t>(max_batch_size)) continue;
        rows += more;
        placed[next] = true;
        batch.push_back(next);
      }
    }
    batches.push_back(std::move(batch));
  }
  return batches;
}

}  // namespace surge::worker
