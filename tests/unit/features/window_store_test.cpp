#include "features/window_store.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "config/model_config.hpp"
#include "features/feature_event_parse.hpp"
#include "features/request_rows.hpp"

namespace surge::features {
namespace {

config::ModelConfig features_config() {
  auto parsed = complete_model_config(*parse_model_config(R"pb(
    name: "fraud" platform: "features" max_batch_size: 8
    input [ { name: "user_id" data_type: TYPE_STRING dims: [ 1 ] },
            { name: "amount" data_type: TYPE_FP32 dims: [ 1 ] } ]
    output [ { name: "probabilities" data_type: TYPE_FP32 dims: [ 1 ] } ]
    features {
      model: "scorer" model_input: "features" entity_input: "user_id"
      stream { key: "events" entity_field: "user" time_field: "ts" }
      tile_ms: 1000 allowed_lateness_ms: 5000
      window [ { name: "n_3s" aggregate: COUNT length_ms: 3000 },
               { name: "sum_3s" field: "amount" aggregate: SUM length_ms: 3000 },
               { name: "mean_10s" field: "amount" aggregate: MEAN length_ms: 10000 },
               { name: "max_10s" field: "amount" aggregate: MAX length_ms: 10000 },
               { name: "min_10s" field: "amount" aggregate: MIN length_ms: 10000 },
               { name: "shops_10s" field: "shop" aggregate: DISTINCT_COUNT length_ms: 10000 } ]
      static_attributes { hash_prefix: "user:" fields: [ "age" ] }
      vector: [ "amount", "n_3s", "sum_3s", "age" ]
    }
  )pb", "config.pbtxt").config, "fraud", "config.pbtxt");
  EXPECT_TRUE(parsed.config) << parsed.error;
  return *parsed.config;
}

class WindowStore : public ::testing::Test {
 protected:
  WindowStore() : spec_(make_feature_spec(features_config())), store_(spec_) {}

  window_store::outcome add(const std::string& user, std::int64_t ts, double amount, const std::string& shop) {
    return store_.apply({user, ts, {amount}, {shop}});
  }
  std::vector<float> at(const std::string& user, std::int64_t t) {
    std::vector<float> out(spec_.windows.size());
    store_.evaluate(user, t, out);
    return out;
  }

  feature_spec spec_;
  window_store store_;
};

TEST_F(WindowStore, WindowsAreWholeTilesEndingWithTheTileOfT) {
  add("u", 10'000, 1.5, "a");
  add("u", 11'999, 2.0, "b");
  add("u", 12'000, 4.0, "a");
  add("v", 12'500, 100.0, "z");
  // t = 12.0 s: tiles 10, 11, 12 for 3 s; 3..12 for 10 s.
  auto f = at("u", 12'000);
  EXPECT_EQ(f[0], 3.0f);
  EXPECT_EQ(f[1], 7.5f);
  EXPECT_EQ(f[2], static_cast<float>(7.5 / 3));
  EXPECT_EQ(f[3], 4.0f);
  EXPECT_EQ(f[4], 1.5f);
  EXPECT_EQ(f[5], 2.0f);
  // t = 13.999 s: tiles 11..13 for 3 s: the event of tile 10 is out.
  f = at("u", 13'999);
  EXPECT_EQ(f[0], 2.0f);
  EXPECT_EQ(f[1], 6.0f);
  // An entity nobody saw: empty windows.
  f = at("w", 12'000);
  EXPECT_EQ(f[0], 0.0f);
  EXPECT_EQ(f[1], 0.0f);
  EXPECT_TRUE(std::isnan(f[2]) && std::isnan(f[3]) && std::isnan(f[4]));
  EXPECT_EQ(f[5], 0.0f);
  EXPECT_EQ(store_.latest_time_ms(), std::optional<std::int64_t>(12'500));
  EXPECT_EQ(store_.entities(), 2u);
}

TEST_F(WindowStore, LateEventsWithinLatenessCountAndLaterOnesAreDropped) {
  EXPECT_EQ(add("u", 20'000, 1.0, "a"), window_store::outcome::applied);
  EXPECT_EQ(add("u", 16'000, 2.0, "b"), window_store::outcome::late);      // 4 s late, lateness 5 s
  EXPECT_EQ(add("u", 14'999, 3.0, "c"), window_store::outcome::too_late);  // past 15.000
  const auto f = at("u", 20'000);
  EXPECT_EQ(f[0], 1.0f);                       // 3 s: tiles 18..20
  EXPECT_EQ(f[3], 2.0f);                       // 10 s max: 1 and 2, not 3
  EXPECT_EQ(f[5], 2.0f);
}

TEST_F(WindowStore, TilesNoWindowCanReachAreDropped) {
  add("old", 1'000, 1.0, "a");
  for (int i = 0; i < 4096; ++i) add("new", 1'000'000 + i, 1.0, "a");
  EXPECT_EQ(store_.entities(), 1u);  // the sweep removed the entity whose tiles all fell out
}

TEST(FeatureEvents, MalformedEntriesAreRefused) {
  const auto spec = make_feature_spec(features_config());
  streams::stream_entry entry{"1-0", {{"user", "u"}, {"ts", "123"}, {"amount", "2.5"}, {"shop", "s"}}};
  auto event = parse_event(entry, spec);
  ASSERT_TRUE(event);
  EXPECT_EQ(event->entity, "u");
  EXPECT_EQ(event->time_ms, 123);
  EXPECT_EQ(event->numbers, std::vector<double>{2.5});
  for (const auto& broken : std::vector<streams::stream_entry>{
           {"1-0", {{"ts", "123"}, {"amount", "2.5"}, {"shop", "s"}}},
           {"1-0", {{"user", "u"}, {"ts", "12.5"}, {"amount", "2.5"}, {"shop", "s"}}},
           {"1-0", {{"user", "u"}, {"ts", "123"}, {"amount", "lots"}, {"shop", "s"}}},
           {"1-0", {{"user", "u"}, {"ts", "123"}, {"amount", "2.5"}}}}) {
    EXPECT_FALSE(parse_event(broken, spec));
  }
}

TEST(FeatureSpec, TheVectorNamesRequestFieldsWindowsAndAttributes) {
  const auto config = features_config();
  const auto spec = make_feature_spec(config);
  ASSERT_EQ(spec.vector.size(), 4u);
  EXPECT_EQ(spec.vector[0].from, vector_element::source::request_input);
  EXPECT_EQ(spec.vector[2].from, vector_element::source::window);
  EXPECT_EQ(spec.vector[2].index, 1u);
  EXPECT_EQ(spec.vector[3].from, vector_element::source::static_attribute);
  EXPECT_EQ(spec.numeric_fields, std::vector<std::string>{"amount"});
  EXPECT_EQ(spec.max_window_tiles, 10);
  EXPECT_EQ(spec.outputs, std::vector<std::string>{"probabilities"});
  // FEATURES is declared by default, as wide as the vector.
  const auto& last = config.output(config.output_size() - 1);
  EXPECT_EQ(last.name(), "FEATURES");
  EXPECT_EQ(last.dims(0), 4);
}

TEST(FeatureConfig, ProblemsNameTheirField) {
  auto parsed = complete_model_config(*parse_model_config(R"pb(
    name: "f" platform: "features"
    input [ { name: "id" data_type: TYPE_STRING dims: [ 1 ] } ]
    output [ { name: "p" data_type: TYPE_FP32 dims: [ 1 ] } ]
    features {
      model: "m" model_input: "x" entity_input: "id"
      stream { key: "s" entity_field: "e" time_field: "t" }
      tile_ms: 1000
      window [ { name: "w" field: "" aggregate: SUM length_ms: 1500 } ]
      vector: [ "w", "nope" ]
    }
  )pb", "config.pbtxt").config, "f", "config.pbtxt");
  ASSERT_FALSE(parsed.config);
  EXPECT_NE(parsed.error.find("features.window[1].field"), std::string::npos) << parsed.error;
  EXPECT_NE(parsed.error.find("features.window[1].length_ms"), std::string::npos) << parsed.error;
  EXPECT_NE(parsed.error.find("\"nope\" is neither"), std::string::npos) << parsed.error;
}

TEST(RequestRows, EntitiesFieldsAndParameters) {
  const auto spec = make_feature_spec(features_config());
  inference_request request;
  auto ids = make_owned_tensor("user_id", data_type::bytes, {2, 1}, 4 + 1 + 4 + 2);
  const unsigned char bytes[] = {1, 0, 0, 0, 'a', 2, 0, 0, 0, 'b', 'c'};
  std::memcpy(mutable_data(ids), bytes, sizeof bytes);
  auto amounts = make_owned_tensor("amount", data_type::fp32, {2, 1}, 8);
  const float values[] = {1.5f, -2.0f};
  std::memcpy(mutable_data(amounts), values, sizeof values);
  request.inputs = {ids, amounts};
  request.parameters = {{"event_time_ms", "12345"}, {"return_features", "true"}};
  auto read = read_request_rows(request, spec);
  ASSERT_TRUE(std::holds_alternative<request_rows>(read));
  const auto& rows = std::get<request_rows>(read);
  EXPECT_EQ(rows.entities, (std::vector<std::string>{"a", "bc"}));
  EXPECT_EQ(rows.fields[0], (std::vector<double>{1.5, -2.0}));
  EXPECT_EQ(rows.event_time_ms, std::optional<std::int64_t>(12345));
  EXPECT_TRUE(rows.return_features);

  const std::vector<std::vector<float>> windows{{1, 2, 3, 4, 5, 6}, {7, 8, 9, 10, 11, 12}};
  const std::vector<std::vector<double>> attributes{{30.0}, {std::nan("")}};
  const auto vector = assemble_vector(rows, spec, windows, attributes, true);
  EXPECT_EQ(vector.shape, (std::vector<std::int64_t>{2, 4}));
  const auto* v = reinterpret_cast<const float*>(vector.data.data());
  EXPECT_EQ(std::vector<float>(v, v + 4), (std::vector<float>{1.5f, 1, 2, 30}));
  EXPECT_TRUE(std::isnan(v[7]));

  request.parameters = {{"event_time_ms", "soon"}};
  const auto refused = read_request_rows(request, spec);
  ASSERT_TRUE(std::holds_alternative<error>(refused));
  EXPECT_NE(std::get<error>(refused).message.find("event_time_ms"), std::string::npos);
}

}  // namespace
}  // namespace surge::features
