#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "score/csv_reader.hpp"
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

TEST(CsvReader, QuotesEmbeddedBreaksAndNulls) {
  testing::temp_dir dir;
  const auto path = dir.path() / "in.csv";
  testing::write_file(path, "a,b,c\r\n1,\"x, \"\"y\"\"\",\n2,\"\",\"two\nlines\"\n3,last,");
  csv_reader reader(path.string());
  std::vector<std::optional<std::string_view>> fields;
  ASSERT_TRUE(reader.next(fields));
  EXPECT_EQ(fields.size(), 3u);
  ASSERT_TRUE(reader.next(fields));
  EXPECT_EQ(fields[1], std::optional<std::string_view>("x, \"y\""));
  EXPECT_EQ(fields[2], std::nullopt);
  ASSERT_TRUE(reader.next(fields));
  EXPECT_EQ(fields[1], std::optional<std::string_view>(""));
  EXPECT_EQ(fields[2], std::optional<std::string_view>("two\nlines"));
  ASSERT_TRUE(reader.next(fields));
  EXPECT_EQ(fields[0], std::optional<std::string_view>("3"));
  EXPECT_EQ(fields[2], std::nullopt);
  EXPECT_FALSE(reader.next(fields));
  EXPECT_EQ(reader.records(), 4u);
}

TEST(CsvReader, ABrokenRecordNamesItsNumber) {
  testing::temp_dir dir;
  const auto path = dir.path() / "in.csv";
  testing::write_file(path, "a\n\"open\n");
  csv_reader reader(path.string());
  std::vector<std::optional<std::string_view>> fields;
  ASSERT_TRUE(reader.next(fields));
  try {
    reader.next(fields);
    FAIL() << "no error";
  } catch (const score_error& e) {
    EXPECT_NE(std::string(e.what()).find("record 2: a quoted field is not closed"), std::string::npos);
  }
}

TEST(CsvSource, PicksColumnsByHeaderAndResumesByCount) {
  testing::temp_dir dir;
  const auto path = dir.path() / "in.csv";
  testing::write_file(path, "x,id,y\n1,a,2\n3,b\n5,c,6\n");
  EXPECT_THROW(csv_source(path.string(), "id", {"z"}), score_error);
  csv_source source(path.string(), "id", {"y", "x"});
  auto page = source.next_page(2);
  ASSERT_EQ(page.rows(), 2u);
  EXPECT_EQ(page.key(0), std::optional<std::string_view>("a"));
  EXPECT_EQ(page.cell(0, 0), std::optional<std::string_view>("2"));
  EXPECT_EQ(page.cell(0, 1), std::optional<std::string_view>("1"));
  ASSERT_NE(page.unreadable(1), nullptr);  // two fields, the header three
  EXPECT_EQ(page.key(1), std::optional<std::string_view>("b"));

  csv_source again(path.string(), "id", {"y", "x"});
  again.resume({std::string("b"), 2});
  auto rest = again.next_page(10);
  ASSERT_EQ(rest.rows(), 1u);
  EXPECT_EQ(rest.key(0), std::optional<std::string_view>("c"));
  EXPECT_EQ(again.position().rows_read, 3u);
}

TEST(CsvSink, ARerunCutsBackWhatCameAfterTheLastCommit) {
  testing::temp_dir dir;
  const auto scores = (dir.path() / "scores.csv").string();
  const std::vector<output_binding> outputs{{"score", "y", data_type::fp32, 1, 0}};
  {
    csv_sink sink(scores, scores + ".rejects.csv", "id", outputs);
    EXPECT_EQ(sink.open("r1", "csv in.csv by id", false), std::nullopt);
    page_result page;
    page.keys = {"1", "2"};
    page.values = {"0.5", "a,b"};
    page.rejects = {{"3", "column x is NULL", "x=NULL"}};
    page.position = {std::string("3"), 3};
    sink.commit(page, {3, 2, 1});
  }
  // What a run killed between writing and committing leaves behind.
  std::ofstream(scores, std::ios::app) << "4,0.9\n";
  csv_sink sink(scores, scores + ".rejects.csv", "id", outputs);
  const auto entry = sink.open("r1", "csv in.csv by id", false);
  ASSERT_TRUE(entry.has_value());
  EXPECT_EQ(entry->position.rows_read, 3u);
  EXPECT_EQ(entry->position.last_key, std::optional<std::string>("3"));
  EXPECT_EQ(entry->totals.rows_scored, 2u);
  EXPECT_EQ(read_all(scores), "id,score\n1,0.5\n2,\"a,b\"\n");
  EXPECT_EQ(read_all(scores + ".rejects.csv"), "id,reason,row_values\n3,column x is NULL,x=NULL\n");

  // Another run id starts afresh.
  csv_sink fresh(scores, scores + ".rejects.csv", "id", outputs);
  EXPECT_EQ(fresh.open("r2", "csv in.csv by id", false), std::nullopt);
  EXPECT_EQ(read_all(scores), "id,score\n");
}

}  // namespace
}  // namespace surge::score
