#include "tools/plot/line_plot.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <fstream>

#include <fmt/format.h>

#include "core/check.hpp"
#include "tools/plot/bitmap_font.hpp"

namespace subq::tools {

namespace {

using Rgb = std::array<std::uint8_t, 3>;

struct Canvas {
  int width, height;
  std::vector<Rgb> pixels;
  Canvas(int w, int h) : width(w), height(h), pixels(std::size_t(w) * std::size_t(h), Rgb{255, 255, 255}) {}
  void set(int x, int y, Rgb c) {
    if (x >= 0 && y >= 0 && x < width && y < height) pixels[std::size_t(y) * std::size_t(width) + std::size_t(x)] = c;
  }
  void line(double x0, double y0, double x1, double y1, Rgb c) {
    const int steps = int(std::max(std::abs(x1 - x0), std::abs(y1 - y0))) + 1;
    for (int i = 0; i <= steps; ++i) {
      const double t = double(i) / steps;
      set(int(std::lround(x0 + t * (x1 - x0))), int(std::lround(y0 + t * (y1 - y0))), c);
    }
  }
  // s with its top-left corner at (x, y), 6 pixels per character.
  void text(int x, int y, const std::string& s, Rgb c) {
    for (std::size_t i = 0; i < s.size(); ++i) {
      const Glyph& g = glyph(s[i]);
      for (int row = 0; row < 7; ++row)
        for (int col = 0; col < 5; ++col)
          if (g[std::size_t(row)] & (0x10 >> col)) set(x + int(i) * kCharWidth + col, y + row, c);
    }
  }
  static constexpr int kCharWidth = 6;
  static int text_width(const std::string& s) { return int(s.size()) * kCharWidth; }
};

// A tick's value in few characters: 3 significant digits, thousands as K, millions as M.
std::string tick_label(double v) {
  const double a = std::abs(v);
  if (a >= 1e6 && a < 1e12) return fmt::format("{:.3g}M", v / 1e6);
  if (a >= 1e3 && a < 1e6) return fmt::format("{:.3g}K", v / 1e3);
  return fmt::format("{:.3g}", v);
}

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
  std::ofstream out(path, std::ios::binary);
  SUBQ_CHECK(out.good(), "{}: cannot write", path);
  out.write(reinterpret_cast<const char*>(png.data()), std::streamsize(png.size()));
}

}  // namespace

void write_line_plot(const std::string& path, const std::vector<Series>& series, const PlotText& text, bool log_x,
                     int width, int height) {
  SUBQ_CHECK(width >= 200 && height >= 120, "plot {}: {}x{} is too small", path, width, height);
  auto fx = [&](double x) { return log_x ? std::log10(std::max(x, 1e-300)) : x; };
  double x_lo = INFINITY, x_hi = -INFINITY, y_lo = INFINITY, y_hi = -INFINITY;
  for (const Series& s : series)
    for (std::size_t i = 0; i < s.x.size() && i < s.y.size(); ++i)
      if (std::isfinite(s.y[i]) && std::isfinite(fx(s.x[i])))
        x_lo = std::min(x_lo, fx(s.x[i])), x_hi = std::max(x_hi, fx(s.x[i])), y_lo = std::min(y_lo, s.y[i]), y_hi = std::max(y_hi, s.y[i]);
  std::size_t longest_name = 0;
  for (const Series& s : series) longest_name = std::max(longest_name, s.name.size());
  Canvas c(width, height);
  const Rgb ink{0, 0, 0}, grid{225, 225, 225};
  const int left = 64, top = 36, bottom = height - 44;
  const int right = width - 16 - (longest_name ? Canvas::text_width(std::string(longest_name, ' ')) + 28 : 0);
  c.text(left, 8, text.title, ink);
  c.text(left - 40, 22, text.y_label, ink);
  c.text((left + right - Canvas::text_width(text.x_label)) / 2, height - 14, text.x_label, ink);
  for (int i = 0; i <= 10; ++i) {  // grid, ticks and their values
    const double gx = left + (right - left) * i / 10.0, gy = bottom - (bottom - top) * i / 10.0;
    c.line(gx, top, gx, bottom, grid), c.line(left, gy, right, gy, grid);
    c.line(gx, bottom, gx, bottom + 5, ink), c.line(left - 5, gy, left, gy, ink);
    if (x_lo > x_hi) continue;
    const double xv = x_lo + (x_hi - x_lo) * i / 10.0, yv = y_lo + (y_hi - y_lo) * i / 10.0;
    if (i % 2 == 0) {
      const std::string xl = tick_label(log_x ? std::pow(10.0, xv) : xv);
      c.text(int(gx) - Canvas::text_width(xl) / 2, bottom + 9, xl, ink);
    }
    const std::string yl = tick_label(yv);
    c.text(left - 8 - Canvas::text_width(yl), int(gy) - 3, yl, ink);
  }
  c.line(left, bottom, right, bottom, ink), c.line(left, top, left, bottom, ink);
  const Rgb colours[] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44}, {214, 39, 40}, {148, 103, 189}, {140, 86, 75},
                         {227, 119, 194}, {127, 127, 127}};
  constexpr std::size_t kColours = sizeof(colours) / sizeof(colours[0]);
  if (x_lo <= x_hi) {
    const double xs = x_hi > x_lo ? (right - left) / (x_hi - x_lo) : 0, ys = y_hi > y_lo ? (bottom - top) / (y_hi - y_lo) : 0;
    for (std::size_t k = 0; k < series.size(); ++k) {
      const Series& s = series[k];
      bool have = false;
      double px = 0, py = 0;
      for (std::size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
        if (!std::isfinite(s.y[i])) continue;
        const double X = left + (fx(s.x[i]) - x_lo) * xs, Y = bottom - (s.y[i] - y_lo) * ys;
        if (have) c.line(px, py, X, Y, colours[k % kColours]);
        px = X, py = Y, have = true;
      }
    }
  }
  for (std::size_t k = 0, row = 0; k < series.size(); ++k) {  // the legend, right of the plot
    if (series[k].name.empty()) continue;
    const int y = top + 4 + int(row++) * 14;
    for (int t = -1; t <= 1; ++t) c.line(right + 12, y + 3 + t, right + 24, y + 3 + t, colours[k % kColours]);
    c.text(right + 28, y, series[k].name, ink);
  }
  write_png(path, c);
}

}  // namespace subq::tools
