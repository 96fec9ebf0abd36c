#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "image/preprocess.hpp"

namespace surge::images {

// What a POST /v1/images/preprocess body asks for (docs/images.md).
struct preprocess_request {
  std::vector<std::string> urls;
  image::preprocess_options options;
};

struct request_bounds {
  std::size_t max_urls{1024};
  std::uint32_t max_side{4096};                 // size[0] and size[1]
  std::uint64_t max_output_elements{1u << 27};  // urls x H x W x 3 over the whole answer
};

// The request, or a message naming the first field that is missing or wrong.
std::variant<preprocess_request, std::string> parse_preprocess_request(std::string_view body,
                                                                       const request_bounds& bounds);

}  // namespace surge::images
