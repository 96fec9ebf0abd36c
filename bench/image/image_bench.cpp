// Decode + resize + normalise throughput of src/image in a bare loop: the
// library calls the image backend makes, without the server around them.
// One synthetic photo-like JPEG per size (smooth gradients, edges and noise,
// quality 90, 4:2:0), preprocessed to 224x224 FP32 NCHW (center_crop,
// ImageNet mean/std) by --threads threads for --seconds each, with the DCT
// scaling the library picks and with a full-size decode for comparison.
// --write DIR also saves the JPEGs, for driving a server with the same bytes.
//
//   build/release/bench/image/surge_bench_image --threads 2 --seconds 5
#include <turbojpeg.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "image/decode.hpp"
#include "image/preprocess.hpp"

namespace {

namespace image = surge::image;

std::string photo_jpeg(int width, int height, int quality) {
  std::vector<unsigned char> rgb(static_cast<std::size_t>(width) * height * 3);
  std::mt19937 noise(7);
  std::uniform_int_distribution<int> jitter(-12, 12);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      const bool disc = (x - width / 3) * (x - width / 3) + (y - height / 2) * (y - height / 2) < height * height / 9;
      const int base[3] = {x * 255 / width, y * 255 / height, disc ? 220 : ((x / 40 + y / 40) % 2) * 90 + 60};
      for (int c = 0; c < 3; ++c) {
        rgb[(static_cast<std::size_t>(y) * width + x) * 3 + c] =
            static_cast<unsigned char>(std::clamp(base[c] + jitter(noise), 0, 255));
      }
    }
  }
  tjhandle handle = tjInitCompress();
  unsigned char* out = nullptr;
  unsigned long size = 0;
  tjCompress2(handle, rgb.data(), width, 0, height, TJPF_RGB, &out, &size, TJSAMP_420, quality, 0);
  std::string encoded(reinterpret_cast<const char*>(out), size);
  tjFree(out);
  tjDestroy(handle);
  return encoded;
}

double thread_cpu_seconds() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

struct figures {
  double images_per_s;
  double cpu_ms_per_image;  // CPU time the decoding threads spent per image: what a busy machine cannot inflate
};

// `threads` threads, each running `one` for `seconds`.
template <class Body>
figures rate(int threads, double seconds, Body one) {
  std::atomic<std::uint64_t> done{0};
  std::atomic<std::uint64_t> cpu_ns{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> pool;
  const auto start = std::chrono::steady_clock::now();
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      std::uint64_t mine = 0;
      const double began = thread_cpu_seconds();
      while (!stop.load(std::memory_order_relaxed)) {
        one();
        ++mine;
      }
      cpu_ns += static_cast<std::uint64_t>((thread_cpu_seconds() - began) * 1e9);
      done += mine;
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& t : pool) t.join();
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double images = static_cast<double>(std::max<std::uint64_t>(done.load(), 1));
  return {static_cast<double>(done.load()) / elapsed, static_cast<double>(cpu_ns.load()) * 1e-6 / images};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"decode + resize + normalise throughput of the image library"};
  int threads = 2;
  double seconds = 5;
  std::string write_dir;
  app.add_option("--threads", threads, "decode threads")->check(CLI::PositiveNumber);
  app.add_option("--seconds", seconds, "seconds per measurement")->check(CLI::PositiveNumber);
  app.add_option("--write", write_dir, "also write the JPEGs into this directory");
  CLI11_PARSE(app, argc, argv);

  image::preprocess_options options;
  options.width = 224;
  options.height = 224;
  options.resize = image::resize_mode::center_crop;
  options.mean = {0.485f, 0.456f, 0.406f};
  options.std = {0.229f, 0.224f, 0.225f};

  std::printf("threads %d, %.1f s per figure, output 3x224x224 FP32 (center_crop, auto: area when shrinking); "
              "ms: CPU per image\n", threads, seconds);
  std::printf("%-22s %8s %22s %22s\n", "image", "bytes", "DCT-scaled: img/s  ms", "full decode: img/s  ms");
  for (auto [width, height] : {std::pair{640, 480}, std::pair{1920, 1080}}) {
    const std::string jpeg = photo_jpeg(width, height, 90);
    const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(jpeg.data()), jpeg.size());
    if (!write_dir.empty()) {
      std::filesystem::create_directories(write_dir);
      std::ofstream(std::filesystem::path(write_dir) / (std::to_string(width) + "x" + std::to_string(height) + ".jpg"),
                    std::ios::binary)
          << jpeg;
    }
    const figures scaled = rate(threads, seconds, [&] {
      thread_local std::vector<std::byte> out(image::output_byte_size(options));
      if (auto failed = image::preprocess(bytes, options, out)) std::abort();
    });
    const figures full = rate(threads, seconds, [&] {
      thread_local std::vector<std::byte> out(image::output_byte_size(options));
      auto decoded = image::decode(bytes);  // no minimum: full size
      if (!decoded || image::preprocess_decoded(decoded.value(), options, out)) std::abort();
    });
    std::printf("%4dx%-4d JPEG q90      %8zu %12.0f %8.2f %12.0f %8.2f\n", width, height, jpeg.size(),
                scaled.images_per_s, scaled.cpu_ms_per_image, full.images_per_s, full.cpu_ms_per_image);
  }
  return 0;
}
