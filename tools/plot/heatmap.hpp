#pragma once
// A grid of values in [0, 1] as a PNG heatmap (the retrieval probes' accuracy by length and
// depth): one cell per value, coloured from red (0) through yellow to green (1) and labelled with
// its value; NaN cells grey. Rows are drawn top to bottom, columns left to right.
#include <string>
#include <vector>

#include "tools/plot/line_plot.hpp"

namespace subq::tools {

/// values[row][column]; each row as long as column_labels. Throws subq::Error naming the path
/// when it cannot be written or the grid's sizes disagree.
void write_heatmap(const std::string& path, const std::vector<std::vector<double>>& values,
                   const std::vector<std::string>& row_labels, const std::vector<std::string>& column_labels,
                   const PlotText& text);

}  // namespace subq::tools
