#pragma once

// IEEE 754 binary16 and bfloat16, which JSON can only carry as ordinary
// numbers. Narrowing rounds to nearest, ties to even; a finite value beyond
// the type's range becomes infinity (the JSON decoder rejects it instead).

#include <cstdint>

namespace surge::wire {

std::uint16_t fp16_from_double(double value);
double fp16_to_double(std::uint16_t bits);
std::uint16_t bf16_from_double(double value);
double bf16_to_double(std::uint16_t bits);

}  // namespace surge::wire
