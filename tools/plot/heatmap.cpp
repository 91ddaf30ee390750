#include "tools/plot/heatmap.hpp"

#include <fmt/format.h>

#include "core/check.hpp"
#include "tools/plot/canvas.hpp"

namespace subq::tools {

namespace {

// Red (0) to yellow (0.5) to green (1), light enough for black labels.
Rgb cell_colour(double v) {
  if (!std::isfinite(v)) return {200, 200, 200};
  const double t = std::clamp(v, 0.0, 1.0);
  const auto mix = [](double a, double b, double s) { return std::uint8_t(std::lround(a + (b - a) * s)); };
  if (t < 0.5) return {mix(230, 240, 2 * t), mix(110, 220, 2 * t), mix(100, 110, 2 * t)};
  return {mix(240, 120, 2 * t - 1), mix(220, 200, 2 * t - 1), mix(110, 120, 2 * t - 1)};
}

}  // namespace

void write_heatmap(const std::string& path, const std::vector<std::vector<double>>& values,
                   const std::vector<std::string>& row_labels, const std::vector<std::string>& column_labels,
                   const PlotText& text) {
  SUBQ_CHECK(values.size() == row_labels.size() && !values.empty(), "heatmap {}: {} rows of values, {} labels", path,
             values.size(), row_labels.size());
  for (const auto& row : values)
    SUBQ_CHECK(row.size() == column_labels.size() && !row.empty(), "heatmap {}: a row of {} values, {} column labels",
               path, row.size(), column_labels.size());
  std::size_t label_width = text.y_label.size();
  for (const std::string& l : row_labels) label_width = std::max(label_width, l.size());
  constexpr int kCellWidth = 64, kCellHeight = 28;
  const int left = 16 + Canvas::text_width(std::string(label_width, ' ')), top = 40;
  const int width =
      std::max(left + kCellWidth * int(column_labels.size()) + 16, 16 + Canvas::text_width(text.title) + 16);
  const int height = top + kCellHeight * int(row_labels.size()) + 40;
  Canvas c(width, height);
  const Rgb ink{0, 0, 0};
  c.text(16, 8, text.title, ink);
  c.text(8, 24, text.y_label, ink);
  for (std::size_t r = 0; r < values.size(); ++r) {
    const int y = top + int(r) * kCellHeight;
    c.text(left - 8 - Canvas::text_width(row_labels[r]), y + kCellHeight / 2 - 3, row_labels[r], ink);
    for (std::size_t k = 0; k < values[r].size(); ++k) {
      const int x = left + int(k) * kCellWidth;
      const Rgb fill = cell_colour(values[r][k]);
      for (int yy = y + 1; yy < y + kCellHeight; ++yy)
        for (int xx = x + 1; xx < x + kCellWidth; ++xx) c.set(xx, yy, fill);
      const std::string label = std::isfinite(values[r][k]) ? fmt::format("{:.2f}", values[r][k]) : "-";
      c.text(x + (kCellWidth - Canvas::text_width(label)) / 2, y + kCellHeight / 2 - 3, label, ink);
    }
  }
  const int bottom = top + kCellHeight * int(row_labels.size());
  for (std::size_t k = 0; k < column_labels.size(); ++k)
    c.text(left + int(k) * kCellWidth + (kCellWidth - Canvas::text_width(column_labels[k])) / 2, bottom + 6,
           column_labels[k], ink);
  c.text(left + (kCellWidth * int(column_labels.size()) - Canvas::text_width(text.x_label)) / 2, bottom + 22,
         text.x_label, ink);
  write_png(path, c);
}

}  // namespace subq::tools
