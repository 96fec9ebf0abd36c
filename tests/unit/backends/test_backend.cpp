// A backend for unit tests of the ABI's server side, driven by request
// parameters so each request of one batch can behave differently. OUTPUT0 of
// every request is a copy of its INPUT0 unless a parameter says otherwise:
//
//   fail=<message>        answer this request with INVALID_ARGUMENT <message>
//   forget=true           answer nothing (the server must)
//   fail_batch=<message>  return <message> from execute when reaching this
//                         request, so it and the requests after it are
//                         unanswered
//   block=true            wait inside execute until the test releases the
//                         backend or the request is cancelled (a cancelled
//                         request is answered UNAVAILABLE "cancelled")
//   refuse=<how>          allocate OUTPUT0 wrongly: unknown, twice, type,
//                         dims or size; the server's refusal answers the request
//   responses=<n>         decoupled models: n responses, then an empty final
//                         one, sent from a thread of the instance once the
//                         test releases the backend (after execute returned)
//   abandon=true          decoupled models: never answer
//
// Model parameters: decoupled=true (declare SURGE_CAPABILITY_DECOUPLED),
// autocomplete_max_batch_size=<n> (what surge_model_autocomplete sets when
// the config has none). Autocomplete adds INPUT0 and OUTPUT0 (FP32 [-1])
// when the config declares no inputs or no outputs.
//
// The test reads counters and releases blocked work through the extra
// exports at the end (test_backend_*), resolved with dlsym.
#include <surge/backend_helpers.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace sdk = surge::backend_sdk;

namespace {

struct control {
  std::atomic<int> initialized{0};
  std::atomic<int> finalized{0};
  std::atomic<int> executes{0};
  std::atomic<int> requests{0};
  std::atomic<int> cancellations_seen{0};
  std::mutex mutex;
  std::condition_variable changed;
  int blocked{0};         // guarded by mutex
  bool released{false};   // guarded by mutex
};

control& state() {
  static control c;
  return c;
}

// Waits until the test releases the backend or `stop` says so; polls, since
// nothing notifies a backend of cancellation.
template <class Stop>
bool wait_released(Stop&& stop) {
  auto& c = state();
  std::unique_lock lock(c.mutex);
  while (!c.released) {
    if (stop()) return false;
    c.changed.wait_for(lock, std::chrono::milliseconds(1));
  }
  return true;
}

int backend_marker;  // what surge_backend_initialize leaves as the backend's state

}  // namespace

struct surge_model {
  bool decoupled{false};
  std::uint32_t autocomplete_max_batch_size{0};
};

struct surge_instance {
  surge_model* model;
  std::mutex mutex;
  std::vector<std::thread> senders;  // guarded by mutex; decoupled responses
};

namespace {

void copy_input(const sdk::request_view& request, sdk::response& response) {
  const auto input = request.input("INPUT0");
  response.output_copy("OUTPUT0", input.type(), input.shape(), input.bytes());
}

void refuse(const sdk::request_view& request, sdk::response& response, std::string_view how) {
  const auto input = request.input("INPUT0");
  const auto shape = input.shape();
  if (how == "unknown") {
    response.output("NO_SUCH_OUTPUT", SURGE_TYPE_FP32, shape, input.byte_size());
  } else if (how == "twice") {
    copy_input(request, response);
    copy_input(request, response);
  } else if (how == "type") {
    response.output("OUTPUT0", SURGE_TYPE_INT32, shape, input.byte_size());
  } else if (how == "dims") {
    std::vector<std::int64_t> wrong(shape.begin(), shape.end());
    wrong.push_back(1);
    wrong.push_back(1);
    response.output("OUTPUT0", SURGE_TYPE_FP32, wrong, input.byte_size());
  } else if (how == "size") {
    response.output("OUTPUT0", SURGE_TYPE_FP32, shape, input.byte_size() + 4);
  }
}

// The decoupled part: answers after execute returned, from another thread.
void send_later(surge_request* raw, int responses) {
  if (!wait_released([] { return false; })) return;
  const sdk::request_view request(raw);
  for (int i = 0; i < responses; ++i) {
    sdk::response response(raw);
    copy_input(request, response);
    response.send(0);
  }
  sdk::response(raw).send(SURGE_RESPONSE_FINAL);
}

}  // namespace

SURGE_BACKEND_DEFINE_COMMON_EXPORTS();

extern "C" SURGE_BACKEND_EXPORT surge_error* surge_backend_initialize(surge_backend* backend) {
  state().initialized.fetch_add(1);
  surge_backend_set_state(backend, &backend_marker);
  return nullptr;
}

extern "C" SURGE_BACKEND_EXPORT surge_error* surge_backend_finalize(surge_backend*) {
  state().finalized.fetch_add(1);
  return nullptr;
}

extern "C" SURGE_BACKEND_EXPORT surge_error* surge_model_autocomplete(surge_model_info* raw) {
  return sdk::guard([&] {
    const sdk::model_info info(raw);
    const std::int64_t variable[] = {-1};
    if (info.inputs().empty()) info.add_input("INPUT0", SURGE_TYPE_FP32, variable);
    if (info.outputs().empty()) info.add_output("OUTPUT0", SURGE_TYPE_FP32, variable);
    const sdk::parameter_map parameters(info);
    if (auto size = parameters.get_int("autocomplete_max_batch_size"); size && info.max_batch_size() == 0) {
      info.set_max_batch_size(static_cast<std::uint32_t>(*size));
    }
  });
}

