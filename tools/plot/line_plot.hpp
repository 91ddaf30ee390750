#pragma once
// A small line plot written as a PNG, for the command-line tools (loss by position, benchmark
// curves): white background, a title, axes with ten ticks each and their values, axis labels,
// one colour per series with a legend of their names. NaN points are skipped. Text is drawn with
// a 5x7 bitmap font: no font or image library needed.
#include <string>
#include <vector>

namespace subq::tools {

struct Series {
  std::string name;  // in the legend (none when empty)
  std::vector<double> x, y;
};

struct PlotText {
  std::string title, x_label, y_label;
};

/// Writes a width x height PNG; log_x spaces x logarithmically (its ticks show the values).
/// Throws subq::Error naming the path when it cannot be written.
void write_line_plot(const std::string& path, const std::vector<Series>& series, const PlotText& text,
                     bool log_x = false, int width = 800, int height = 480);

}  // namespace subq::tools
