// The run-time registry: load in dependency order, unload that drains,
// replacement that keeps the model available, and lookups and submissions
// from many threads while models come and go.
#include "router/model_registry.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/post.hpp>
#include <cstring>
#include <future>

#include "support/registry_fixture.hpp"

namespace surge {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using testing::depends_on;
using testing::eventually;
using testing::registry_fixture;
using testing::wait_limit;

std::string failures_text(const std::vector<model_load_failure>& failures) {
  std::string out;
  for (const auto& f : failures) out += f.model + ": " + f.error + "\n";
  return out;
}

const registered_model* served(const model_registry& registry, const std::string& name,
                               std::shared_ptr<const registry_snapshot>& holder) {
  holder = registry.snapshot();
  return holder->find(name);
}

TEST(model_registry, loads_an_identity_model_serves_it_and_unload_removes_it_and_its_series) {
  registry_fixture f;
  EXPECT_THAT(f.registry.load({f.entry("alpha", "identity")}), IsEmpty());
  auto version = f.registry.find_version("alpha", std::nullopt);
  ASSERT_TRUE(version);
  EXPECT_TRUE(version->ready());

  auto made = f.request("alpha");
  const auto first = *reinterpret_cast<const float*>(made.request->inputs[0].data.data());
  version->submit(std::move(made.request));
  ASSERT_TRUE(made.sink->wait_finished());
  ASSERT_FALSE(made.sink->failure) << made.sink->failure->message;
  ASSERT_EQ(made.sink->responses.size(), 1u);
  EXPECT_EQ(*reinterpret_cast<const float*>(made.sink->responses[0].outputs.at(0).data.data()), first);
  EXPECT_THAT(f.metrics.render(),
              HasSubstr("surge_requests_total{model=\"alpha\",version=\"1\",outcome=\"success\"} 1"));

  EXPECT_FALSE(f.registry.unload("alpha"));
  EXPECT_FALSE(f.registry.find_version("alpha", std::nullopt));
  std::shared_ptr<const registry_snapshot> holder;
  EXPECT_FALSE(served(f.registry, "alpha", holder));
  EXPECT_FALSE(version->ready());
  EXPECT_THAT(f.metrics.render(), Not(HasSubstr("model=\"alpha\"")));

  // The version a caller still holds answers, and says why.
  auto late = f.request("alpha");
  version->submit(std::move(late.request));
  ASSERT_TRUE(late.sink->wait_finished());
  EXPECT_EQ(late.sink->failure->code, error_code::not_ready);
}

TEST(model_registry, models_load_after_their_dependencies) {
  registry_fixture f;
  const auto failures = f.registry.load({f.entry("a_top", "test_kind", depends_on("m_mid")),
                                         f.entry("m_mid", "test_kind", depends_on("z_base")),
                                         f.entry("z_base", "test_kind")});
  EXPECT_THAT(failures, IsEmpty()) << failures_text(failures);
  EXPECT_THAT(f.log->get(), ElementsAre("z_base", "m_mid", "a_top"));
  for (const auto* name : {"a_top", "m_mid", "z_base"}) EXPECT_TRUE(f.registry.find_version(name, std::nullopt));

  // A dependency served already counts too.
  EXPECT_THAT(f.registry.load({f.entry("later", "test_kind", depends_on("z_base"))}), IsEmpty());
}

TEST(model_registry, a_missing_or_failed_dependency_fails_the_model_naming_it) {
  registry_fixture f;
  const auto failures = f.registry.load({f.entry("lonely", "test_kind", depends_on("ghost")),
                                         f.entry("broken", "no_such_backend"),
                                         f.entry("needs_broken", "test_kind", depends_on("broken"))});
  ASSERT_EQ(failures.size(), 3u) << failures_text(failures);
  std::shared_ptr<const registry_snapshot> holder;
  const auto* lonely = served(f.registry, "lonely", holder);
  ASSERT_TRUE(lonely);
  EXPECT_EQ(lonely->error, "depends on model 'ghost', which is not loaded");
  EXPECT_TRUE(lonely->versions.empty());
  const auto* broken = holder->find("broken");
  ASSERT_TRUE(broken);
  EXPECT_THAT(broken->error, HasSubstr("version 1: backend: "));
  const auto* needs = holder->find("needs_broken");
  ASSERT_TRUE(needs);
  EXPECT_THAT(needs->error, HasSubstr("depends on model 'broken', which failed to load: version 1: backend: "));
  EXPECT_THAT(f.log->get(), IsEmpty());
}

TEST(model_registry, a_dependency_cycle_fails_every_model_on_it_naming_the_cycle) {
  registry_fixture f;
  const auto failures =
      f.registry.load({f.entry("p", "test_kind", depends_on("q")), f.entry("q", "test_kind", depends_on("p")),
                       f.entry("r", "test_kind", depends_on("p")), f.entry("fine", "test_kind")});
  EXPECT_EQ(failures.size(), 3u) << failures_text(failures);
  std::shared_ptr<const registry_snapshot> holder;
  EXPECT_EQ(served(f.registry, "p", holder)->error, "dependency cycle: p -> q -> p");
  EXPECT_EQ(holder->find("q")->error, "dependency cycle: p -> q -> p");
  EXPECT_EQ(holder->find("r")->error, "depends on model 'p', which failed to load: dependency cycle: p -> q -> p");
  EXPECT_TRUE(holder->find("fine")->servable());
  EXPECT_THAT(f.log->get(), ElementsAre("fine"));
}

TEST(model_registry, a_model_no_loader_handles_fails_with_a_reason) {
  metrics::registry metrics;
  boost::asio::io_context io;
  model_registry registry(io.get_executor(), metrics);
  testing::temp_dir repository;
  const auto failures = registry.load({testing::make_entry(repository.path(), "orphan", "identity")});
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_THAT(failures[0].error, HasSubstr("no loader"));
}

TEST(model_registry, unload_drains_queued_and_running_requests_refuses_new_ones_then_removes_the_series) {
  registry_fixture f;
  ASSERT_THAT(f.registry.load({f.entry("held", "test_kind", "", {1}, 1)}), IsEmpty());
  auto version = f.registry.find_version("held", std::nullopt);
  ASSERT_TRUE(version);

  f.gate->close();
  std::vector<testing::made_request> admitted;
  for (int i = 0; i < 3; ++i) {
    admitted.push_back(f.request("held", "r" + std::to_string(i)));
    version->submit(std::move(admitted.back().request));
  }
  ASSERT_TRUE(f.gate->wait_for_waiting(1));  // one batch runs, two requests wait behind it
  ASSERT_TRUE(eventually([&] { return version->metrics().queue_depth.value() == 2; }));

  auto unloaded = f.registry.unload_async("held", std::nullopt);
  ASSERT_TRUE(eventually([&] { return !f.registry.find_version("held", std::nullopt); }));
  std::shared_ptr<const registry_snapshot> holder;
  EXPECT_FALSE(served(f.registry, "held", holder));  // new lookups: not found at once

  auto refused = f.request("held", "late");
  version->submit(std::move(refused.request));
  ASSERT_TRUE(refused.sink->wait_finished());
  EXPECT_EQ(refused.sink->failure->code, error_code::not_ready);
  // Three requests are still held by the gate, so the unload cannot have finished.
  EXPECT_EQ(unloaded.wait_for(0s), std::future_status::timeout);
  EXPECT_THAT(f.metrics.render(), HasSubstr("model=\"held\""));

  f.gate->open();
  ASSERT_EQ(unloaded.wait_for(wait_limit), std::future_status::ready);
  EXPECT_FALSE(unloaded.get());
  for (auto& made : admitted) {
    EXPECT_EQ(made.sink->finish_count, 1);
    EXPECT_FALSE(made.sink->failure) << made.sink->failure->message;
  }
  EXPECT_THAT(f.metrics.render(), Not(HasSubstr("model=\"held\"")));
}

TEST(model_registry, what_is_still_queued_at_the_drain_timeout_is_answered_not_ready) {
  model_registry::options settings;
  settings.drain_timeout = 30ms;
  registry_fixture f(settings);
  ASSERT_THAT(f.registry.load({f.entry("slow", "test_kind", "", {1}, 1)}), IsEmpty());
  auto version = f.registry.find_version("slow", std::nullopt);
  f.gate->close();
  auto running = f.request("slow", "running");
  version->submit(std::move(running.request));
  ASSERT_TRUE(f.gate->wait_for_waiting(1));
  auto queued = f.request("slow", "queued");
  version->submit(std::move(queued.request));
  ASSERT_TRUE(eventually([&] { return version->metrics().queue_depth.value() == 1; }));

  std::thread unloader([&] { EXPECT_FALSE(f.registry.unload("slow")); });
  ASSERT_TRUE(queued.sink->wait_finished());
  EXPECT_EQ(queued.sink->failure->code, error_code::not_ready);
  EXPECT_EQ(running.sink->finish_count, 0);  // running batches are never cut short
  f.gate->open();
  unloader.join();
  EXPECT_EQ(running.sink->finish_count, 1);
  EXPECT_FALSE(running.sink->failure);
}

TEST(model_registry, reloading_publishes_the_new_version_before_the_old_one_drains) {
  registry_fixture f;
  ASSERT_THAT(f.registry.load({f.entry("swap", "identity")}), IsEmpty());
  auto old_version = f.registry.find_version("swap", std::nullopt);
  ASSERT_THAT(f.registry.load({f.entry("swap", "identity")}), IsEmpty());
  auto new_version = f.registry.find_version("swap", std::nullopt);
  ASSERT_TRUE(new_version);
  EXPECT_NE(old_version, new_version);
  EXPECT_TRUE(new_version->ready());
  f.registry.wait_retired();
  EXPECT_FALSE(old_version->ready());

  auto made = f.request("swap");
  new_version->submit(std::move(made.request));
  ASSERT_TRUE(made.sink->wait_finished());
  EXPECT_FALSE(made.sink->failure);
  // Both versions are version 1: the series are shared, and the old one's
  // removal leaves the new one's in place.
  EXPECT_THAT(f.metrics.render(),
              HasSubstr("surge_requests_total{model=\"swap\",version=\"1\",outcome=\"success\"} 1"));
}

TEST(model_registry, a_failed_reload_keeps_serving_what_was_served) {
  registry_fixture f;
  ASSERT_THAT(f.registry.load({f.entry("keep", "identity")}), IsEmpty());
  auto served_version = f.registry.find_version("keep", std::nullopt);
  const auto failures = f.registry.load({f.entry("keep", "no_such_backend")});
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_THAT(failures[0].error, HasSubstr("backend: "));
  EXPECT_EQ(f.registry.find_version("keep", std::nullopt), served_version);
  EXPECT_TRUE(served_version->ready());
}

TEST(model_registry, unload_of_one_version_keeps_the_others_and_unknown_names_are_not_found) {
  registry_fixture f;
  ASSERT_THAT(f.registry.load({f.entry("multi", "identity", "", {1, 2})}), IsEmpty());
  EXPECT_EQ(f.registry.find_version("multi", std::nullopt)->version(), 2);
  EXPECT_FALSE(f.registry.unload("multi", 2));
  EXPECT_EQ(f.registry.find_version("multi", std::nullopt)->version(), 1);
  EXPECT_FALSE(f.registry.find_version("multi", 2));

  auto unknown = f.registry.unload("nobody");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->code, error_code::not_found);
  auto no_version = f.registry.unload("multi", 7);
  ASSERT_TRUE(no_version);
  EXPECT_EQ(no_version->code, error_code::not_found);

