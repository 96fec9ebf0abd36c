#include "config/model_repository.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/temp_dir.hpp"

#include <atomic>
#include <chrono>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>

namespace surge {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

using testing::temp_dir;
using testing::write_file;

const std::string good_config = R"pb(
backend: "identity"
max_batch_size: 8
input [ { name: "INPUT0" data_type: TYPE_FP32 dims: [ -1 ] } ]
output [ { name: "OUTPUT0" data_type: TYPE_FP32 dims: [ -1 ] } ]
dynamic_batching { max_queue_delay_microseconds: 100 }
)pb";

TEST(ModelRepository, GoodModelLoadsAndBadModelCarriesItsError) {
  temp_dir repo;
  write_file(repo.path() / "good" / "config.pbtxt", good_config);
  fs::create_directories(repo.path() / "good" / "1");
  fs::create_directories(repo.path() / "good" / "2");
  write_file(repo.path() / "bad" / "config.pbtxt", good_config + "max_batch_size: 0\n");
  fs::create_directories(repo.path() / "bad" / "1");

  const auto entries = scan_model_repository(repo.path());
  ASSERT_EQ(entries.size(), 2u);

  // Sorted by name.
  const auto& bad = entries[0];
  EXPECT_EQ(bad.name, "bad");
  EXPECT_EQ(bad.directory, repo.path() / "bad");
  EXPECT_FALSE(bad.config);
  EXPECT_TRUE(bad.versions.empty());
  EXPECT_THAT(bad.error, HasSubstr("max_batch_size"));
  EXPECT_THAT(bad.error, HasSubstr((repo.path() / "bad" / "config.pbtxt").string()));

  const auto& good = entries[1];
  EXPECT_EQ(good.name, "good");
  EXPECT_EQ(good.directory, repo.path() / "good");
  EXPECT_TRUE(good.error.empty()) << good.error;
  ASSERT_TRUE(good.config);
  EXPECT_EQ(good.config->name(), "good");
  EXPECT_EQ(good.config->backend(), "identity");
  EXPECT_EQ(good.config->dynamic_batching().max_queue_delay_microseconds(), 100u);
  EXPECT_THAT(good.versions, ::testing::ElementsAre(2));
}

TEST(ModelRepository, UnsupportedFieldErrorReachesTheEntry) {
  temp_dir repo;
  write_file(repo.path() / "warm" / "config.pbtxt", good_config + "response_cache { }\n");
  fs::create_directories(repo.path() / "warm" / "1");

  const auto entries = scan_model_repository(repo.path());
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_FALSE(entries[0].config);
  EXPECT_EQ(entries[0].error,
            (repo.path() / "warm" / "config.pbtxt").string() + ":7:1: unsupported field \"response_cache\"");
}

TEST(ModelRepository, ModelWithoutVersionDirectoriesHasError) {
  temp_dir repo;
  const auto model_dir = repo.path() / "empty";
  write_file(model_dir / "config.pbtxt", good_config);
  fs::create_directories(model_dir / "latest");  // not a number, so not a version

  const auto entries = scan_model_repository(repo.path());
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_FALSE(entries[0].config);
  EXPECT_EQ(entries[0].error, "no version directories in " + model_dir.string());
}

TEST(ModelRepository, PolicyThatSelectsNothingHasError) {
  temp_dir repo;
  const auto model_dir = repo.path() / "pinned";
  write_file(model_dir / "config.pbtxt", good_config + "version_policy { specific { versions: [ 3 ] } }\n");
  fs::create_directories(model_dir / "1");
  fs::create_directories(model_dir / "2");

  const auto entries = scan_model_repository(repo.path());
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_FALSE(entries[0].config);
  EXPECT_THAT(entries[0].error, HasSubstr("version_policy"));
  EXPECT_THAT(entries[0].error, HasSubstr("(found 1, 2)"));
}

TEST(ModelRepository, MissingConfigIsAnEntryError) {
  temp_dir repo;
  fs::create_directories(repo.path() / "noconfig" / "1");

  const auto entries = scan_model_repository(repo.path());
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].name, "noconfig");
  EXPECT_FALSE(entries[0].config);
  EXPECT_THAT(entries[0].error, HasSubstr((repo.path() / "noconfig" / "config.pbtxt").string()));
}

TEST(ModelRepository, SkipsFilesAndHiddenDirectories) {
  temp_dir repo;
  write_file(repo.path() / "README.md", "models live here");
  fs::create_directories(repo.path() / ".git" / "1");
  write_file(repo.path() / "m" / "config.pbtxt", good_config);
  fs::create_directories(repo.path() / "m" / "1");

  const auto entries = scan_model_repository(repo.path());
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].name, "m");
  EXPECT_TRUE(entries[0].config) << entries[0].error;
}

TEST(ModelRepository, EmptyRepositoryHasNoEntries) {
  temp_dir repo;
  EXPECT_TRUE(scan_model_repository(repo.path()).empty());
}

TEST(ModelRepository, MissingRepositoryThrowsNamingIt) {
  temp_dir repo;
  const auto missing = repo.path() / "does_not_exist";
  try {
    scan_model_repository(missing);
    FAIL() << "expected std::runtime_error";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr(missing.string()));
  }
}

TEST(ModelRepository, RepositoryThatIsAFileThrows) {
  temp_dir repo;
  write_file(repo.path() / "file", "not a directory");
  EXPECT_THROW(scan_model_repository(repo.path() / "file"), std::runtime_error);
}

}  // namespace
}  // namespace surge
