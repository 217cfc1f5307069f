#pragma once
// A line chart as a standalone SVG document: a pure function from series to text (no files, no
// fonts, no dependencies), used by `cfps plot` to draw train_loss and valid_mse per epoch.
//
// The document has a white background, a title, a frame with "nice" ticks (1, 2 or 5 times a
// power of ten) and grid lines on both axes, the axis labels, per series a <g> holding one
// <polyline> per run of two or more consecutive finite points and a marker per point (circle,
// square, triangle, diamond, in series order), and a legend. A point whose x or y is not finite is
// left out and breaks the line (a gap, as matplotlib draws NaN). Every coordinate lies inside the
// viewBox "0 0 width height". Text (title, labels, series names) is escaped for XML; invalid UTF-8
// and control characters become U+FFFD.

#include <string>
#include <vector>

namespace cfps {

struct PlotSeries {
  std::string name;
  std::vector<double> x, y;  // same length
  std::string color;         // an SVG colour; empty picks one from a fixed palette
};

struct PlotSpec {
  std::string title;
  std::string x_label;
  std::string y_label;
  std::vector<PlotSeries> series;
  int width = 720;         // pixels; clamped to >= 320
  int height = 440;        // pixels; clamped to >= 240
  bool integer_x = false;  // x ticks at integers only (epochs)
};

// The SVG document ("<?xml ...?><svg ...>...</svg>\n").
std::string RenderSvgLinePlot(const PlotSpec& spec);

// Tick positions covering [lo, hi]: multiples of a step of 1, 2 or 5 times a power of ten, about
// `target` of them (at least 2), the first <= lo and the last >= hi. With integer_step the step is
// at least 1. lo == hi is widened around the value. Exposed for tests.
std::vector<double> NiceTicks(double lo, double hi, int target, bool integer_step);

// `text` escaped for XML character data and attribute values (&, <, >, ", '), invalid UTF-8 and
// control characters other than tab replaced by U+FFFD. Exposed for tests.
std::string XmlEscape(const std::string& text);

}  // namespace cfps
