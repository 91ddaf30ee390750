#pragma once
// Internal to the plots: an RGB canvas with lines and 5x7 text, written as a PNG with no image
// or compression library (stored deflate blocks).
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "tools/plot/bitmap_font.hpp"

namespace subq::tools {

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

/// A tick's value in few characters: 3 significant digits, thousands as K, millions as M.
std::string tick_label(double v);

/// Throws subq::Error naming the path when it cannot be written.
void write_png(const std::string& path, const Canvas& canvas);

}  // namespace subq::tools
