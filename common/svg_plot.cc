#include "common/svg_plot.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace cfps {

namespace {

constexpr const char* kPalette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e"};
constexpr const char* kReplacement = "\xEF\xBF\xBD";  // U+FFFD in UTF-8

std::string Num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2f", v);
  return buf;
}

// A tick label with as many decimals as the step needs (0.05 -> 2, 0.2 -> 1, 5 -> 0).
std::string TickLabel(double v, double step) {
  char buf[40];
  if (std::fabs(v) >= 1e7 || (step < 1e-6 && v != 0)) {
    std::snprintf(buf, sizeof(buf), "%.4g", v);
    return buf;
  }
  int decimals = step >= 1 ? 0 : static_cast<int>(std::ceil(-std::log10(step) - 1e-9));
  decimals = std::min(std::max(decimals, 0), 8);
  std::snprintf(buf, sizeof(buf), "%.*f", decimals, v);
  return buf;
}

// Maps a domain [lo, hi] onto pixels [p0, p1] (p1 < p0 for the y axis).
struct Axis {
  double lo, hi, p0, p1;
  double operator()(double v) const {
    double t = (v - lo) / (hi - lo);
    t = std::min(1.0, std::max(0.0, t));  // the domain covers the data; this only guards rounding
    return p0 + t * (p1 - p0);
  }
};

void Marker(std::string* out, int shape, double x, double y, const std::string& color) {
  const std::string fill = " fill=\"" + color + "\" stroke=\"#ffffff\" stroke-width=\"1\"/>\n";
  switch (shape % 4) {
    case 0:
      *out += "<circle cx=\"" + Num(x) + "\" cy=\"" + Num(y) + "\" r=\"4\"" + fill;
      break;
    case 1:
      *out +=
          "<rect x=\"" + Num(x - 4) + "\" y=\"" + Num(y - 4) + "\" width=\"8\" height=\"8\"" + fill;
      break;
    case 2:
      *out += "<polygon points=\"" + Num(x) + "," + Num(y - 5) + " " + Num(x + 5) + "," +
              Num(y + 4) + " " + Num(x - 5) + "," + Num(y + 4) + "\"" + fill;
      break;
    default:
      *out += "<polygon points=\"" + Num(x) + "," + Num(y - 5) + " " + Num(x + 5) + "," + Num(y) +
              " " + Num(x) + "," + Num(y + 5) + " " + Num(x - 5) + "," + Num(y) + "\"" + fill;
      break;
  }
}

}  // namespace

std::string XmlEscape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  size_t k = 0;
  while (k < n) {
    const unsigned char c = s[k];
    if (c < 0x80) {
      switch (c) {
        case '&':
          out += "&amp;";
          break;
        case '<':
          out += "&lt;";
          break;
        case '>':
          out += "&gt;";
          break;
        case '"':
          out += "&quot;";
          break;
        case '\'':
          out += "&#39;";
          break;
        default:
          if (c < 0x20 && c != '\t') {
            out += kReplacement;  // not allowed in XML 1.0 (or not wanted in one line of text)
          } else {
            out.push_back(static_cast<char>(c));
          }
      }
      ++k;
      continue;
    }
    // A multi-byte UTF-8 sequence: copied when well formed (shortest form, no surrogates, at most
    // U+10FFFF, not U+FFFE/U+FFFF), else one U+FFFD per offending byte.
    size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 0;
    uint32_t cp = len == 4 ? c & 0x07u : len == 3 ? c & 0x0Fu : c & 0x1Fu;
    bool ok = len > 0 && k + len <= n;
    for (size_t j = 1; ok && j < len; ++j) {
      ok = (s[k + j] & 0xC0) == 0x80;
      cp = cp << 6 | (s[k + j] & 0x3Fu);
    }
    if (ok) {
      const uint32_t min = len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
      ok = cp >= min && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF) && cp != 0xFFFE &&
           cp != 0xFFFF;
    }
    if (ok) {
      out.append(text, k, len);
      k += len;
    } else {
      out += kReplacement;
      ++k;
    }
  }
  return out;
}

