#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

namespace surge::score {

// The one-line progress report on a terminal: rows done, rows/s, and the
// time left when the source knows how much there is. Redrawn at most four
// times a second; silent when off.
class progress_line {
 public:
  explicit progress_line(bool on) : on_(on) {}
  void update(std::uint64_t rows, std::optional<double> done_fraction);
  // Ends the line (a final redraw and a newline).
  void finish(std::uint64_t rows);

 private:
  void draw(std::uint64_t rows, std::optional<double> done_fraction);

  bool on_;
  std::chrono::steady_clock::time_point start_{std::chrono::steady_clock::now()};
  std::chrono::steady_clock::time_point drawn_{};
};

// The process's peak resident memory (VmHWM), in bytes; 0 when unknown.
std::uint64_t peak_rss_bytes();

}  // namespace surge::score
