// Thread settings shared by the libtorch backends (torchscript, torchscript_lm).
//
// libtorch keeps its intra-op thread count per OpenMP thread with a process
// default, and OpenBLAS keeps its own pool; both have to be told.
#pragma once

#include <ATen/Parallel.h>
#include <dlfcn.h>
#include <sched.h>

#include <algorithm>
#include <thread>

namespace surge::torch_threads {

inline int available_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

// libtorch does not pass its thread count on to OpenBLAS, whose own pool would
// otherwise run a thread per core inside every matmul of every instance. The
// symbol is looked up through the calling library's own dependencies because
// the server loads backends with RTLD_LOCAL.
inline void set_blas_threads(int threads) {
  static const char anchor = 0;
  Dl_info info{};
  if (dladdr(&anchor, &info) == 0 || info.dli_fname == nullptr) return;
  void* self = dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
  if (self == nullptr) return;
  using set_threads_fn = void (*)(int);
  if (auto* set = reinterpret_cast<set_threads_fn>(dlsym(self, "openblas_set_num_threads"))) set(threads);
  dlclose(self);
}

// Applies a model's intra_op_threads (0: unset) as the process default. Unset,
// libtorch's default is capped at the CPUs this process may run on: it sizes
// itself from the machine's cores, which overcommits a process confined to
// fewer (a container, taskset).
inline void apply_intra_op_threads(int threads) {
  if (threads > 0) {
    at::set_num_threads(threads);
    set_blas_threads(threads);
  } else if (at::get_num_threads() > available_cpus()) {
    at::set_num_threads(available_cpus());
  }
}

// Thread counts live per OpenMP thread; a model loaded later may have changed
// the process default an execution thread started with.
inline void reapply_intra_op_threads(int threads) {
  if (threads > 0 && at::get_num_threads() != threads) at::set_num_threads(threads);
}

}  // namespace surge::torch_threads
