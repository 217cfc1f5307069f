// cfps plot: the JSON lines of `cfps train --metrics-out` -> an SVG chart of train_loss and
// valid_mse per epoch (common/svg_plot.h draws it; this file parses, checks and writes).
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "common/file_util.h"
#include "common/log.h"
#include "common/status.h"
#include "common/svg_plot.h"
#include "launch/commands.h"

namespace cfps {

namespace {

constexpr const char kUsage[] =
    "cfps plot: draw train_loss and valid_mse per epoch from the --metrics-out file of cfps train\n"
    "as a standalone SVG (written atomically)\n\n"
    "usage: cfps plot --metrics FILE --out FILE.svg [--title TEXT]\n\n"
    "  --metrics FILE   JSON lines, one object per epoch (keys epoch, train_loss, valid_mse, ...)\n"
    "  --out FILE       the SVG to write\n"
    "  --title TEXT     the chart's title (default: 'train_loss and valid_mse per epoch')\n"
    "  -h, --help       show this help\n";

struct PlotArgs {
  std::string metrics, out, title = "train_loss and valid_mse per epoch";
};

// --name VALUE or --name=VALUE. Hand-rolled rather than Boost.Program_options: three options, and
// Boost 1.74's error messages never return for a value containing "%value%".
Status ParseArgs(int argc, const char* const* argv, PlotArgs* out, bool* help) {
  *help = false;
  for (int k = 1; k < argc; ++k) {
    std::string arg = argv[k];
    if (arg == "-h" || arg == "--help") {
      *help = true;
      return Status::OK();
    }
    std::string value;
    bool inline_value = false;
    const size_t eq = arg.find('=');
    if (arg.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg.resize(eq);
      inline_value = true;
    }
    std::string* target = arg == "--metrics" ? &out->metrics
                          : arg == "--out"   ? &out->out
                          : arg == "--title" ? &out->title
                                             : nullptr;
    if (target == nullptr) {
      return Status::InvalidArgument(arg.rfind('-', 0) == 0 ? "unknown option '" + arg + "'"
                                                            : "unexpected argument '" + arg + "'");
    }
    if (!inline_value) {
      if (k + 1 >= argc) return Status::InvalidArgument("option '" + arg + "' needs a value");
      value = argv[++k];
    }
    *target = value;
  }
  if (out->metrics.empty()) return Status::InvalidArgument("--metrics is required");
  if (out->out.empty()) return Status::InvalidArgument("--out is required");
  return Status::OK();
}

// A reader for one flat JSON object whose values are numbers, tolerant of what a hand-edited or
// diverged log holds: printf's nan/inf and JavaScript's NaN/Infinity, null (NaN), true/false (1/0)
// and string values (ignored). Nested objects and arrays are errors.
class FlatJsonParser {
 public:
  explicit FlatJsonParser(std::string_view text) : s_(text) {}

  // Fills *values; on failure sets *error (with the column) and returns false.
  bool Parse(std::map<std::string, double>* values, std::string* error) {
    values->clear();
    Skip();
    if (!Eat('{')) return Fail("expected '{'", error);
    Skip();
    if (Eat('}')) return End(error);
    for (;;) {
      std::string key;
      Skip();
      if (!String(&key)) return Fail("expected a quoted key", error);
      Skip();
      if (!Eat(':')) return Fail("expected ':' after \"" + key + "\"", error);
      Skip();
      double v = 0;
      std::string ignored;
      if (pos_ < s_.size() && s_[pos_] == '"') {
        if (!String(&ignored)) return Fail("unterminated string", error);
      } else if (!Number(&v)) {
        return Fail("expected a number for \"" + key + "\"", error);
      } else {
        (*values)[key] = v;
      }
      Skip();
      if (Eat(',')) continue;
      if (Eat('}')) return End(error);
      return Fail("expected ',' or '}'", error);
    }
  }

