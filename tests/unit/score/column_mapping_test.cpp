#include "score/column_mapping.hpp"

#include <gtest/gtest.h>

#include "config/model_config.hpp"

namespace surge::score {
namespace {

config::ModelConfig model_config(const std::string& text) {
  auto parsed = parse_model_config(text, "config.pbtxt");
  EXPECT_TRUE(parsed.config) << parsed.error;
  return *parsed.config;
}

const auto churn = R"pb(
  name: "churn" backend: "xgboost" max_batch_size: 64
  input [ { name: "features" data_type: TYPE_FP32 dims: [ 3 ] } ]
  output [ { name: "probabilities" data_type: TYPE_FP32 dims: [ 2 ] },
           { name: "label" data_type: TYPE_INT64 dims: [ 1 ] } ]
)pb";

std::string error_of(const std::variant<column_mapping, error>& mapped) {
  const auto* failure = std::get_if<error>(&mapped);
  return failure ? failure->message : std::string();
}

TEST(ColumnMapping, MapsColumnsInOrderAndOutputsByIndex) {
  auto mapped = make_column_mapping(model_config(churn), "user_id", {"features=a, b,c"},
                                    {"p=probabilities:1", "label=label"});
  ASSERT_TRUE(std::holds_alternative<column_mapping>(mapped)) << error_of(mapped);
  const auto& mapping = std::get<column_mapping>(mapped);
  EXPECT_EQ(mapping.source_columns, (std::vector<std::string>{"a", "b", "c"}));
  ASSERT_EQ(mapping.inputs.size(), 1u);
  EXPECT_EQ(mapping.inputs[0].columns, (std::vector<std::size_t>{0, 1, 2}));
  EXPECT_EQ(mapping.inputs[0].type, data_type::fp32);
  ASSERT_EQ(mapping.outputs.size(), 2u);
  EXPECT_EQ(mapping.outputs[0].index, 1);
  EXPECT_EQ(mapping.outputs[0].width, 2);
  EXPECT_EQ(mapping.outputs[1].type, data_type::int64);
  EXPECT_TRUE(mapping.batched);
  EXPECT_EQ(mapping.max_batch_size, 64);
}

TEST(ColumnMapping, RefusesWhatDoesNotFitTheModelNamingIt) {
  const auto config = model_config(churn);
  EXPECT_NE(error_of(make_column_mapping(config, "k", {"features=a,b"}, {"p=probabilities:0"}))
                .find("2 column(s) for input 'features', whose dims hold 3"),
            std::string::npos);
  EXPECT_NE(error_of(make_column_mapping(config, "k", {"feature=a,b,c"}, {"p=probabilities:0"})).find("no input 'feature'"),
            std::string::npos);
  EXPECT_NE(error_of(make_column_mapping(config, "k", {}, {"p=probabilities:0"})).find("input 'features' is not mapped"),
            std::string::npos);
  EXPECT_NE(error_of(make_column_mapping(config, "k", {"features=a,b,c"}, {"p=probabilities"})).find("name one"),
            std::string::npos);
  EXPECT_NE(error_of(make_column_mapping(config, "k", {"features=a,b,c"}, {"p=probabilities:2"})).find("outside"),
            std::string::npos);
  EXPECT_NE(error_of(make_column_mapping(config, "k", {"features=a,b,c"}, {"p=probs:0"})).find("no output 'probs'"),
            std::string::npos);
  EXPECT_NE(error_of(make_column_mapping(config, "k", {"features=a,k,c"}, {"p=probabilities:0"})).find("key column"),
            std::string::npos);
  EXPECT_NE(error_of(make_column_mapping(config, "k", {"features=a,,c"}, {"p=probabilities:0"})).find("empty column"),
            std::string::npos);
  EXPECT_NE(error_of(make_column_mapping(config, "k", {"features=a,b,c"}, {"k=probabilities:0"})).find("taken"),
            std::string::npos);
  EXPECT_NE(error_of(make_column_mapping(config, "k", {"features=a,b,c"}, {})).find("--output"), std::string::npos);
}

TEST(ColumnMapping, AVariableDimTakesTheColumnCount) {
  auto mapped = make_column_mapping(model_config(R"pb(
    name: "m" backend: "identity" max_batch_size: 0
    input [ { name: "x" data_type: TYPE_INT64 dims: [ -1 ] } ]
    output [ { name: "y" data_type: TYPE_INT64 dims: [ 1 ] } ]
  )pb"),
                                    "id", {"x=a,b,c,d"}, {"y=y"});
  ASSERT_TRUE(std::holds_alternative<column_mapping>(mapped)) << error_of(mapped);
  const auto& mapping = std::get<column_mapping>(mapped);
  EXPECT_EQ(mapping.inputs[0].dims, (std::vector<std::int64_t>{4}));
  EXPECT_FALSE(mapping.batched);
}

}  // namespace
}  // namespace surge::score
