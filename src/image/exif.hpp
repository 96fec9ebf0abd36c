#pragma once

#include <cstddef>
#include <span>

namespace surge::image {

// The EXIF orientation (1..8) a JPEG declares in its APP1 segment, or 1
// when it declares none, or the segment is malformed (a bad EXIF block does
// not make the picture unusable). Reads only the markers before the first
// scan and only inside the bytes given: bounded by the input's length.
int jpeg_exif_orientation(std::span<const std::byte> jpeg) noexcept;

// The orientation tag of a TIFF-structured EXIF block (what follows
// "Exif\0\0" in APP1); 1 when absent or malformed.
int tiff_orientation(std::span<const std::byte> tiff) noexcept;

}  // namespace surge::image
