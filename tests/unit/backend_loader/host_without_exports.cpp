// A program that links the backend loader but not with ENABLE_EXPORTS, as a
// host that forgot it would: it must refuse every backend with a message
// that says why, and a plain dlopen of a backend must fail on the server
// functions it leaves undefined. Prints both; run by backend_abi_test.
#include <dlfcn.h>

#include <iostream>
#include <variant>

#include "backend_loader/backend_library.hpp"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: " << argv[0] << " <backend directory>" << std::endl;
    return 2;
  }
  auto loaded = surge::backend_library::load(argv[1], "identity");
  if (auto* failure = std::get_if<surge::error>(&loaded)) {
    std::cout << "refused: " << failure->message << std::endl;
  } else {
    std::cout << "loaded" << std::endl;
  }
  const auto path = surge::backend_library::library_path(argv[1], "identity");
  if (void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL)) {
    std::cout << "dlopen: loaded" << std::endl;
    dlclose(handle);
  } else {
    std::cout << "dlopen: " << dlerror() << std::endl;
  }
  return 0;
}
