#pragma once
// A small line plot written as a PNG, for the command-line tools (loss by position, benchmark
// curves): white background, axes with ten ticks each, one colour per series. Axis labels and
// values go in the CSV written beside it; NaN points are skipped.
#include <string>
#include <vector>

namespace subq::tools {

struct Series {
  std::vector<double> x, y;
};

/// Writes a width x height PNG; throws subq::Error naming the path when it cannot be written.
void write_line_plot(const std::string& path, const std::vector<Series>& series, int width = 800, int height = 480,
                     bool log_x = false);

}  // namespace subq::tools
