#include "redis/transaction.hpp"

#include <string>

namespace surge::redis {

std::vector<command> as_transaction(std::vector<command> commands) {
  std::vector<command> wrapped;
  wrapped.reserve(commands.size() + 2);
  wrapped.push_back(command{"MULTI"});
  for (auto& c : commands) wrapped.push_back(std::move(c));
  wrapped.push_back(command{"EXEC"});
  return wrapped;
}

std::vector<reply> transaction_results(std::vector<reply> replies, std::size_t count) {
  std::vector<reply> results;
  results.reserve(count);
  if (replies.size() == count + 2) {
    auto& exec = replies.back();
    if (exec.is_array() && exec.size() == count) {
      for (auto& r : exec.elements()) results.push_back(std::move(r));
      return results;
    }
  }
  // Not run. Why: the first error among MULTI and EXEC (a transport
  // failure fails them all alike), or a reply of the wrong shape.
  reply why = reply::server_error("the transaction returned an unexpected reply");
  if (!replies.empty() && replies.front().is_error()) {
    why = replies.front();
  } else if (replies.size() == count + 2 && replies.back().is_error()) {
    why = replies.back();
  }
  for (std::size_t i = 0; i < count; ++i) {
    if (replies.size() == count + 2 && replies[i + 1].is_error()) {
      results.push_back(std::move(replies[i + 1]));
    } else {
      results.push_back(why);
    }
  }
  return results;
}

}  // namespace surge::redis
