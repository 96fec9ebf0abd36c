#include "image/exif.hpp"

#include <gtest/gtest.h>

#include "image/encode_support.hpp"

namespace surge::image {
namespace {

using testing::bytes_of;

const std::string plain = testing::jpeg(testing::gradient(8, 4, 3));

TEST(exif_test, reads_each_orientation_in_either_byte_order) {
  for (int orientation = 1; orientation <= 8; ++orientation) {
    EXPECT_EQ(jpeg_exif_orientation(bytes_of(testing::with_orientation(plain, orientation, true))), orientation);
    EXPECT_EQ(jpeg_exif_orientation(bytes_of(testing::with_orientation(plain, orientation, false))), orientation);
  }
}

TEST(exif_test, no_exif_segment_is_upright) { EXPECT_EQ(jpeg_exif_orientation(bytes_of(plain)), 1); }

TEST(exif_test, out_of_range_value_is_upright) {
  EXPECT_EQ(jpeg_exif_orientation(bytes_of(testing::with_orientation(plain, 9))), 1);
  EXPECT_EQ(jpeg_exif_orientation(bytes_of(testing::with_orientation(plain, 0))), 1);
}

TEST(exif_test, every_truncation_of_the_segment_is_read_safely) {
  const std::string tagged = testing::with_orientation(plain, 6);
  const std::size_t segment_end = 2 + testing::exif_segment(6).size();
  for (std::size_t length = 0; length < segment_end; ++length) {
    EXPECT_EQ(jpeg_exif_orientation(bytes_of(tagged.substr(0, length))), 1) << length;
  }
  EXPECT_EQ(jpeg_exif_orientation(bytes_of(tagged.substr(0, segment_end))), 6);
}

TEST(exif_test, offsets_pointing_outside_the_block_are_ignored) {
  std::string segment = testing::exif_segment(6);
  segment[4 + 6 + 4] = '\x7F';  // IFD0 offset far past the end
  EXPECT_EQ(tiff_orientation(bytes_of(segment.substr(4 + 6))), 1);
  std::string many = testing::exif_segment(6);
  many[4 + 6 + 8] = '\xFF';  // 255 entries claimed, one present
  many[4 + 6 + 10] = '\x00';  // and the one present is not the orientation: the scan must stop at the end
  EXPECT_EQ(tiff_orientation(bytes_of(many.substr(4 + 6))), 1);
}

TEST(exif_test, wrong_type_or_count_is_ignored) {
  std::string segment = testing::exif_segment(6);
  segment[4 + 6 + 12] = 4;  // LONG instead of SHORT
  EXPECT_EQ(tiff_orientation(bytes_of(segment.substr(4 + 6))), 1);
}

TEST(exif_test, not_a_tiff_header) {
  EXPECT_EQ(tiff_orientation(bytes_of(std::string("XX*\0\x08\0\0\0", 8))), 1);
  EXPECT_EQ(tiff_orientation(bytes_of(std::string("II+\0\x08\0\0\0", 8))), 1);
  EXPECT_EQ(jpeg_exif_orientation(bytes_of(std::string("not a jpeg"))), 1);
}

}  // namespace
}  // namespace surge::image
