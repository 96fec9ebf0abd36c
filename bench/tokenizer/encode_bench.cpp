// What one execute of the tokenizer backend costs: a batch of `requests`
// requests of `rows` KJV verses each (Debian's bible-kjv, the `bible`
// command), run through the server's backend loader as an instance thread
// runs it. Not a test: it prints figures, which say whether the backend
// could run on an I/O thread (SHORT_EXECUTE) -- it cannot.
//
//   build/release/bench/tokenizer/surge_bench_tokenizer [tokenizer.json] [requests per batch] [rows per request]
//       [batches]
#include "backend_loader/backend_instance.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <string>
#include <vector>

#include "support/backend_test_support.hpp"

namespace {

// Every verse of the KJV, without its "Ge1:1 " reference.
std::vector<std::string> verses() {
  std::vector<std::string> out;
  FILE* pipe = popen("bible -f Gen1:1-Rev22:21", "r");
  if (pipe == nullptr) return out;
  char line[8192];
  while (std::fgets(line, sizeof line, pipe) != nullptr) {
    std::string text(line);
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    const auto space = text.find(' ');
    if (space != std::string::npos && text.find(':') < space) out.push_back(text.substr(space + 1));
  }
  pclose(pipe);
  return out;
}

surge::tensor text_tensor(const std::vector<std::string>& rows) {
  std::size_t size = 0;
  for (const auto& r : rows) size += 4 + r.size();
  auto t = surge::make_owned_tensor("TEXT", surge::data_type::bytes, {static_cast<std::int64_t>(rows.size()), 1}, size);
  auto* cursor = surge::mutable_data(t);
  for (const auto& r : rows) {
    const auto length = static_cast<std::uint32_t>(r.size());
    std::memcpy(cursor, &length, 4);
    std::memcpy(cursor + 4, r.data(), r.size());
    cursor += 4 + r.size();
  }
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  const std::filesystem::path file = std::filesystem::absolute(
      argc > 1 ? argv[1] : std::filesystem::path(SURGE_SOURCE_DIR) / ".deps" / "minilm" / "tokenizer.json");
  const int requests = argc > 2 ? std::atoi(argv[2]) : 8;
  const int rows = argc > 3 ? std::atoi(argv[3]) : 4;
  const int batches = argc > 4 ? std::atoi(argv[4]) : 200;
  const int rounds = 9;
  const auto kjv = verses();
  if (kjv.size() < 1000) {
    std::fprintf(stderr, "the 'bible' command printed %zu verses: install bible-kjv (scripts/install-deps)\n",
                 kjv.size());
    return 1;
  }

  auto loaded = surge::backend_library::load(SURGE_BACKEND_DIR, "tokenizer");
  if (auto* e = std::get_if<surge::error>(&loaded)) {
    std::fprintf(stderr, "%s\n", e->message.c_str());
    return 1;
  }
  surge::backend_model_spec spec;
  spec.model_name = "minilm_tokenizer";
  spec.version = 1;
  spec.version_directory = file.parent_path();
  spec.max_batch_size = static_cast<std::uint32_t>(std::max(requests * rows, 1));
  spec.inputs = {{"TEXT", surge::data_type::bytes, {1}}};
  spec.outputs = {{"input_ids", surge::data_type::int64, {-1}},
                  {"attention_mask", surge::data_type::int64, {-1}},
                  {"token_type_ids", surge::data_type::int64, {-1}}};
  spec.parameters = {{"tokenizer_file", file.string()}, {"max_length", "128"}};
  auto model = surge::backend_model::create(std::get<std::shared_ptr<surge::backend_library>>(loaded), spec);
  if (auto* e = std::get_if<surge::error>(&model)) {
    std::fprintf(stderr, "%s\n", e->message.c_str());
    return 1;
  }
  auto instance =
      surge::backend_instance_handle::create(std::get<std::shared_ptr<surge::backend_model>>(std::move(model)), 0);
  if (auto* e = std::get_if<surge::error>(&instance)) {
    std::fprintf(stderr, "%s\n", e->message.c_str());
    return 1;
  }
  auto& handle = std::get<surge::backend_instance_handle>(instance);

  // Consecutive verses, a different stretch for each batch of a round.
  const int texts_per_batch = requests * rows;
  std::vector<std::vector<surge::request_ptr>> prepared(static_cast<std::size_t>(batches));
  std::size_t next = 0;
  for (auto& batch : prepared) {
    for (int r = 0; r < requests; ++r) {
      std::vector<std::string> texts;
      for (int i = 0; i < rows; ++i) texts.push_back(kjv[next++ % kjv.size()]);
      batch.push_back(surge::testing::request_of("r" + std::to_string(r), {text_tensor(texts)}).request);
    }
  }
  const auto run = [&](std::vector<surge::request_ptr>& batch) {
    surge::batch_outcome outcome;
    handle.execute(batch, outcome);
    if (outcome.failed || outcome.answers.size() != batch.size()) std::abort();
  };

  for (auto& batch : prepared) run(batch);  // warm
  std::vector<double> wall_us, cpu_us;
  for (int round = 0; round < rounds; ++round) {
    const auto start = std::chrono::steady_clock::now();
    const std::clock_t cpu_start = std::clock();
    for (auto& batch : prepared) run(batch);
    const std::chrono::duration<double, std::micro> spent = std::chrono::steady_clock::now() - start;
    wall_us.push_back(spent.count() / batches);
    cpu_us.push_back(static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC * 1e6 / batches);
  }
  std::sort(wall_us.begin(), wall_us.end());
  std::sort(cpu_us.begin(), cpu_us.end());
  const double wall = wall_us[rounds / 2];
  const double cpu = cpu_us[rounds / 2];
  std::printf("%s, %d requests of %d verses per batch, %d batches x %d rounds, max_length 128\n", file.c_str(),
              requests, rows, batches, rounds);
  std::printf("execute: %9.1f us per batch wall, %9.1f us CPU (medians of rounds)\n", wall, cpu);
  std::printf("         %9.1f us per verse wall, %9.1f us CPU\n", wall / texts_per_batch, cpu / texts_per_batch);
  return 0;
}