 private:
  void Skip() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\r')) ++pos_;
  }
  bool Eat(char c) {
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool Word(const char* w) {
    const size_t n = std::strlen(w);
    if (s_.substr(pos_, n) != w) return false;
    pos_ += n;
    return true;
  }
  bool End(std::string* error) {
    Skip();
    return pos_ == s_.size() || Fail("unexpected text after '}'", error);
  }
  bool Fail(const std::string& what, std::string* error) {
    *error = what + " at column " + std::to_string(pos_ + 1);
    return false;
  }

  // A JSON string; escapes are decoded (\uXXXX to '?' unless ASCII: keys are compared to ASCII).
  bool String(std::string* out) {
    if (!Eat('"')) return false;
    out->clear();
    while (pos_ < s_.size()) {
      char c = s_[pos_++];
      if (c == '"') return true;
      if (c != '\\') {
        out->push_back(c);
        continue;
      }
      if (pos_ >= s_.size()) return false;
      char e = s_[pos_++];
      switch (e) {
        case 'n':
          out->push_back('\n');
          break;
        case 't':
          out->push_back('\t');
          break;
        case 'r':
          out->push_back('\r');
          break;
        case 'b':
          out->push_back('\b');
          break;
        case 'f':
          out->push_back('\f');
          break;
        case 'u': {
          unsigned cp = 0;
          if (pos_ + 4 > s_.size()) return false;
          auto r = std::from_chars(s_.data() + pos_, s_.data() + pos_ + 4, cp, 16);
          if (r.ec != std::errc() || r.ptr != s_.data() + pos_ + 4) return false;
          pos_ += 4;
          out->push_back(cp < 0x80 ? static_cast<char>(cp) : '?');
          break;
        }
        default:
          out->push_back(e);
          break;  // \" \\ \/ and, tolerantly, anything else
      }
    }
    return false;
  }

  bool Number(double* v) {
    bool negative = false;
    const size_t start = pos_;
    if (Eat('-')) {
      negative = true;
    } else {
      Eat('+');
    }
    if (Word("NaN") || Word("nan") || Word("-nan")) {
      *v = std::nan("");
      return true;
    }
    if (Word("Infinity") || Word("inf") || Word("INF")) {
      *v = negative ? -HUGE_VAL : HUGE_VAL;
      return true;
    }
    if (pos_ == start) {
      const char* const kWords[] = {"null", "true", "false"};
      const double kValues[] = {std::nan(""), 1, 0};
      for (int w = 0; w < 3; ++w) {
        if (Word(kWords[w])) {
          *v = kValues[w];
          return true;
        }
      }
    }
    const char* begin = s_.data() + pos_;
    const char* end = s_.data() + s_.size();
    if (begin == end || !((*begin >= '0' && *begin <= '9') || *begin == '.')) return false;
    double x = 0;
    std::from_chars_result r = std::from_chars(begin, end, x);
    if (r.ec == std::errc::result_out_of_range) {
      x = HUGE_VAL;  // 1e999: as good as infinity for a chart (the point is left out)
    } else if (r.ec != std::errc()) {
      return false;
    }
    pos_ += static_cast<size_t>(r.ptr - begin);
    *v = negative ? -x : x;
    return true;
  }

  std::string_view s_;
  size_t pos_ = 0;
};

// Reads the epochs of a metrics file: x = epoch, y = train_loss and valid_mse (NaN when a line
// lacks one; the chart leaves such points out).
Status ReadMetrics(const std::string& path, PlotSeries* train, PlotSeries* valid) {
  std::string text;
  CFPS_RETURN_IF_ERROR(ReadFile(path, &text));
  size_t pos = 0;
  int64_t line_no = 0;
  std::map<std::string, double> values;
  std::string error;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    std::string_view line(text.data() + pos, nl - pos);
    pos = nl + 1;
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;  // blank
    const std::string where = path + ":" + std::to_string(line_no) + ": ";
    if (!FlatJsonParser(line).Parse(&values, &error)) {
      return Status::InvalidArgument(where + "malformed JSON line: " + error);
    }
    auto epoch = values.find("epoch");
    if (epoch == values.end() || !std::isfinite(epoch->second)) {
      return Status::InvalidArgument(where + "no numeric \"epoch\" key");
    }
    auto get = [&](const char* key) {
      auto it = values.find(key);
      return it == values.end() ? std::nan("") : it->second;
    };
    train->x.push_back(epoch->second);
    train->y.push_back(get("train_loss"));
    valid->x.push_back(epoch->second);
    valid->y.push_back(get("valid_mse"));
  }
  if (train->x.empty()) return Status::InvalidArgument("'" + path + "' holds no epochs");
  return Status::OK();
}

}  // namespace

int RunPlot(int argc, const char* const* argv) {
  SetLogProgram("cfps plot");
  PlotArgs args;
  bool help = false;
  Status s = ParseArgs(argc, argv, &args, &help);
  if (help) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (!s.ok()) {
    LogError(s.ToString() + " (see cfps plot --help)");
    return 2;
  }
  PlotSpec spec;
  spec.title = args.title;
  spec.x_label = "epoch";
  spec.y_label = "loss (MSE)";
  spec.integer_x = true;
  spec.series.resize(2);
  spec.series[0].name = "train_loss";
  spec.series[1].name = "valid_mse";
  s = ReadMetrics(args.metrics, &spec.series[0], &spec.series[1]);
  if (s.ok()) s = WriteFileAtomic(args.out, RenderSvgLinePlot(spec));
  if (!s.ok()) {
    LogError(s.ToString());
    return 1;
  }
  std::fprintf(stderr, "cfps plot: wrote %zu epochs to %s\n", spec.series[0].x.size(),
               args.out.c_str());
  return 0;
}

}  // namespace cfps
