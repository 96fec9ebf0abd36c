#pragma once

// Protobuf TextFormat's parse errors, rewritten to point at the field at
// fault: protobuf reports many of them at the token after the culprit, in
// its own column convention, and names unknown fields by their message type.
#include <google/protobuf/io/tokenizer.h>

#include <string>
#include <string_view>
#include <vector>

namespace surge::config_parsing {

struct parse_problem {
  int line;    // 0-based, as protobuf reports it
  int column;  // 0-based, tabs advanced to the next multiple of 8
  std::string message;
};

class collecting_error_collector : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, google::protobuf::io::ColumnNumber column, const std::string& message) override {
    problems_.push_back({line, column, message});
  }

  const std::vector<parse_problem>& problems() const { return problems_; }

 private:
  std::vector<parse_problem> problems_;
};

// "<source_name>:<line>:<column>: <message>", 1-based line and byte column
// of the culprit; an unknown field reads `unsupported field "<name>" in
// <message type>`, a value error names its field.
std::string describe_parse_problem(std::string_view text, std::string_view source_name, const parse_problem& problem);

}  // namespace surge::config_parsing