  EXPECT_FALSE(f.registry.unload("multi", 1));  // the last version: the model goes
  std::shared_ptr<const registry_snapshot> holder;
  EXPECT_FALSE(served(f.registry, "multi", holder));
}

TEST(model_registry, load_and_unload_may_be_asked_for_from_an_io_thread) {
  registry_fixture f(model_registry::options{}, 1);
  std::promise<std::vector<model_load_failure>> loaded;
  boost::asio::post(f.io, [&] {
    f.registry.load_async({f.entry("async", "identity")},
                          [&](std::vector<model_load_failure> failures) { loaded.set_value(std::move(failures)); });
  });
  auto loaded_future = loaded.get_future();
  ASSERT_EQ(loaded_future.wait_for(wait_limit), std::future_status::ready);
  EXPECT_THAT(loaded_future.get(), IsEmpty());
  ASSERT_TRUE(f.registry.find_version("async", std::nullopt));

  std::promise<std::optional<error>> unloaded;
  boost::asio::post(f.io, [&] {
    f.registry.unload_async("async", std::nullopt, [&](std::optional<error> e) { unloaded.set_value(e); });
  });
  auto unloaded_future = unloaded.get_future();
  ASSERT_EQ(unloaded_future.wait_for(wait_limit), std::future_status::ready);
  EXPECT_FALSE(unloaded_future.get());
  EXPECT_FALSE(f.registry.find_version("async", std::nullopt));
}

