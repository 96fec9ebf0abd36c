#include "wire/half_float.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace surge::wire {

namespace {

// Rounds |value| to a whole number of quanta (2^-mantissa_bits of its binade,
// or the subnormal step), ties to even. Everything here is exact in double,
// so the one rounding is the one the target format defines.
template <int exponent_bits, int mantissa_bits>
std::uint16_t narrow_float(double value) {
  constexpr int bias = (1 << (exponent_bits - 1)) - 1;
  constexpr std::uint32_t infinity = ((1u << exponent_bits) - 1) << mantissa_bits;
  constexpr std::uint32_t implicit_one = 1u << mantissa_bits;
  const std::uint32_t sign = std::signbit(value) ? 1u << (exponent_bits + mantissa_bits) : 0u;

  if (std::isnan(value)) return static_cast<std::uint16_t>(sign | infinity | (implicit_one >> 1));
  const double magnitude = std::fabs(value);
  if (std::isinf(magnitude)) return static_cast<std::uint16_t>(sign | infinity);
  if (magnitude == 0) return static_cast<std::uint16_t>(sign);

  int exponent = 0;  // magnitude = fraction * 2^exponent, fraction in [0.5, 1)
  std::frexp(magnitude, &exponent);
  const int unbiased = exponent - 1;
  if (unbiased > bias) return static_cast<std::uint16_t>(sign | infinity);

  const bool subnormal = unbiased < 1 - bias;
  const int quantum_exponent = (subnormal ? 1 - bias : unbiased) - mantissa_bits;
  const double scaled = std::ldexp(magnitude, -quantum_exponent);
  double quanta = std::floor(scaled);
  const double rest = scaled - quanta;
  if (rest > 0.5 || (rest == 0.5 && std::fmod(quanta, 2.0) != 0)) quanta += 1;

  // Rounding up to the next binade carries into the exponent field by plain
  // addition: a subnormal becomes the smallest normal, the largest finite
  // value becomes infinity.
  const auto units = static_cast<std::uint32_t>(quanta);
  const std::uint32_t bits =
      subnormal ? units : (static_cast<std::uint32_t>(unbiased + bias) << mantissa_bits) + (units - implicit_one);
  return static_cast<std::uint16_t>(sign | std::min(bits, infinity));
}

template <int exponent_bits, int mantissa_bits>
double widen_float(std::uint16_t bits) {
  constexpr int bias = (1 << (exponent_bits - 1)) - 1;
  constexpr std::uint32_t exponent_mask = (1u << exponent_bits) - 1;
  constexpr std::uint32_t mantissa_mask = (1u << mantissa_bits) - 1;
  const bool negative = (bits >> (exponent_bits + mantissa_bits)) & 1u;
  const std::uint32_t exponent = (bits >> mantissa_bits) & exponent_mask;
  const std::uint32_t mantissa = bits & mantissa_mask;

  double magnitude = 0;
  if (exponent == exponent_mask) {
    magnitude = mantissa != 0 ? std::numeric_limits<double>::quiet_NaN() : std::numeric_limits<double>::infinity();
  } else if (exponent == 0) {
    magnitude = std::ldexp(static_cast<double>(mantissa), 1 - bias - mantissa_bits);
  } else {
    magnitude = std::ldexp(static_cast<double>(mantissa | (mantissa_mask + 1)),
                           static_cast<int>(exponent) - bias - mantissa_bits);
  }
  return negative ? -magnitude : magnitude;
}


}  // namespace

std::uint16_t fp16_from_double(double value) { return narrow_float<5, 10>(value); }
double fp16_to_double(std::uint16_t bits) { return widen_float<5, 10>(bits); }
std::uint16_t bf16_from_double(double value) { return narrow_float<8, 7>(value); }
double bf16_to_double(std::uint16_t bits) { return widen_float<8, 7>(bits); }

}  // namespace surge::wire
