#include "tools/plot/line_plot.hpp"

#include <algorithm>
#include <cmath>

#include "core/check.hpp"
#include "tools/plot/canvas.hpp"

namespace subq::tools {

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