TEST(model_registry, unloading_a_generative_model_lets_its_running_sequence_finish) {
  registry_fixture f;
  model_entry entry;
  {
    const std::string text = R"pb(name: "echo"
backend: "echo_lm"
max_batch_size: 0
input [ { name: "text_input" data_type: TYPE_STRING dims: [ 1 ] } ]
output [ { name: "text_output" data_type: TYPE_STRING dims: [ 1 ] } ]
model_transaction_policy { decoupled: true }
generation { max_running_sequences: 2 }
parameters { key: "step_delay_us" value { string_value: "1000" } }
)pb";
    auto parsed = parse_model_config(text, "echo/config.pbtxt");
    ASSERT_TRUE(parsed.config) << parsed.error;
    auto completed = complete_model_config(std::move(*parsed.config), "echo", "echo/config.pbtxt");
    ASSERT_TRUE(completed.config) << completed.error;
    entry.name = "echo";
    entry.directory = f.repository.path() / "echo";
    entry.config = std::move(completed.config);
    entry.versions = {1};
  }
  ASSERT_THAT(f.registry.load({entry}), IsEmpty());
  auto version = f.registry.find_version("echo", std::nullopt);
  ASSERT_TRUE(version && version->generative());

  auto sink = std::make_shared<testing::recording_sink>();
  auto request = std::make_unique<inference_request>();
  request->model = "echo";
  request->generation = generation_options{};
  request->generation->prompt = "abc";
  request->generation->sampling.temperature = 0.0f;
  request->generation->sampling.max_tokens = 40;
  request->sink = sink;
  version->submit(std::move(request));
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(sink->mutex_);
    return !sink->responses.empty();
  }));

  EXPECT_FALSE(f.registry.unload("echo"));
  ASSERT_EQ(sink->finish_count, 1);
  EXPECT_FALSE(sink->failure) << sink->failure->message;
  std::string text;
  for (const auto& response : sink->responses) text += response.generation->text;
  EXPECT_EQ(text.size(), 40u);
  EXPECT_THAT(f.metrics.render(), Not(HasSubstr("model=\"echo\"")));
}

