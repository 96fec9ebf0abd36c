#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "core/inference_request.hpp"
#include "score/column_mapping.hpp"
#include "score/row_page.hpp"

namespace surge::score {

// A row that is not scored, and why ("column tenure_months is NULL").
struct rejected_row {
  std::string key;  // empty when the key itself was NULL
  std::string reason;
  std::string row_values;  // "column=value, ..." of the mapped columns, NULL as NULL
};

// The inputs of one inference request and the page rows it carries.
struct request_rows {
  std::vector<std::size_t> rows;  // indexes into the page
  std::vector<tensor> inputs;
};

struct encoded_page {
  std::vector<request_rows> requests;
  std::vector<rejected_row> rejects;
};

// Turns a page into requests of at most max_batch_size rows (one row each
// for a model without batching) and the rows that cannot be read: a NULL
// key, a NULL in a mapped column, a value that is not a number of the
// input's datatype. Pure.
encoded_page encode_page(const row_page& page, const column_mapping& mapping);

// The page row `row`'s values of the mapped columns, for a reject record.
std::string describe_row(const row_page& page, const column_mapping& mapping, std::size_t row);

}  // namespace surge::score
