// Regions of real POSIX shared memory: registered, read into inputs, written
// from outputs, and every bound checked on use.
#include "shared_memory/system_shared_memory.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>

#include "support/test_support.hpp"

namespace surge {
namespace {

using ::testing::HasSubstr;

// A shared-memory object of `size` bytes, removed at the end of the test.
class shm_object {
 public:
  explicit shm_object(std::size_t size) : key_("/surge_unit_" + std::to_string(getpid()) + "_" + std::to_string(next_++)) {
    const int fd = shm_open(key_.c_str(), O_CREAT | O_RDWR, 0600);
    EXPECT_GE(fd, 0);
    EXPECT_EQ(ftruncate(fd, static_cast<off_t>(size)), 0);
    base_ = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    size_ = size;
    close(fd);
  }
  ~shm_object() {
    munmap(base_, size_);
    shm_unlink(key_.c_str());
  }
  const std::string& key() const { return key_; }
  std::byte* bytes() const { return static_cast<std::byte*>(base_); }

 private:
  static inline int next_ = 0;
  std::string key_;
  void* base_{nullptr};
  std::size_t size_{0};
};

tensor header(std::string name, data_type type, std::vector<std::int64_t> shape) {
  tensor t;
  t.name = std::move(name);
  t.type = type;
  t.shape = std::move(shape);
  return t;
}

TEST(SystemSharedMemory, RegistersReportsAndUnregisters) {
  shm_object object(256);
  system_shared_memory registry;
  ASSERT_FALSE(registry.register_region("in", object.key(), 64, 128));
  auto all = registry.status(std::nullopt);
  ASSERT_EQ(std::get<0>(all).size(), 1u);
  EXPECT_EQ(std::get<0>(all)[0].key, object.key());
  EXPECT_EQ(std::get<0>(all)[0].offset, 64u);
  EXPECT_EQ(std::get<0>(all)[0].byte_size, 128u);
  const auto twice = registry.register_region("in", object.key(), 0, 8);
  ASSERT_TRUE(twice);
  EXPECT_THAT(twice->message, HasSubstr("already registered"));
  registry.unregister("in");
  EXPECT_TRUE(std::get<0>(registry.status(std::nullopt)).empty());
  EXPECT_TRUE(std::holds_alternative<error>(registry.status(std::string("in"))));
}

TEST(SystemSharedMemory, RefusesMissingKeysAndRegionsBeyondTheObject) {
  shm_object object(64);
  system_shared_memory registry;
  const auto missing = registry.register_region("r", "/surge_no_such_key", 0, 8);
  ASSERT_TRUE(missing);
  EXPECT_THAT(missing->message, HasSubstr("cannot open shared memory key '/surge_no_such_key'"));
  const auto beyond = registry.register_region("r", object.key(), 32, 64);
  ASSERT_TRUE(beyond);
  EXPECT_THAT(beyond->message, HasSubstr("is beyond the 64 bytes"));
}

TEST(SystemSharedMemory, InputsReadTheRegionAndOutputsWriteIt) {
  shm_object object(128);
  const float values[4] = {1.f, 2.f, 3.f, 4.f};
  std::memcpy(object.bytes() + 16, values, sizeof values);
  system_shared_memory registry;
  ASSERT_FALSE(registry.register_region("r", object.key(), 0, 128));

  std::vector<tensor> inputs{header("x", data_type::fp32, {1, 4})};
  ASSERT_FALSE(registry.read_inputs(inputs, {{0, shared_memory_ref{"r", 16, 16}}}));
  float read[4];
  std::memcpy(read, inputs[0].data.data(), sizeof read);
  EXPECT_EQ(read[3], 4.f);
  // The mapping outlives the registration while the tensor holds it.
  registry.unregister("r");
  std::memcpy(read, inputs[0].data.data(), sizeof read);
  EXPECT_EQ(read[0], 1.f);

  ASSERT_FALSE(registry.register_region("r", object.key(), 0, 128));
  std::vector<tensor> outputs{testing::fp32_tensor("y", {1, 4}, 10.f)};
  ASSERT_FALSE(registry.write_outputs(outputs, {{"y", shared_memory_ref{"r", 64, 16}}}));
  float written[4];
  std::memcpy(written, object.bytes() + 64, sizeof written);
  EXPECT_EQ(written[0], 10.f);
  EXPECT_EQ(written[3], 13.f);
}

TEST(SystemSharedMemory, EveryUseIsCheckedAgainstTheRegion) {
  shm_object object(64);
  system_shared_memory registry;
  ASSERT_FALSE(registry.register_region("r", object.key(), 0, 32));

  std::vector<tensor> inputs{header("x", data_type::fp32, {1, 4})};
  const auto beyond = registry.read_inputs(inputs, {{0, shared_memory_ref{"r", 24, 16}}});
  ASSERT_TRUE(beyond);
  EXPECT_THAT(beyond->message, HasSubstr("input 'x': shared_memory_offset 24 + shared_memory_byte_size 16 is beyond "
                                         "the 32 bytes of shared memory region 'r'"));
  const auto wrong_size = registry.read_inputs(inputs, {{0, shared_memory_ref{"r", 0, 12}}});
  ASSERT_TRUE(wrong_size);
  EXPECT_THAT(wrong_size->message, HasSubstr("shared_memory_byte_size is 12 but shape [1,4] of FP32 needs 16 bytes"));
  const auto unknown = registry.read_inputs(inputs, {{0, shared_memory_ref{"nope", 0, 16}}});
  ASSERT_TRUE(unknown);
  EXPECT_THAT(unknown->message, HasSubstr("shared memory region 'nope' is not registered"));

  std::vector<tensor> outputs{testing::fp32_tensor("y", {1, 16}, 0.f)};
  const auto small = registry.write_outputs(outputs, {{"y", shared_memory_ref{"r", 0, 32}}});
  ASSERT_TRUE(small);
  EXPECT_EQ(small->code, error_code::invalid_argument);
  EXPECT_THAT(small->message, HasSubstr("output 'y' is 64 bytes but shared memory region 'r' gives it 32"));
}

}  // namespace
}  // namespace surge