// Lookups and submissions from 8 threads while the model is replaced and
// unloaded and loaded again: every submitted request gets exactly one final
// answer (success, or not_ready from a version leaving service), none is
// lost. Each client keeps one request in flight (it waits for the answer
// before the next), and the model changes only after requests succeeded
// since the last change, so the changes land among requests in flight.
TEST(model_registry, concurrent_lookups_and_submissions_while_models_come_and_go) {
  model_registry::options settings;
  settings.drain_timeout = 5ms;  // some drains finish in time, some answer their queue not_ready
  registry_fixture f(settings, 2);
  ASSERT_THAT(f.registry.load({f.entry("busy", "identity")}), IsEmpty());

  constexpr int clients = 8;
  std::atomic<bool> stop{false};
  std::atomic<int> not_found{0};
  std::atomic<int> succeeded{0};
  std::vector<std::vector<std::shared_ptr<testing::recording_sink>>> sinks(clients);
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      for (int i = 0; !stop.load(); ++i) {
        auto version = f.registry.find_version("busy", std::nullopt);
        if (!version) {
          not_found.fetch_add(1);
          std::this_thread::yield();
          continue;
        }
        auto made = f.request("busy", std::to_string(c) + "-" + std::to_string(i));
        sinks[c].push_back(made.sink);
        version->submit(std::move(made.request));
        version.reset();
        if (!made.sink->wait_finished(wait_limit)) return;  // lost: reported below
        std::lock_guard lock(made.sink->mutex_);
        if (!made.sink->failure) succeeded.fetch_add(1);
      }
    });
  }
  for (int round = 0; round < 12; ++round) {
    const int before = succeeded.load();
    ASSERT_TRUE(eventually([&] { return succeeded.load() >= before + 20; })) << "round " << round;
    if (round % 3 == 2) {
      EXPECT_FALSE(f.registry.unload("busy"));
      EXPECT_THAT(f.registry.load({f.entry("busy", "identity")}), IsEmpty());
    } else {
      EXPECT_THAT(f.registry.load({f.entry("busy", "identity")}), IsEmpty());  // replace
    }
  }
  stop.store(true);
  for (auto& thread : threads) thread.join();
  f.registry.wait_retired();

  std::size_t submitted = 0, ok = 0, refused = 0;
  for (auto& per_client : sinks) {
    for (auto& sink : per_client) {
      ++submitted;
      ASSERT_TRUE(sink->wait_finished()) << "a request was never answered";
      std::lock_guard lock(sink->mutex_);
      ASSERT_EQ(sink->finish_count, 1);
      if (!sink->failure) ++ok;
      else if (sink->failure->code == error_code::not_ready) ++refused;
      else ADD_FAILURE() << "unexpected answer: " << sink->failure->message;
    }
  }
  EXPECT_EQ(submitted, ok + refused);
  EXPECT_EQ(ok, static_cast<std::size_t>(succeeded.load()));
  std::printf("submitted %zu: %zu succeeded, %zu not_ready; %d lookups found no model\n", submitted, ok, refused,
              not_found.load());
}

}  // namespace
}  // namespace surge

