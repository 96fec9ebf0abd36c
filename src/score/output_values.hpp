#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/response_sink.hpp"
#include "score/column_mapping.hpp"
#include "score/page_encoder.hpp"
#include "score/page_result.hpp"
#include "score/row_page.hpp"

namespace surge::score {

// Appends the request's rows to `result`: each row's key and the value of
// every output binding as text (floats in their shortest round-trip form,
// so a score read back equals the model's float exactly). An answer without
// a mapped output, or with fewer rows than the request, is an error naming
// it; nothing is appended then.
std::optional<std::string> append_scores(const inference_response& response, const row_page& page,
                                         const column_mapping& mapping, const request_rows& request,
                                         page_result& result);

// The SQL column type an output binding is written as.
std::string_view sql_type(data_type type);

}  // namespace surge::score
