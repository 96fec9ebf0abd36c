#pragma once

#include <string>

#include "fetch/fetch_error.hpp"
#include "image/preprocess.hpp"

namespace surge::images {

// One element of the answer's "results": {"url", "shape", "datatype",
// "data"} when the body preprocessed, else {"url", "error": {"kind",
// "message"}}. Decodes and resizes: called on the CPU pool.
std::string result_json(const std::string& url, const fetch::fetch_result& fetched,
                        const image::preprocess_options& options);

}  // namespace surge::images
