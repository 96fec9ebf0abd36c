#include "frontends/auth_keys.hpp"

#include <gtest/gtest.h>

#include <fstream>

#include "support/temp_dir.hpp"

namespace surge::auth {
namespace {

api_keys parsed(std::string_view text, std::string_view separators = "\n") {
  auto keys = api_keys::parse(text, "keys", separators);
  if (auto* failure = std::get_if<error>(&keys)) ADD_FAILURE() << failure->message;
  return std::get<api_keys>(std::move(keys));
}

TEST(ApiKeys, NoKeysLeaveEveryGroupOpen) {
  const auto keys = parsed("# nothing yet\n\n");
  EXPECT_FALSE(keys.any_guarded());
  EXPECT_FALSE(keys.guarded(endpoint_group::inference));
}

TEST(ApiKeys, AKeyAloneGuardsEveryGroupAndAGroupedKeyOnlyItsGroup) {
  const auto keys = parsed("everywhere\nmetrics scrape-key\n  management\tops-key  \n");
  for (auto group : {endpoint_group::inference, endpoint_group::management, endpoint_group::metrics}) {
    EXPECT_TRUE(keys.guarded(group));
    EXPECT_TRUE(keys.accepts(group, "everywhere"));
  }
  EXPECT_TRUE(keys.accepts(endpoint_group::metrics, "scrape-key"));
  EXPECT_FALSE(keys.accepts(endpoint_group::inference, "scrape-key"));
  EXPECT_TRUE(keys.accepts(endpoint_group::management, "ops-key"));
  EXPECT_FALSE(keys.accepts(endpoint_group::metrics, "ops-key"));
}

TEST(ApiKeys, OnlyTheWholeKeyIsAccepted) {
  const auto keys = parsed("inference sk-secret");
  EXPECT_TRUE(keys.accepts(endpoint_group::inference, "sk-secret"));
  EXPECT_FALSE(keys.accepts(endpoint_group::inference, "sk-secre"));
  EXPECT_FALSE(keys.accepts(endpoint_group::inference, "sk-secrets"));
  EXPECT_FALSE(keys.accepts(endpoint_group::inference, "sk-secretsk-secret"));  // a repeat is not the key
  EXPECT_FALSE(keys.accepts(endpoint_group::inference, ""));
  EXPECT_FALSE(keys.guarded(endpoint_group::metrics));
}

TEST(ApiKeys, TheEnvironmentFormSplitsOnCommas) {
  const auto keys = parsed("k1,metrics k2", ",\n");
  EXPECT_TRUE(keys.accepts(endpoint_group::inference, "k1"));
  EXPECT_TRUE(keys.accepts(endpoint_group::metrics, "k2"));
  EXPECT_FALSE(keys.accepts(endpoint_group::inference, "k2"));
}

TEST(ApiKeys, AnUnknownGroupNamesItsLine) {
  auto keys = api_keys::parse("good\nadmin secret\n", "keys.txt");
  ASSERT_TRUE(std::holds_alternative<error>(keys));
  EXPECT_NE(std::get<error>(keys).message.find("keys.txt:2"), std::string::npos) << std::get<error>(keys).message;
}

TEST(ApiKeys, AMissingOrEmptyFileIsAnError) {
  testing::temp_dir dir{"surge_keys"};
  EXPECT_TRUE(std::holds_alternative<error>(api_keys::load_file((dir.path() / "absent").string())));
  const auto empty = dir.path() / "empty";
  std::ofstream(empty) << "# no keys\n";
  EXPECT_TRUE(std::holds_alternative<error>(api_keys::load_file(empty.string())));
  const auto file = dir.path() / "keys";
  std::ofstream(file) << "inference k\n";
  auto loaded = api_keys::load_file(file.string());
  ASSERT_TRUE(std::holds_alternative<api_keys>(loaded));
  EXPECT_TRUE(std::get<api_keys>(loaded).accepts(endpoint_group::inference, "k"));
}

TEST(PresentedKey, BearerOrXApiKey) {
  EXPECT_EQ(presented_key("Bearer abc", std::nullopt), "abc");
  EXPECT_EQ(presented_key("bearer   abc  ", std::nullopt), "abc");
  EXPECT_EQ(presented_key(std::nullopt, "abc"), "abc");
  EXPECT_EQ(presented_key("Basic dXNlcjpwYXNz", "abc"), "abc");
  EXPECT_EQ(presented_key("Basic dXNlcjpwYXNz", std::nullopt), std::nullopt);
  EXPECT_EQ(presented_key("Bearer", std::nullopt), std::nullopt);
  EXPECT_EQ(presented_key("Bearerabc", std::nullopt), std::nullopt);
  EXPECT_EQ(presented_key(std::nullopt, std::nullopt), std::nullopt);
}

TEST(GroupOfHttpTarget, HealthIsOpenAndTheRestIsGrouped) {
  EXPECT_EQ(group_of_http_target("/v2/health/live"), std::nullopt);
  EXPECT_EQ(group_of_http_target("/v2/health/ready?x=1"), std::nullopt);
  EXPECT_EQ(group_of_http_target("//v2//health/ready"), std::nullopt);
  EXPECT_EQ(group_of_http_target("/v2/models/m/ready"), std::nullopt);
  EXPECT_EQ(group_of_http_target("/v2/models/m/versions/2/ready"), std::nullopt);
  EXPECT_EQ(group_of_http_target("/v2/models/ready"), endpoint_group::inference);  // metadata of a model "ready"
  EXPECT_EQ(group_of_http_target("/v2/health/live/extra"), endpoint_group::inference);
  EXPECT_EQ(group_of_http_target("/v2/models/m/infer"), endpoint_group::inference);
  EXPECT_EQ(group_of_http_target("/v2"), endpoint_group::inference);
  EXPECT_EQ(group_of_http_target("/v2/repository/index"), endpoint_group::management);
  EXPECT_EQ(group_of_http_target("/anything"), endpoint_group::inference);
}

TEST(RefusalMessage, NeverQuotesTheKey) {
  EXPECT_EQ(refusal_message(endpoint_group::inference, false),
            "the inference endpoints need an API key: send 'Authorization: Bearer <key>'");
  EXPECT_EQ(refusal_message(endpoint_group::metrics, true), "the API key is not valid for the metrics endpoints");
}

}  // namespace
}  // namespace surge::auth
