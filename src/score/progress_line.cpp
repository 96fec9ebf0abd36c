#include "score/progress_line.hpp"

#include <cstdio>
#include <fstream>
#include <string>

namespace surge::score {

void progress_line::update(std::uint64_t rows, std::optional<double> done_fraction) {
  if (!on_) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - drawn_ < std::chrono::milliseconds(250)) return;
  drawn_ = now;
  draw(rows, done_fraction);
}

void progress_line::draw(std::uint64_t rows, std::optional<double> done_fraction) {
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = seconds > 0 ? static_cast<double>(rows) / seconds : 0.0;
  std::string eta;
  if (done_fraction && *done_fraction > 0 && *done_fraction < 1) {
    const auto left = static_cast<long>(seconds * (1 - *done_fraction) / *done_fraction);
    char text[32];
    std::snprintf(text, sizeof text, "  ETA %ld:%02ld", left / 60, left % 60);
    eta = text;
  }
  std::string done;
  if (done_fraction) {
    char text[16];
    std::snprintf(text, sizeof text, " (%.1f%%)", 100.0 * *done_fraction);
    done = text;
  }
  std::fprintf(stderr, "\rsurge score: %llu rows%s  %.0f rows/s%s   ", static_cast<unsigned long long>(rows),
               done.c_str(), rate, eta.c_str());
  std::fflush(stderr);
}

void progress_line::finish(std::uint64_t rows) {
  if (!on_) return;
  draw(rows, 1.0);
  std::fputc('\n', stderr);
}

std::uint64_t peak_rss_bytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  }
  return 0;
}

}  // namespace surge::score
