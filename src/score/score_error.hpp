#pragma once

#include <stdexcept>
#include <string>

namespace surge::score {

// A failure that ends a scoring run: a source or an output that cannot be
// read or written (the database went away, a file cannot be opened). Rows
// that cannot be scored are rejects, never this. What was committed before
// stays committed; a rerun with the same run id continues after it.
class score_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace surge::score