extern "C" SURGE_BACKEND_EXPORT surge_error* surge_model_create(surge_model_info* raw, surge_model** out) {
  *out = nullptr;
  return sdk::guard([&] {
    const sdk::model_info info(raw);
    if (surge_backend_state(info.backend()) != &backend_marker) {
      sdk::fail(SURGE_ERROR_INTERNAL, "surge_backend_initialize did not run before the model");
    }
    auto model = std::make_unique<surge_model>();
    const sdk::parameter_map parameters(info);
    parameters.reject_unknown({"decoupled", "autocomplete_max_batch_size"});
    model->decoupled = parameters.get_bool("decoupled").value_or(false);
    if (model->decoupled) info.set_capabilities(SURGE_CAPABILITY_DECOUPLED);
    *out = model.release();
  });
}

extern "C" SURGE_BACKEND_EXPORT void surge_model_delete(surge_model* model) { delete model; }

extern "C" SURGE_BACKEND_EXPORT surge_error* surge_instance_create(surge_model* model, uint32_t,
                                                                   surge_instance** out) {
  *out = nullptr;
  return sdk::guard([&] {
    *out = new surge_instance;
    (*out)->model = model;
  });
}

extern "C" SURGE_BACKEND_EXPORT void surge_instance_delete(surge_instance* instance) {
  // Every decoupled request is answered before this returns, as backend.h asks.
  {
    std::lock_guard lock(state().mutex);
    state().released = true;
  }
  state().changed.notify_all();
  for (auto& sender : instance->senders) sender.join();
  delete instance;
}

extern "C" SURGE_BACKEND_EXPORT surge_error* surge_instance_execute(surge_instance* instance, surge_request** requests,
                                                                    uint32_t count) {
  return sdk::guard([&] {
    state().executes.fetch_add(1);
    for (auto* raw : sdk::requests_of(requests, count)) {
      state().requests.fetch_add(1);
      const sdk::request_view request(raw);
      if (auto message = request.parameter("fail_batch")) sdk::fail(SURGE_ERROR_INTERNAL, std::string(*message));
      if (request.parameter("forget")) continue;
      if (instance->model->decoupled) {
        if (request.parameter("abandon")) continue;
        const int responses = std::stoi(std::string(request.parameter("responses").value_or("1")));
        std::lock_guard lock(instance->mutex);
        instance->senders.emplace_back(send_later, raw, responses);
        continue;
      }
      sdk::answer(raw, [&](const sdk::request_view& view, sdk::response& response) {
        if (view.parameter("block")) {
          {
            std::lock_guard lock(state().mutex);
            ++state().blocked;
          }
          state().changed.notify_all();
          if (!wait_released([&] { return view.cancelled(); })) {
            state().cancellations_seen.fetch_add(1);
            sdk::fail(SURGE_ERROR_UNAVAILABLE, "cancelled");
          }
        }
        if (auto message = view.parameter("fail")) sdk::fail(SURGE_ERROR_INVALID_ARGUMENT, std::string(*message));
        if (auto how = view.parameter("refuse")) {
          refuse(view, response, *how);
          return;
        }
        copy_input(view, response);
      });
    }
  });
}

extern "C" SURGE_BACKEND_EXPORT surge_error* surge_model_statistics(surge_model*, surge_statistics* statistics) {
  return sdk::guard([&] {
    sdk::add_statistic(statistics, "executes", state().executes.load());
    sdk::add_statistic(statistics, "requests", state().requests.load());
  });
}

// ---- for the tests --------------------------------------------------------------

extern "C" SURGE_BACKEND_EXPORT int test_backend_counter(const char* name) {
  auto& c = state();
  const std::string_view n = name;
  if (n == "initialized") return c.initialized.load();
  if (n == "finalized") return c.finalized.load();
  if (n == "executes") return c.executes.load();
  if (n == "requests") return c.requests.load();
  if (n == "cancellations_seen") return c.cancellations_seen.load();
  return -1;
}

// Waits until `count` requests are blocked in execute; false after timeout_ms.
extern "C" SURGE_BACKEND_EXPORT bool test_backend_wait_blocked(int count, int timeout_ms) {
  auto& c = state();
  std::unique_lock lock(c.mutex);
  return c.changed.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return c.blocked >= count; });
}

extern "C" SURGE_BACKEND_EXPORT void test_backend_release() {
  {
    std::lock_guard lock(state().mutex);
    state().released = true;
  }
  state().changed.notify_all();
}

// Back to the start for the next test (counters of load and unload stay).
extern "C" SURGE_BACKEND_EXPORT void test_backend_reset() {
  auto& c = state();
  std::lock_guard lock(c.mutex);
  c.blocked = 0;
  c.released = false;
  c.executes = 0;
  c.requests = 0;
  c.cancellations_seen = 0;
}
