#include "score/score_runner.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "score/csv_sink.hpp"
#include "score/csv_source.hpp"
#include "score/score_error.hpp"
#include "support/temp_dir.hpp"

namespace surge::score {
namespace {

std::string read_all(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// identity: the scores are the inputs, so every row's place is checkable.
class ScoreRunner : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::write_file(dir_.path() / "repository/pair/config.pbtxt", R"pb(
      name: "pair" backend: "identity" max_batch_size: 3
      input [ { name: "INPUT0" data_type: TYPE_FP32 dims: [ 2 ] } ]
      output [ { name: "OUTPUT0" data_type: TYPE_FP32 dims: [ 2 ] } ]
      dynamic_batching { max_queue_delay_microseconds: 100 }
    )pb");
    std::filesystem::create_directories(dir_.path() / "repository/pair/1");
    auto loaded = in_process_model::load(dir_.path() / "repository", "pair", std::nullopt, SURGE_BACKEND_DIR);
    ASSERT_TRUE(std::holds_alternative<std::unique_ptr<in_process_model>>(loaded))
        << std::get<error>(loaded).message;
    model_ = std::move(std::get<std::unique_ptr<in_process_model>>(loaded));
    auto mapped = make_column_mapping(model_->config(), "id", {"INPUT0=a,b"}, {"second=OUTPUT0:1"});
    ASSERT_TRUE(std::holds_alternative<column_mapping>(mapped));
    mapping_ = std::get<column_mapping>(mapped);
  }

  void write_rows(int first, int last, bool append) {
    std::ofstream out(dir_.path() / "in.csv", append ? std::ios::app : std::ios::trunc);
    if (!append) out << "id,a,b\n";
    for (int i = first; i <= last; ++i) {
      if (i % 7 == 0) out << i << ",,1\n";  // a NULL: rejected
      else out << i << "," << i << "," << i * 10 << ".5\n";
    }
  }

  run_summary run(const std::string& run_id) {
    csv_source source((dir_.path() / "in.csv").string(), "id", mapping_.source_columns);
    const auto out = (dir_.path() / "out.csv").string();
    csv_sink sink(out, out + ".rejects.csv", "id", mapping_.outputs);
    run_settings settings;
    settings.run_id = run_id;
    settings.page_rows = 4;
    settings.pages_in_flight = 3;
    return run_scoring(source, sink, *model_, mapping_, settings);
  }

  testing::temp_dir dir_;
  std::unique_ptr<in_process_model> model_;
  column_mapping mapping_;
};

TEST_F(ScoreRunner, ScoresEveryRowInOrderAndRejectsTheBadOnes) {
  write_rows(1, 30, false);
  const auto summary = run("r");
  EXPECT_EQ(summary.rows_read, 30u);
  EXPECT_EQ(summary.rows_rejected, 4u);  // 7, 14, 21, 28
  EXPECT_EQ(summary.rows_scored, 26u);
  EXPECT_FALSE(summary.resumed);
  std::string expected = "id,second\n";
  for (int i = 1; i <= 30; ++i) {
    if (i % 7 != 0) expected += std::to_string(i) + "," + std::to_string(i * 10) + ".5\n";
  }
  EXPECT_EQ(read_all(dir_.path() / "out.csv"), expected);
  EXPECT_NE(read_all(dir_.path() / "out.csv.rejects.csv").find("14,column a is NULL,\"a=NULL, b=1\""),
            std::string::npos);
}

TEST_F(ScoreRunner, ARerunOfTheSameRunScoresOnlyRowsAddedSince) {
  write_rows(1, 10, false);
  run("weekly");
  write_rows(11, 13, true);
  const auto again = run("weekly");
  EXPECT_TRUE(again.resumed);
  EXPECT_EQ(again.resumed_after_key, std::optional<std::string>("10"));
  EXPECT_EQ(again.rows_read, 3u);
  EXPECT_EQ(again.totals.rows_read, 13u);
  const auto text = read_all(dir_.path() / "out.csv");
  EXPECT_NE(text.find("\n13,130.5\n"), std::string::npos);
  EXPECT_EQ(text.find("\n1,10.5\n"), text.rfind("\n1,10.5\n"));  // once
}

TEST_F(ScoreRunner, AnotherSourceUnderTheSameRunIdIsRefused) {
  write_rows(1, 5, false);
  run("r");
  std::filesystem::copy_file(dir_.path() / "in.csv", dir_.path() / "other.csv");
  csv_source other((dir_.path() / "other.csv").string(), "id", mapping_.source_columns);
  const auto out = (dir_.path() / "out.csv").string();
  csv_sink sink(out, out + ".rejects.csv", "id", mapping_.outputs);
  run_settings settings;
  settings.run_id = "r";
  EXPECT_THROW(run_scoring(other, sink, *model_, mapping_, settings), score_error);
}

}  // namespace
}  // namespace surge::score
