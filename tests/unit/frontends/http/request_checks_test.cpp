#include "frontends/http/request_checks.hpp"

#include <gtest/gtest.h>

#include "frontends/accept_backoff.hpp"
#include "frontends/http/descriptor_budget.hpp"

namespace surge::http {
namespace {

namespace http = beast::http;

request_header header(http::verb method, unsigned version = 11, bool host = true) {
  request_header h;
  h.method(method);
  h.target("/v2/health/live");
  h.version(version);
  if (host) h.set(http::field::host, "surge");
  return h;
}

TEST(request_checks, a_plain_request_goes_on) {
  EXPECT_FALSE(refuse_by_header(header(http::verb::get)));
  EXPECT_FALSE(refuse_by_header(header(http::verb::delete_)));  // known to HTTP: the route answers 405
  EXPECT_FALSE(refuse_by_header(header(http::verb::get, 10, false)));  // HTTP/1.0 needs no Host
}

TEST(request_checks, a_method_http_does_not_define_is_501) {
  auto h = header(http::verb::get);
  h.method_string("BREW");
  auto refusal = refuse_by_header(h);
  ASSERT_TRUE(refusal);
  EXPECT_EQ(refusal->result(), http::status::not_implemented);
  EXPECT_EQ(refusal->body(), R"({"error":"method BREW is not implemented"})");
  EXPECT_FALSE(refusal->keep_alive());

  auto webdav = refuse_by_header(header(http::verb::propfind));
  ASSERT_TRUE(webdav);
  EXPECT_EQ(webdav->result(), http::status::not_implemented);
}

TEST(request_checks, http_1_1_without_host_is_400) {
  auto refusal = refuse_by_header(header(http::verb::get, 11, false));
  ASSERT_TRUE(refusal);
  EXPECT_EQ(refusal->result(), http::status::bad_request);
  EXPECT_NE(refusal->body().find("Host"), std::string::npos);
}

TEST(request_checks, expect_100_continue_is_honoured_and_other_expectations_are_417) {
  auto h = header(http::verb::post);
  EXPECT_FALSE(expects_continue(h));
  h.set(http::field::expect, "100-Continue");
  EXPECT_TRUE(expects_continue(h));
  EXPECT_FALSE(refuse_by_header(h));

  h.set(http::field::expect, "teapot");
  auto refusal = refuse_by_header(h);
  ASSERT_TRUE(refusal);
  EXPECT_EQ(refusal->result(), http::status::expectation_failed);

  auto old = header(http::verb::post, 10);
  old.set(http::field::expect, "100-continue");
  EXPECT_FALSE(expects_continue(old));  // HTTP/1.0 clients never wait for it
}

TEST(request_checks, method_not_allowed_names_the_allowed_methods) {
  auto h = header(http::verb::post);
  const auto response = method_not_allowed(h, "GET, HEAD");
  EXPECT_EQ(response.result(), http::status::method_not_allowed);
  EXPECT_EQ(response[http::field::allow], "GET, HEAD");
  EXPECT_EQ(response.body(), R"({"error":"POST is not allowed on /v2/health/live; use GET, HEAD"})");
  EXPECT_TRUE(response.keep_alive());
}

TEST(accept_backoff, doubles_up_to_its_longest_and_resets_on_success) {
  using std::chrono::milliseconds;
  accept_backoff backoff(milliseconds(10), milliseconds(50));
  EXPECT_EQ(backoff.next(), milliseconds(10));
  EXPECT_EQ(backoff.next(), milliseconds(20));
  EXPECT_EQ(backoff.next(), milliseconds(40));
  EXPECT_EQ(backoff.next(), milliseconds(50));
  EXPECT_EQ(backoff.next(), milliseconds(50));
  backoff.reset();
  EXPECT_EQ(backoff.next(), milliseconds(10));
}

TEST(descriptor_budget, defaults_fit_a_20000_descriptor_limit_with_a_quarter_kept_back) {
  const auto plan = plan_descriptors(20000, 10000, 64);
  EXPECT_EQ(plan.http_connections, 10000u);
  EXPECT_EQ(plan.metrics_connections, 64u);
  EXPECT_EQ(plan.reserved, 5000u);
  EXPECT_FALSE(plan.clamped);
}

TEST(descriptor_budget, limits_that_do_not_fit_are_lowered_below_the_reserve) {
  const auto plan = plan_descriptors(1024, 10000, 64);
  EXPECT_TRUE(plan.clamped);
  EXPECT_EQ(plan.reserved, 256u);
  EXPECT_EQ(plan.metrics_connections, 64u);
  EXPECT_EQ(plan.http_connections, 1024u - 256u - 64u);
  EXPECT_LE(plan.http_connections + plan.metrics_connections + plan.reserved, 1024u);

  const auto tiny = plan_descriptors(300, 10000, 64);
  EXPECT_TRUE(tiny.clamped);
  EXPECT_LE(tiny.http_connections + tiny.metrics_connections + tiny.reserved, 300u);
  EXPECT_GE(tiny.reserved, 150u);
}

}  // namespace
}  // namespace surge::http
