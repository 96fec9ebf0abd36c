#pragma once

// MULTI/EXEC around a pipeline, so that Redis applies its commands as one:
// a client blocked on a stream (XREADGROUP BLOCK) is served once, after the
// last of them, rather than after the first.
#include <cstddef>
#include <vector>

#include "redis/command.hpp"
#include "redis/reply.hpp"

namespace surge::redis {

// MULTI, the commands, EXEC: send with connection::exec_all.
std::vector<command> as_transaction(std::vector<command> commands);

// The replies of the `count` commands inside, in order, from the replies
// exec_all returned for as_transaction(...): EXEC's elements, or for a
// transaction that did not run the error that stopped it (a command Redis
// refused to queue answers with its own error; the others with EXEC's).
std::vector<reply> transaction_results(std::vector<reply> replies, std::size_t count);

}  // namespace surge::redis
