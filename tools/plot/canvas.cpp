#include "tools/plot/canvas.hpp"

#include <fmt/format.h>

#include <fstream>

#include "core/atomic_file.hpp"
#include "core/check.hpp"

namespace subq::tools {

std::string tick_label(double v) {
  const double a = std::abs(v);
  if (a >= 1e6 && a < 1e12) return fmt::format("{:.3g}M", v / 1e6);
  if (a >= 1e3 && a < 1e6) return fmt::format("{:.3g}K", v / 1e3);
  return fmt::format("{:.3g}", v);
}

namespace {

std::uint32_t crc32(const std::uint8_t* data, std::size_t n, std::uint32_t crc = 0xffffffffu) {
  for (std::size_t i = 0; i < n; ++i) {
    crc ^= data[i];
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
  }
  return crc;
}

void put32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out.push_back(std::uint8_t(v >> s));
}

void chunk(std::vector<std::uint8_t>& png, const char* type, const std::vector<std::uint8_t>& data) {
  put32(png, std::uint32_t(data.size()));
  const std::size_t start = png.size();
  png.insert(png.end(), type, type + 4);
  png.insert(png.end(), data.begin(), data.end());
  put32(png, crc32(png.data() + start, png.size() - start) ^ 0xffffffffu);
}

// The image as a zlib stream of stored (uncompressed) deflate blocks: no compression library needed.
std::vector<std::uint8_t> zlib_stored(const std::vector<std::uint8_t>& raw) {
  std::vector<std::uint8_t> z = {0x78, 0x01};
  std::uint32_t a = 1, b = 0;
  for (std::uint8_t byte : raw) a = (a + byte) % 65521, b = (b + a) % 65521;
  for (std::size_t pos = 0; pos < raw.size() || pos == 0;) {
    const std::size_t n = std::min<std::size_t>(65535, raw.size() - pos);
    z.push_back(pos + n == raw.size() ? 1 : 0);
    z.push_back(std::uint8_t(n)), z.push_back(std::uint8_t(n >> 8));
    z.push_back(std::uint8_t(~n)), z.push_back(std::uint8_t(~n >> 8));
    z.insert(z.end(), raw.begin() + std::ptrdiff_t(pos), raw.begin() + std::ptrdiff_t(pos + n));
    pos += n;
    if (n == 0) break;
  }
  put32(z, (b << 16) | a);
  return z;
}

}  // namespace

void write_png(const std::string& path, const Canvas& c) {
  std::vector<std::uint8_t> raw;
  for (int y = 0; y < c.height; ++y) {
    raw.push_back(0);  // filter: none
    for (int x = 0; x < c.width; ++x) {
      const Rgb& p = c.pixels[std::size_t(y) * std::size_t(c.width) + std::size_t(x)];
      raw.insert(raw.end(), p.begin(), p.end());
    }
  }
  std::vector<std::uint8_t> png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'}, header;
  put32(header, std::uint32_t(c.width));
  put32(header, std::uint32_t(c.height));
  header.insert(header.end(), {8, 2, 0, 0, 0});  // 8-bit RGB
  chunk(png, "IHDR", header);
  chunk(png, "IDAT", zlib_stored(raw));
  chunk(png, "IEND", {});
  write_file_atomically(path, {reinterpret_cast<const char*>(png.data()), png.size()});
}

}  // namespace subq::tools
