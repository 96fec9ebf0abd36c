#include "pool/free_port.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace surge::pool {

std::variant<std::uint16_t, error> pick_free_port(const std::string& host) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = 0;
  if (::inet_pton(AF_INET, host.c_str(), &address.sin_addr) != 1) {
    return make_error(error_code::invalid_argument, "'" + host + "' is not an IPv4 address");
  }
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return make_error(error_code::internal, std::string("socket: ") + std::strerror(errno));
  socklen_t length = sizeof address;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    const int saved = errno;
    ::close(fd);
    return make_error(error_code::internal, "cannot bind a port on " + host + ": " + std::strerror(saved));
  }
  ::close(fd);
  return static_cast<std::uint16_t>(ntohs(address.sin_port));
}

}  // namespace surge::pool