std::vector<double> NiceTicks(double lo, double hi, int target, bool integer_step) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) return {0.0, 1.0};
  if (lo > hi) std::swap(lo, hi);
  if (!(hi > lo)) {
    const double pad = integer_step ? 1.0 : (lo != 0 ? std::fabs(lo) * 0.05 : 0.5);
    lo = integer_step && lo >= 0 ? std::max(0.0, lo - pad) : lo - pad;  // epoch 0 -> [0, 1]
    hi += pad;
  }
  target = std::max(target, 2);
  const double raw = (hi - lo) / (target - 1);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double norm = raw / mag;
  double step = (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10) * mag;
  if (integer_step) step = std::max(step, 1.0);
  const double first = std::floor(lo / step + 1e-9);
  const double last = std::ceil(hi / step - 1e-9);
  std::vector<double> ticks;
  for (double k = first; k <= last && ticks.size() < 1000; k += 1) {
    double v = k * step;
    if (std::fabs(v) < step * 1e-9) v = 0;  // no "-0.00"
    ticks.push_back(v);
  }
  if (ticks.size() < 2) ticks.push_back(ticks.empty() ? 0 : ticks.back() + step);
  return ticks;
}

std::string RenderSvgLinePlot(const PlotSpec& spec) {
  const int width = std::max(spec.width, 320);
  const int height = std::max(spec.height, 240);
  // The frame (plot area) inside the margins: room for the title above, tick labels and the axis
  // labels left and below.
  const double left = 84, right = width - 24.0, top = 56, bottom = height - 62.0;
  const double inset = 10;  // points never sit on the frame itself

  double x_lo = HUGE_VAL, x_hi = -HUGE_VAL, y_lo = HUGE_VAL, y_hi = -HUGE_VAL;
  for (const PlotSeries& s : spec.series) {
    const size_t n = std::min(s.x.size(), s.y.size());
    for (size_t k = 0; k < n; ++k) {
      if (!std::isfinite(s.x[k]) || !std::isfinite(s.y[k])) continue;
      x_lo = std::min(x_lo, s.x[k]);
      x_hi = std::max(x_hi, s.x[k]);
      y_lo = std::min(y_lo, s.y[k]);
      y_hi = std::max(y_hi, s.y[k]);
    }
  }
  if (x_lo > x_hi) x_lo = 0, x_hi = 1, y_lo = 0, y_hi = 1;  // nothing to draw: an empty frame
  const std::vector<double> xt = NiceTicks(x_lo, x_hi, 8, spec.integer_x);
  const std::vector<double> yt = NiceTicks(y_lo, y_hi, 6, false);
  const Axis ax{xt.front(), xt.back(), left + inset, right - inset};
  const Axis ay{yt.front(), yt.back(), bottom - inset, top + inset};
  const double x_step = xt[1] - xt[0], y_step = yt[1] - yt[0];

  std::string o;
  o.reserve(8192);
  o += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  o += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + std::to_string(width) +
       "\" height=\"" + std::to_string(height) + "\" viewBox=\"0 0 " + std::to_string(width) + " " +
       std::to_string(height) +
       "\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" font-size=\"12\">\n";
  o += "<title>" + XmlEscape(spec.title) + "</title>\n";
  o += "<rect x=\"0\" y=\"0\" width=\"" + std::to_string(width) + "\" height=\"" +
       std::to_string(height) + "\" fill=\"#ffffff\"/>\n";
  o += "<text x=\"" + Num(width / 2.0) +
       "\" y=\"30\" text-anchor=\"middle\" font-size=\"16\" font-weight=\"bold\">" +
       XmlEscape(spec.title) + "</text>\n";

  // Grid and ticks.
  o += "<g stroke=\"#e0e0e0\" stroke-width=\"1\">\n";
  for (double v : xt) {
    o += "<line x1=\"" + Num(ax(v)) + "\" y1=\"" + Num(top) + "\" x2=\"" + Num(ax(v)) + "\" y2=\"" +
         Num(bottom) + "\"/>\n";
  }
  for (double v : yt) {
    o += "<line x1=\"" + Num(left) + "\" y1=\"" + Num(ay(v)) + "\" x2=\"" + Num(right) +
         "\" y2=\"" + Num(ay(v)) + "\"/>\n";
  }
  o += "</g>\n";
  o += "<rect x=\"" + Num(left) + "\" y=\"" + Num(top) + "\" width=\"" + Num(right - left) +
       "\" height=\"" + Num(bottom - top) + "\" fill=\"none\" stroke=\"#333333\"/>\n";
  o += "<g stroke=\"#333333\">\n";
  for (double v : xt) {
    o += "<line x1=\"" + Num(ax(v)) + "\" y1=\"" + Num(bottom) + "\" x2=\"" + Num(ax(v)) +
         "\" y2=\"" + Num(bottom + 5) + "\"/>\n";
  }
  for (double v : yt) {
    o += "<line x1=\"" + Num(left - 5) + "\" y1=\"" + Num(ay(v)) + "\" x2=\"" + Num(left) +
         "\" y2=\"" + Num(ay(v)) + "\"/>\n";
  }
  o += "</g>\n<g fill=\"#333333\">\n";
  for (double v : xt) {
    o += "<text x=\"" + Num(ax(v)) + "\" y=\"" + Num(bottom + 19) + "\" text-anchor=\"middle\">" +
         TickLabel(v, x_step) + "</text>\n";
  }
  for (double v : yt) {
    o += "<text x=\"" + Num(left - 8) + "\" y=\"" + Num(ay(v) + 4) + "\" text-anchor=\"end\">" +
         TickLabel(v, y_step) + "</text>\n";
  }
  o += "</g>\n";
  o += "<text x=\"" + Num((left + right) / 2) + "\" y=\"" + Num(height - 18.0) +
       "\" text-anchor=\"middle\" font-size=\"13\">" + XmlEscape(spec.x_label) + "</text>\n";
  const double yl_x = 22, yl_y = (top + bottom) / 2;
  o += "<text x=\"" + Num(yl_x) + "\" y=\"" + Num(yl_y) + "\" transform=\"rotate(-90 " + Num(yl_x) +
       " " + Num(yl_y) + ")\" text-anchor=\"middle\" font-size=\"13\">" + XmlEscape(spec.y_label) +
       "</text>\n";

  // The series: a line, then its markers on top.
  for (size_t s = 0; s < spec.series.size(); ++s) {
    const PlotSeries& series = spec.series[s];
    const std::string color = series.color.empty() ? kPalette[s % 4] : XmlEscape(series.color);
    o += "<g class=\"series\" data-name=\"" + XmlEscape(series.name) + "\">\n";
    // One polyline per run of finite points: a missing value is a gap, not a straight line.
    std::vector<std::pair<double, double>> xy, run;
    auto flush = [&]() {
      if (run.size() >= 2) {
        o += "<polyline fill=\"none\" stroke=\"" + color +
             "\" stroke-width=\"2\" stroke-linejoin=\"round\" points=\"";
        for (size_t k = 0; k < run.size(); ++k) {
          o += (k ? " " : "") + Num(run[k].first) + "," + Num(run[k].second);
        }
        o += "\"/>\n";
      }
      run.clear();
    };
    const size_t n = std::min(series.x.size(), series.y.size());
    for (size_t k = 0; k < n; ++k) {
      if (!std::isfinite(series.x[k]) || !std::isfinite(series.y[k])) {
        flush();
        continue;
      }
      xy.emplace_back(ax(series.x[k]), ay(series.y[k]));
      run.push_back(xy.back());
    }
    flush();
    for (const auto& p : xy) Marker(&o, static_cast<int>(s), p.first, p.second, color);
    o += "</g>\n";
  }

  // Legend, top right inside the frame.
  if (!spec.series.empty()) {
    size_t longest = 0;
    for (const PlotSeries& s : spec.series) longest = std::max(longest, s.name.size());
    const double box_w = std::min(right - left - 20, 48 + 7.5 * static_cast<double>(longest));
    const double box_h = 10 + 20.0 * static_cast<double>(spec.series.size());
    const double bx = right - 10 - box_w, by = top + 10;
    o += "<g class=\"legend\">\n<rect x=\"" + Num(bx) + "\" y=\"" + Num(by) + "\" width=\"" +
         Num(box_w) + "\" height=\"" + Num(box_h) +
         "\" fill=\"#ffffff\" fill-opacity=\"0.85\" stroke=\"#999999\"/>\n";
    for (size_t s = 0; s < spec.series.size(); ++s) {
      const std::string color =
          spec.series[s].color.empty() ? kPalette[s % 4] : XmlEscape(spec.series[s].color);
      const double ly = by + 15 + 20.0 * static_cast<double>(s);
      o += "<line x1=\"" + Num(bx + 8) + "\" y1=\"" + Num(ly) + "\" x2=\"" + Num(bx + 34) +
           "\" y2=\"" + Num(ly) + "\" stroke=\"" + color + "\" stroke-width=\"2\"/>\n";
      Marker(&o, static_cast<int>(s), bx + 21, ly, color);
      o += "<text x=\"" + Num(bx + 40) + "\" y=\"" + Num(ly + 4) + "\">" +
           XmlEscape(spec.series[s].name) + "</text>\n";
    }
    o += "</g>\n";
  }
  o += "</svg>\n";
  return o;
}

}  // namespace cfps
