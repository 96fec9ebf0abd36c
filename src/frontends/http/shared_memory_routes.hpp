#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "frontends/http/http_server.hpp"
#include "shared_memory/system_shared_memory.hpp"

namespace surge::http {

// /v2/systemsharedmemory[/region/{name}]/{status,register,unregister} and the
// /v2/cudasharedmemory routes (refused: this build has no GPU), as Triton
// serves them. `parts` is the path split at '/' (parts[0] == "v2"); nullopt
// when the path is not one of these routes.
std::optional<response_message> serve_shared_memory(const std::vector<std::string_view>& parts,
                                                    const request_message& request,
                                                    system_shared_memory& shared_memory);

}  // namespace surge::http
