#include "common/svg_plot.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

namespace cfps {
namespace {

// A small XML well-formedness check: one root, every tag closed in order, attributes quoted, no
// stray '<' or '&' in text. Returns "" or what is wrong.
std::string CheckXml(const std::string& doc) {
  std::vector<std::string> stack;
  size_t pos = 0;
  int roots = 0;
  if (doc.rfind("<?xml", 0) == 0) pos = doc.find("?>") + 2;
  while (pos < doc.size()) {
    size_t lt = doc.find('<', pos);
    std::string text = doc.substr(pos, lt == std::string::npos ? std::string::npos : lt - pos);
    for (size_t amp = text.find('&'); amp != std::string::npos; amp = text.find('&', amp + 1)) {
      size_t semi = text.find(';', amp);
      if (semi == std::string::npos || semi - amp > 8) return "bare '&' in text: " + text;
    }
    if (lt == std::string::npos) break;
    if (stack.empty() && text.find_first_not_of(" \n") != std::string::npos) {
      return "text outside the root";
    }
    size_t gt = doc.find('>', lt);
    if (gt == std::string::npos) return "unterminated tag";
    std::string tag = doc.substr(lt + 1, gt - lt - 1);
    if (tag.find('<') != std::string::npos) return "'<' inside a tag: " + tag;
    pos = gt + 1;
    if (tag[0] == '/') {
      if (stack.empty() || stack.back() != tag.substr(1)) return "mismatched </" + tag + ">";
      stack.pop_back();
      continue;
    }
    bool self_closing = tag.back() == '/';
    if (self_closing) tag.pop_back();
    std::string name = tag.substr(0, tag.find_first_of(" \n"));
    // Attributes: name="value" pairs, values without '<' (checked above) or raw '"'.
    size_t a = name.size();
    while (a < tag.size()) {
      while (a < tag.size() && (tag[a] == ' ' || tag[a] == '\n')) ++a;
      if (a >= tag.size()) break;
      size_t eq = tag.find('=', a);
      if (eq == std::string::npos || eq + 1 >= tag.size() || tag[eq + 1] != '"') {
        return "unquoted attribute in <" + tag + ">";
      }
      size_t close = tag.find('"', eq + 2);
      if (close == std::string::npos) return "unterminated attribute in <" + tag + ">";
      a = close + 1;
    }
    if (stack.empty()) ++roots;
    if (!self_closing) stack.push_back(name);
  }
  if (!stack.empty()) return "unclosed <" + stack.back() + ">";
  if (roots != 1) return "expected one root element, got " + std::to_string(roots);
  return "";
}

int Count(const std::string& s, const std::string& what) {
  int n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

// Every number in the coordinate attributes (x, y, x1, ..., cx, cy, points), as (value, is_x).
std::vector<std::pair<double, bool>> Coordinates(const std::string& doc) {
  std::vector<std::pair<double, bool>> out;
  const char* const kX[] = {" x=\"", " x1=\"", " x2=\"", " cx=\""};
  const char* const kY[] = {" y=\"", " y1=\"", " y2=\"", " cy=\""};
  for (int axis = 0; axis < 2; ++axis) {
    for (const char* attr : axis == 0 ? kX : kY) {
      const std::string a = attr;
      for (size_t p = doc.find(a); p != std::string::npos; p = doc.find(a, p + 1)) {
        out.emplace_back(std::strtod(doc.c_str() + p + a.size(), nullptr), axis == 0);
      }
    }
  }
  const std::string pts = " points=\"";
  for (size_t p = doc.find(pts); p != std::string::npos; p = doc.find(pts, p + 1)) {
    size_t end = doc.find('"', p + pts.size());
    std::string list = doc.substr(p + pts.size(), end - p - pts.size());
    const char* c = list.c_str();
    bool is_x = true;
    while (*c) {
      char* next = nullptr;
      double v = std::strtod(c, &next);
      if (next == c) {
        ++c;
        continue;
      }
      out.emplace_back(v, is_x);
      is_x = !is_x;
      c = next;
    }
  }
  return out;
}

PlotSpec LossSpec() {
  PlotSpec spec;
  spec.title = "loss";
  spec.x_label = "epoch";
  spec.y_label = "loss (MSE)";
  spec.integer_x = true;
  spec.series.resize(2);
  spec.series[0].name = "train_loss";
  spec.series[0].x = {0, 1, 2, 3, 4};
  spec.series[0].y = {1.548906, 0.91, 0.83, 0.74, 0.66};
  spec.series[1].name = "valid_mse";
  spec.series[1].x = {0, 1, 2, 3, 4};
  spec.series[1].y = {0.988725, 0.90, 0.86, 0.83, 0.82};
  return spec;
}

TEST(SvgPlotTest, WellFormedWithBothSeries) {
  const std::string svg = RenderSvgLinePlot(LossSpec());
  EXPECT_EQ(CheckXml(svg), "");
  EXPECT_EQ(svg.rfind("<?xml", 0), 0u);
  EXPECT_NE(svg.find("viewBox=\"0 0 720 440\""), std::string::npos);
  EXPECT_EQ(svg.substr(svg.size() - 7), "</svg>\n");
  EXPECT_EQ(Count(svg, "<polyline"), 2);
  EXPECT_EQ(Count(svg, "data-name=\"train_loss\""), 1);
  EXPECT_EQ(Count(svg, "data-name=\"valid_mse\""), 1);
  EXPECT_EQ(Count(svg, ">train_loss</text>"), 1);  // legend
  EXPECT_EQ(Count(svg, ">valid_mse</text>"), 1);
  EXPECT_EQ(Count(svg, "<circle"), 5 + 1);  // train markers + its legend marker
  EXPECT_NE(svg.find(">epoch</text>"), std::string::npos);
  EXPECT_NE(svg.find(">loss (MSE)</text>"), std::string::npos);
  // Ticks label the axes: epochs 0..4 as integers, losses with one decimal.
  for (const char* label : {">0</text>", ">4</text>", ">1.6</text>"}) {
    EXPECT_NE(svg.find(label), std::string::npos) << label;
  }
}

TEST(SvgPlotTest, CoordinatesStayInsideTheViewBox) {
  for (int size : {0, 1, 2, 5, 100}) {
    PlotSpec spec = LossSpec();
    spec.width = 500;
    spec.height = 300;
    for (PlotSeries& s : spec.series) {
      s.x.clear();
      s.y.clear();
      for (int k = 0; k < size; ++k) {
        s.x.push_back(k);
        s.y.push_back(k % 3 == 0 ? 1e6 : -0.5 * k);
      }
    }
    const std::string svg = RenderSvgLinePlot(spec);
    ASSERT_EQ(CheckXml(svg), "") << "size " << size;
    const auto coords = Coordinates(svg);
    ASSERT_GT(coords.size(), 10u);
    for (const auto& [v, is_x] : coords) {
      EXPECT_TRUE(std::isfinite(v));
      EXPECT_GE(v, 0) << "size " << size;
      EXPECT_LE(v, is_x ? 500 : 300) << "size " << size;
    }
  }
}

TEST(SvgPlotTest, PointsFollowTheData) {
  const std::string svg = RenderSvgLinePlot(LossSpec());
  // The first polyline is train_loss: x grows, y (pixels, downwards) grows as the loss falls.
  size_t p = svg.find(" points=\"");
  ASSERT_NE(p, std::string::npos);
  std::string first = svg.substr(p, svg.find('"', p + 9) - p + 1);
  auto coords = Coordinates("<a" + first + "/>");
  ASSERT_EQ(coords.size(), 10u);
  for (size_t k = 2; k < coords.size(); k += 2) {
    EXPECT_GT(coords[k].first, coords[k - 2].first);      // x increasing
    EXPECT_GT(coords[k + 1].first, coords[k - 1].first);  // loss decreasing
  }
}

TEST(SvgPlotTest, EscapesTheTitleAndNames) {
  PlotSpec spec = LossSpec();
  spec.title = "a<b & \"c\" 'd' </svg>";
  spec.series[0].name = "train<1>";
  const std::string svg = RenderSvgLinePlot(spec);
  EXPECT_EQ(CheckXml(svg), "");
  EXPECT_NE(svg.find("a&lt;b &amp; &quot;c&quot; &#39;d&#39; &lt;/svg&gt;"), std::string::npos);
  EXPECT_EQ(svg.find("a<b"), std::string::npos);
  EXPECT_NE(svg.find("train&lt;1&gt;"), std::string::npos);
  EXPECT_EQ(Count(svg, "</svg>"), 1);
}

TEST(SvgPlotTest, XmlEscapeKeepsUtf8AndReplacesWhatXmlCannotHold) {
  EXPECT_EQ(XmlEscape("caf\xC3\xA9 \xE2\x86\x92 \xF0\x9F\x93\x88"),
            "caf\xC3\xA9 \xE2\x86\x92 \xF0\x9F\x93\x88");
  const std::string fffd = "\xEF\xBF\xBD";
  EXPECT_EQ(XmlEscape("a\x01"
                      "b"),
            "a" + fffd + "b");                               // control character
  EXPECT_EQ(XmlEscape("a\nb\tc"), "a" + fffd + "b\tc");      // a title is one line
  EXPECT_EQ(XmlEscape("\xFF"), fffd);                        // not UTF-8
  EXPECT_EQ(XmlEscape("\xC3"), fffd);                        // truncated sequence
  EXPECT_EQ(XmlEscape("\xC0\xAF"), fffd + fffd);             // overlong '/'
  EXPECT_EQ(XmlEscape("\xED\xA0\x80"), fffd + fffd + fffd);  // a surrogate
  EXPECT_EQ(XmlEscape("\xEF\xBF\xBF"), fffd + fffd + fffd);  // U+FFFF
}

TEST(SvgPlotTest, OnePointAndNonFinitePoints) {
  PlotSpec spec = LossSpec();
  spec.series[0].x = {0};
  spec.series[0].y = {1.5};
  spec.series[1].x = {0, 1, 2};
  spec.series[1].y = {NAN, INFINITY, 0.9};
  const std::string svg = RenderSvgLinePlot(spec);
  EXPECT_EQ(CheckXml(svg), "");
  EXPECT_EQ(Count(svg, "<polyline"), 0);  // one drawable point each: markers only
  EXPECT_EQ(Count(svg, "<circle"), 1 + 1);
  EXPECT_EQ(svg.find("nan"), std::string::npos);
  EXPECT_EQ(svg.find("inf"), std::string::npos);
  // A missing value in the middle breaks the line in two.
  spec.series[1].x = {0, 1, 2, 3, 4};
  spec.series[1].y = {1.0, 0.9, NAN, 0.8, 0.7};
  EXPECT_EQ(Count(RenderSvgLinePlot(spec), "<polyline"), 2);
  // Nothing at all still gives an empty, valid frame.
  spec.series.clear();
  EXPECT_EQ(CheckXml(RenderSvgLinePlot(spec)), "");
}

TEST(SvgPlotTest, NiceTicks) {
  EXPECT_EQ(NiceTicks(0, 7, 8, true), (std::vector<double>{0, 1, 2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(NiceTicks(0, 49, 8, true).back(), 50);
  EXPECT_EQ(NiceTicks(0, 2, 8, true), (std::vector<double>{0, 1, 2}));  // no half epochs
  std::vector<double> t = NiceTicks(0.559435, 1.474294, 6, false);
  ASSERT_GE(t.size(), 2u);
  EXPECT_LE(t.front(), 0.559435);
  EXPECT_GE(t.back(), 1.474294);
  EXPECT_NEAR(t[1] - t[0], 0.2, 1e-12);
  EXPECT_LE(t.size(), 8u);
  // A flat series is widened around its value; an empty or broken range gives something sane.
  t = NiceTicks(0.8, 0.8, 6, false);
  EXPECT_LT(t.front(), 0.8);
  EXPECT_GT(t.back(), 0.8);
  EXPECT_EQ(NiceTicks(0, 0, 8, true), (std::vector<double>{0, 1}));  // one epoch: no epoch -1
  t = NiceTicks(3, 3, 8, true);
  EXPECT_LT(t.front(), 3);
  EXPECT_GT(t.back(), 3);
  EXPECT_EQ(NiceTicks(NAN, 1, 6, false), (std::vector<double>{0, 1}));
  // No "-0": the label of zero is "0".
  for (double v : NiceTicks(-1, 1, 6, false)) EXPECT_FALSE(v == 0 && std::signbit(v));
}

}  // namespace
}  // namespace cfps
