#include "generation/sampler.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>
#include <vector>

namespace surge {
namespace {

// Logits whose softmax at temperature 1 is `probabilities`.
std::vector<float> logits_of(const std::vector<double>& probabilities) {
  std::vector<float> out;
  for (double p : probabilities) out.push_back(static_cast<float>(std::log(p)));
  return out;
}

sampling_parameters with(float temperature, std::uint32_t top_k = 0, float top_p = 1.0f) {
  sampling_parameters p;
  p.temperature = temperature;
  p.top_k = top_k;
  p.top_p = top_p;
  return p;
}

// How often each token was drawn in `draws` samples.
std::map<std::int32_t, int> histogram(const std::vector<float>& logits, const sampling_parameters& parameters,
                                      int draws, std::uint64_t seed = 7) {
  sampler s;
  std::mt19937_64 rng(seed);
  std::map<std::int32_t, int> counts;
  for (int i = 0; i < draws; ++i) ++counts[s.sample(logits, parameters, rng)];
  return counts;
}

std::set<std::int32_t> drawn(const std::map<std::int32_t, int>& counts) {
  std::set<std::int32_t> out;
  for (const auto& [token, count] : counts) out.insert(token);
  return out;
}

TEST(sampler, argmax_picks_the_largest_logit) {
  const std::vector<float> logits{0.1f, -3.0f, 2.5f, 2.4f, 0.0f};
  EXPECT_EQ(argmax(logits), 2);
  const std::vector<float> first{5.0f, 1.0f};
  EXPECT_EQ(argmax(first), 0);
  const std::vector<float> last{-1.0f, -2.0f, 0.5f};
  EXPECT_EQ(argmax(last), 2);
}

TEST(sampler, temperature_zero_is_greedy_whatever_the_seed) {
  const std::vector<float> logits{0.3f, 1.7f, 1.6f, -0.2f};
  sampler s;
  for (std::uint64_t seed = 0; seed < 50; ++seed) {
    std::mt19937_64 rng(seed);
    EXPECT_EQ(s.sample(logits, with(0.0f), rng), 1) << "seed " << seed;
  }
}

TEST(sampler, top_k_one_is_greedy_at_any_temperature) {
  const std::vector<float> logits{0.3f, 1.7f, 1.6f, -0.2f};
  sampler s;
  std::mt19937_64 rng(3);
  for (int i = 0; i < 500; ++i) EXPECT_EQ(s.sample(logits, with(5.0f, 1), rng), 1);
}

TEST(sampler, tiny_temperature_behaves_greedily) {
  // Gaps of 0.1 at temperature 0.001 leave the others e^-100 of the mass.
  const std::vector<float> logits{1.0f, 1.1f, 1.2f, 1.3f, 1.2f};
  const auto counts = histogram(logits, with(0.001f), 2000);
  EXPECT_EQ(drawn(counts), (std::set<std::int32_t>{3}));
}

TEST(sampler, same_seed_draws_the_same_sequence) {
  const auto logits = logits_of({0.2, 0.2, 0.2, 0.2, 0.2});
  const auto draw = [&](std::uint64_t seed) {
    sampler s;
    std::mt19937_64 rng(seed);
    std::vector<std::int32_t> out;
    for (int i = 0; i < 200; ++i) out.push_back(s.sample(logits, with(1.0f), rng));
    return out;
  };
  const auto a = draw(42);
  EXPECT_EQ(a, draw(42));
  EXPECT_NE(a, draw(43));  // 5^-200: a different seed must not replay it
  EXPECT_EQ(drawn(histogram(logits, with(1.0f), 200, 42)).size(), 5u) << "uniform logits should reach every token";
}

TEST(sampler, draws_follow_the_softmax) {
  const auto counts = histogram(logits_of({0.7, 0.3}), with(1.0f), 20000);
  const double share = counts.at(0) / 20000.0;
  EXPECT_NEAR(share, 0.7, 0.02);
}

TEST(sampler, top_k_never_leaves_the_k_best) {
  // A high temperature makes the tail likely, so only top_k keeps it out.
  const std::vector<float> logits{0.5f, 3.0f, 0.1f, 2.9f, 0.2f, 2.8f, 0.0f, 0.3f};
  const auto counts = histogram(logits, with(10.0f, 3), 5000);
  EXPECT_EQ(drawn(counts), (std::set<std::int32_t>{1, 3, 5}));
  // Without the limit the tail does get drawn, so the test above means something.
  EXPECT_GT(drawn(histogram(logits, with(10.0f), 5000)).size(), 3u);
}

TEST(sampler, top_k_larger_than_the_vocabulary_is_no_limit) {
  const std::vector<float> logits{0.0f, 0.1f, 0.2f};
  EXPECT_EQ(drawn(histogram(logits, with(1.0f, 100), 3000)).size(), 3u);
}

TEST(sampler, top_p_keeps_the_nucleus) {
  // Sorted masses 0.5, 0.3, 0.1, 0.05, 0.05, listed out of order.
  const auto logits = logits_of({0.05, 0.3, 0.1, 0.5, 0.05});
  // 0.5 reaches 0.45: the best token alone.
  EXPECT_EQ(drawn(histogram(logits, with(1.0f, 0, 0.45f), 3000)), (std::set<std::int32_t>{3}));
  // 0.5 + 0.3 reaches 0.75.
  EXPECT_EQ(drawn(histogram(logits, with(1.0f, 0, 0.75f), 3000)), (std::set<std::int32_t>{3, 1}));
  // 0.5 + 0.3 + 0.1 reaches 0.85.
  EXPECT_EQ(drawn(histogram(logits, with(1.0f, 0, 0.85f), 5000)), (std::set<std::int32_t>{3, 1, 2}));
  // 1: everything.
  EXPECT_EQ(drawn(histogram(logits, with(1.0f, 0, 1.0f), 5000)).size(), 5u);
}

TEST(sampler, top_p_renormalises_within_the_nucleus) {
  // Nucleus {0.5, 0.3}: drawn 5:3 once the tail is cut.
  const auto counts = histogram(logits_of({0.5, 0.3, 0.1, 0.1}), with(1.0f, 0, 0.75f), 20000);
  EXPECT_NEAR(counts.at(0) / 20000.0, 0.625, 0.02);
}

TEST(sampler, top_k_then_top_p) {
  // top_k keeps {0.4, 0.3, 0.2}; of those (renormalised 0.44, 0.33, 0.22) top_p 0.7 keeps two.
  const auto logits = logits_of({0.4, 0.3, 0.2, 0.1});
  EXPECT_EQ(drawn(histogram(logits, with(1.0f, 3, 0.7f), 5000)), (std::set<std::int32_t>{0, 1}));
}

TEST(sampler, empty_logits_give_token_zero) {
  sampler s;
  std::mt19937_64 rng(1);
  EXPECT_EQ(s.sample(std::span<const float>(), with(1.0f), rng), 0);
}

}  // namespace
}  // namespace surge
