#include "score/score_runner.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>

#include "score/output_values.hpp"
#include "score/page_encoder.hpp"
#include "score/progress_line.hpp"
#include "score/score_error.hpp"

namespace surge::score {

namespace {

// A page whose requests are in flight. Answers arrive on scheduler threads.
struct pending_page {
  explicit pending_page(row_page read) : page(std::move(read)) {}

  row_page page;
  encoded_page encoded;
  source_position position;
  std::vector<std::optional<in_process_model::answer>> answers;
  std::mutex mutex;
  std::condition_variable answered;
  std::size_t outstanding{0};
};

void submit(in_process_model& model, const std::shared_ptr<pending_page>& pending, std::size_t index) {
  model.infer(pending->encoded.requests[index].inputs, [pending, index](in_process_model::answer answer) {
    std::lock_guard lock(pending->mutex);
    pending->answers[index] = std::move(answer);
    if (--pending->outstanding == 0) pending->answered.notify_one();
  });
}

void wait_answered(pending_page& pending) {
  std::unique_lock lock(pending.mutex);
  pending.answered.wait(lock, [&] { return pending.outstanding == 0; });
}

// Waits for every answer of the page, sending refused ones (a full queue)
// again, and turns them into the page's result.
page_result settle(in_process_model& model, const std::shared_ptr<pending_page>& pending,
                   const column_mapping& mapping) {
  auto& p = *pending;
  auto retry_delay = std::chrono::milliseconds(1);
  while (true) {
    wait_answered(p);
    std::vector<std::size_t> refused;
    for (std::size_t i = 0; i < p.answers.size(); ++i) {
      const auto* failure = std::get_if<error>(&*p.answers[i]);
      if (failure && failure->code == error_code::unavailable) refused.push_back(i);
    }
    if (refused.empty()) break;
    std::this_thread::sleep_for(retry_delay);
    retry_delay = std::min(retry_delay * 2, std::chrono::milliseconds(100));
    {
      std::lock_guard lock(p.mutex);
      p.outstanding = refused.size();
    }
    for (const auto i : refused) submit(model, pending, i);
  }
  page_result result;
  result.position = p.position;
  result.rejects = std::move(p.encoded.rejects);
  result.keys.reserve(p.page.rows());
  result.values.reserve(p.page.rows() * mapping.outputs.size());
  for (std::size_t i = 0; i < p.answers.size(); ++i) {
    const auto& request = p.encoded.requests[i];
    std::optional<std::string> failure;
    if (const auto* response = std::get_if<inference_response>(&*p.answers[i])) {
      failure = append_scores(*response, p.page, mapping, request, result);
      if (failure) failure = "the model's answer cannot be written: " + *failure;
    } else {
      failure = "the model failed the batch: " + std::get<error>(*p.answers[i]).message;
    }
    if (failure) {
      for (const auto row : request.rows) {
        result.rejects.push_back({std::string(*p.page.key(row)), *failure, describe_row(p.page, mapping, row)});
      }
    }
  }
  return result;
}

}  // namespace

run_summary run_scoring(row_source& source, score_sink& sink, in_process_model& model, const column_mapping& mapping,
                        const run_settings& settings) {
  const auto started = std::chrono::steady_clock::now();
  run_summary summary;
  summary.run_id = settings.run_id;
  const auto description = source.describe();
  if (auto entry = sink.open(settings.run_id, description, source.key_is_integer())) {
    if (entry->source != description) {
      throw score_error("run id " + settings.run_id + " read " + entry->source + "; this run reads " + description +
                        " (give another --run-id)");
    }
    source.resume(entry->position);
    summary.resumed = true;
    summary.resumed_after_key = entry->position.last_key;
    summary.totals = entry->totals;
  }
  progress_line progress(settings.progress);
  std::deque<std::shared_ptr<pending_page>> in_flight;
  const auto commit_front = [&] {
    auto result = settle(model, in_flight.front(), mapping);
    in_flight.pop_front();
    const auto rows = result.keys.size() + result.rejects.size();
    summary.rows_scored += result.keys.size();
    summary.rows_rejected += result.rejects.size();
    summary.totals.rows_scored += result.keys.size();
    summary.totals.rows_rejected += result.rejects.size();
    summary.totals.rows_read += rows;
    sink.commit(result, summary.totals);
    progress.update(summary.rows_scored + summary.rows_rejected, source.done_fraction());
  };
  while (true) {
    auto page = source.next_page(settings.page_rows);
    if (page.rows() == 0) break;
    summary.rows_read += page.rows();
    auto pending = std::make_shared<pending_page>(std::move(page));
    pending->encoded = encode_page(pending->page, mapping);
    pending->position = source.position();
    pending->answers.resize(pending->encoded.requests.size());
    pending->outstanding = pending->encoded.requests.size();
    for (std::size_t i = 0; i < pending->encoded.requests.size(); ++i) submit(model, pending, i);
    in_flight.push_back(std::move(pending));
    while (in_flight.size() >= std::max<std::size_t>(1, settings.pages_in_flight)) commit_front();
  }
  while (!in_flight.empty()) commit_front();
  summary.rows_without_key = source.rows_without_key();
  sink.finish(source.position(), summary.totals);
  progress.finish(summary.rows_scored + summary.rows_rejected);
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return summary;
}

std::string summary_json(const run_summary& summary) {
  rapidjson::StringBuffer text;
  rapidjson::Writer<rapidjson::StringBuffer> json(text);
  json.StartObject();
  json.Key("run_id");
  json.String(summary.run_id.c_str(), static_cast<rapidjson::SizeType>(summary.run_id.size()));
  json.Key("rows_read");
  json.Uint64(summary.rows_read);
  json.Key("rows_scored");
  json.Uint64(summary.rows_scored);
  json.Key("rows_rejected");
  json.Uint64(summary.rows_rejected);
  json.Key("rows_without_key");
  json.Uint64(summary.rows_without_key);
  json.Key("resumed");
  json.Bool(summary.resumed);
  json.Key("resumed_after_key");
  if (summary.resumed_after_key) {
    json.String(summary.resumed_after_key->c_str(), static_cast<rapidjson::SizeType>(summary.resumed_after_key->size()));
  } else {
    json.Null();
  }
  json.Key("seconds");
  json.Double(summary.seconds);
  json.Key("rows_per_second");
  json.Double(summary.seconds > 0 ? static_cast<double>(summary.rows_read) / summary.seconds : 0.0);
  json.Key("peak_rss_bytes");
  json.Uint64(peak_rss_bytes());
  json.Key("run_totals");
  json.StartObject();
  json.Key("rows_read");
  json.Uint64(summary.totals.rows_read);
  json.Key("rows_scored");
  json.Uint64(summary.totals.rows_scored);
  json.Key("rows_rejected");
  json.Uint64(summary.totals.rows_rejected);
  json.EndObject();
  json.EndObject();
  return std::string(text.GetString(), text.GetSize());
}

}  // namespace surge::score
