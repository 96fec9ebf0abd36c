// heap_release hands back to the kernel memory that glibc keeps after a burst
// freed it in the middle of the heap (where its own top-of-heap trim cannot
// reach), which is what leaves a server's RSS at its overload peak.
#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <fstream>
#include <thread>
#include <vector>

#include "core/heap_release.hpp"

namespace surge {
namespace {

// Defined only when a sanitizer's runtime is linked in; its allocator then
// replaces glibc's and glibc's trim has nothing to do. (The tsan preset
// undefines __SANITIZE_THREAD__, so the compiler's macros cannot tell.)
extern "C" void __asan_init() __attribute__((weak));
extern "C" void __tsan_init() __attribute__((weak));
const bool sanitizer_allocator = __asan_init != nullptr || __tsan_init != nullptr;

std::size_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::size_t size = 0;
  std::size_t resident = 0;
  statm >> size >> resident;
  return resident * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

// 64 MiB in 32 KiB blocks (below the mmap threshold, so from the heap), each
// followed by a small block that stays: freeing the large ones leaves holes
// that cannot coalesce into the top of the heap.
struct fragmented_burst {
  std::vector<void*> large;
  std::vector<void*> pins;
  fragmented_burst() {
    for (int i = 0; i < 2048; ++i) {
      auto* block = std::malloc(32 * 1024);
      std::memset(block, 1, 32 * 1024);  // resident
      large.push_back(block);
      pins.push_back(std::malloc(64));
    }
  }
  void free_large() {
    for (auto* block : large) std::free(block);
    large.clear();
  }
  ~fragmented_burst() {
    free_large();
    for (auto* pin : pins) std::free(pin);
  }
};

TEST(heap_release, memory_freed_in_the_middle_of_the_heap_goes_back_to_the_kernel) {
  if (sanitizer_allocator) GTEST_SKIP() << "a sanitizer's allocator replaces glibc's";
  fragmented_burst burst;
  burst.free_large();
  EXPECT_GE(heap_release::free_heap_bytes(), std::size_t{60} << 20);
  const auto before = resident_bytes();
  heap_release::release_now();
  const auto after = resident_bytes();
  EXPECT_GE(before - std::min(before, after), std::size_t{48} << 20)
      << "resident " << (before >> 20) << " MiB before the release, " << (after >> 20) << " MiB after";
}

TEST(heap_release, its_thread_releases_once_enough_is_free_and_stops_promptly) {
  if (sanitizer_allocator) GTEST_SKIP() << "a sanitizer's allocator replaces glibc's";
  fragmented_burst burst;
  burst.free_large();
  const auto before = resident_bytes();
  const auto start = std::chrono::steady_clock::now();
  {
    heap_release release({std::chrono::milliseconds(10), std::size_t{1} << 20});
    while (release.releases() == 0 && std::chrono::steady_clock::now() - start < std::chrono::seconds(10)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    EXPECT_GE(release.releases(), 1u);
  }  // the destructor wakes and joins the thread
  EXPECT_LT(resident_bytes(), before);
}

}  // namespace
}  // namespace surge
