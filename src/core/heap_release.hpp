#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <thread>

namespace surge {

// Hands heap memory that is free again back to the kernel. glibc keeps what
// a burst freed (thousands of connections' buffers, a deep queue's
// requests, gRPC's slices) in its arenas for reuse, and trims only the top
// of the main arena by itself, so resident memory stays at the burst's peak.
// A thread of its own wakes every `interval` and, when more than
// `min_free_bytes` lie free in the arenas, calls malloc_trim(0), which
// releases the free pages of every arena. It runs on its own thread because a
// trim of a large heap takes milliseconds that an I/O thread must not spend.
class heap_release {
 public:
  struct options {
    std::chrono::milliseconds interval{std::chrono::seconds(5)};
    std::size_t min_free_bytes{std::size_t{8} << 20};
  };

  explicit heap_release(options opts);
  ~heap_release();
  heap_release(const heap_release&) = delete;
  heap_release& operator=(const heap_release&) = delete;

  // Bytes the allocator holds free (mallinfo2's fordblks + fsmblks).
  static std::size_t free_heap_bytes();
  // Releases what is free now; returns whether any memory went back.
  static bool release_now();

  std::size_t releases() const;

 private:
  void run();

  const options options_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_{false};
  std::size_t releases_{0};
  std::thread thread_;
};

}  // namespace surge
