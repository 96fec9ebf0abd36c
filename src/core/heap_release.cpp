#include "core/heap_release.hpp"

#include <malloc.h>
#include <pthread.h>

namespace surge {

heap_release::heap_release(options opts) : options_(opts), thread_([this] { run(); }) {}

heap_release::~heap_release() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

std::size_t heap_release::free_heap_bytes() {
  const auto info = mallinfo2();
  return info.fordblks + info.fsmblks;
}

bool heap_release::release_now() { return malloc_trim(0) != 0; }

std::size_t heap_release::releases() const {
  std::lock_guard lock(mutex_);
  return releases_;
}

void heap_release::run() {
  pthread_setname_np(pthread_self(), "heap_release");
  std::unique_lock lock(mutex_);
  while (!wake_.wait_for(lock, options_.interval, [this] { return stopping_; })) {
    lock.unlock();
    const bool released = free_heap_bytes() >= options_.min_free_bytes && release_now();
    lock.lock();
    if (released) ++releases_;
  }
}

}  // namespace surge
