#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <string>
#include <string_view>

namespace surge::redis {

// One Redis command, encoded as it is built: a RESP array of bulk strings.
// Arguments are length-prefixed, so any bytes (a binary request body) pass
// through unchanged.
class command {
 public:
  command() = default;
  // command{"XADD", key, "*"}: each argument through arg(). A pack, not an
  // initializer_list, whose backing array GCC 12 mishandles in coroutines.
  template <typename... Arguments>
  explicit command(std::string_view name, Arguments&&... arguments) {
    arg(name);
    (arg(std::forward<Arguments>(arguments)), ...);
  }

  command& arg(std::string_view argument);
  command& arg(std::int64_t number);
  command& arg(std::uint64_t number);
  command& arg(int number) { return arg(static_cast<std::int64_t>(number)); }
  command& arg(unsigned number) { return arg(static_cast<std::uint64_t>(number)); }
  command& arg(const char* argument) { return arg(std::string_view(argument)); }
  command& arg(const std::string& argument) { return arg(std::string_view(argument)); }

  std::size_t size() const { return count_; }
  bool empty() const { return count_ == 0; }
  // The first argument (the command's name), for error messages.
  std::string_view name() const { return name_; }

  // Appends "*<n>\r\n" and the arguments to `out`.
  void encode_to(std::string& out) const;
  std::string encoded() const;

 private:
  std::string arguments_;  // "$<len>\r\n<bytes>\r\n" per argument
  std::size_t count_{0};
  std::string name_;
};

}  // namespace surge::redis