namespace surge {
namespace {

TEST(model_registry, a_traffic_split_shares_versionless_lookups_and_stays_through_reloads) {
  registry_fixture f;
  ASSERT_THAT(f.registry.load({f.entry("canary", "identity", "", {1, 2})}), IsEmpty());
  EXPECT_EQ(f.registry.find_version("canary", std::nullopt)->version(), 2);  // no split: the highest

  EXPECT_FALSE(f.registry.set_traffic("canary", std::make_shared<traffic_split>(traffic_split::weights{{1, 75}, {2, 25}})));
  std::map<std::int64_t, int> counts;
  for (int i = 0; i < 400; ++i) ++counts[f.registry.find_version("canary", std::nullopt)->version()];
  EXPECT_NEAR(counts[2], 100, 3);
  EXPECT_EQ(f.registry.find_version("canary", 2)->version(), 2);  // a named version is that version

  // A reload keeps the split.
  ASSERT_THAT(f.registry.load({f.entry("canary", "identity", "", {1, 2})}), IsEmpty());
  counts.clear();
  for (int i = 0; i < 400; ++i) ++counts[f.registry.find_version("canary", std::nullopt)->version()];
  EXPECT_NEAR(counts[1], 300, 3);

  // Unloading a version with weight leaves its share to the others.
  EXPECT_FALSE(f.registry.unload("canary", 1));
  for (int i = 0; i < 50; ++i) EXPECT_EQ(f.registry.find_version("canary", std::nullopt)->version(), 2);

  // Back to the highest.
  EXPECT_FALSE(f.registry.set_traffic("canary", nullptr));
  EXPECT_EQ(f.registry.find_version("canary", std::nullopt)->version(), 2);
}

TEST(model_registry, a_traffic_split_names_what_is_wrong) {
  registry_fixture f;
  ASSERT_THAT(f.registry.load({f.entry("canary", "identity", "", {1})}), IsEmpty());
  auto missing = f.registry.set_traffic("canary", std::make_shared<traffic_split>(traffic_split::weights{{1, 9}, {3, 1}}));
  ASSERT_TRUE(missing);
  EXPECT_THAT(missing->message, HasSubstr("model 'canary' has no version 3 loaded"));
  auto zero = f.registry.set_traffic("canary", std::make_shared<traffic_split>(traffic_split::weights{{1, 0}}));
  ASSERT_TRUE(zero);
  EXPECT_THAT(zero->message, HasSubstr("must not all be 0"));
  auto unknown = f.registry.set_traffic("nope", nullptr);
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->code, error_code::not_found);
}

}  // namespace
}  // namespace surge
