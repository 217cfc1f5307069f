#include "launch/progress.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "common/log.h"

namespace cfps {

namespace {

// An epoch shorter than this prints no progress under --progress auto without a terminal.
constexpr double kAutoLinesSeconds = 5.0;
// lines: at least one line this often, however long 10% of an epoch takes.
constexpr double kMaxLineGap = 60.0;
// bar: redrawn at most this often.
constexpr double kBarRedraw = 0.1;
constexpr int kBarWidth = 20;

bool LocaleIsUtf8() {
  for (const char* name : {"LC_ALL", "LC_CTYPE", "LANG"}) {
    const char* v = std::getenv(name);
    if (v == nullptr || *v == '\0') continue;
    std::string s(v);
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s.find("utf-8") != std::string::npos || s.find("utf8") != std::string::npos;
  }
  return false;
}

}  // namespace

std::string FormatDuration(double seconds) {
  if (!(seconds >= 0) || !std::isfinite(seconds)) return "--:--";
  const long s = std::lround(seconds);
  char buf[32];
  if (s >= 3600) {
    std::snprintf(buf, sizeof(buf), "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
  } else {
    std::snprintf(buf, sizeof(buf), "%02ld:%02ld", s / 60, s % 60);
  }
  return buf;
}

Status ParseProgressMode(const std::string& name, ProgressMode* out) {
  if (name == "auto") {
    *out = ProgressMode::kAuto;
  } else if (name == "bar") {
    *out = ProgressMode::kBar;
  } else if (name == "lines") {
    *out = ProgressMode::kLines;
  } else if (name == "none") {
    *out = ProgressMode::kNone;
  } else {
    return Status::InvalidArgument("--progress must be one of auto, bar, lines, none; got '" +
                                   name + "'");
  }
  return Status::OK();
}

std::string FormatProgress(const ProgressSnapshot& s, bool bar, bool utf8) {
  const int64_t steps = std::max<int64_t>(s.steps, 1);
  const double fraction = std::min(1.0, static_cast<double>(s.step) / static_cast<double>(steps));
  const int64_t done_here = s.step - s.first_step;
  const double left = done_here > 0 ? s.elapsed * static_cast<double>(s.steps - s.step) /
                                          static_cast<double>(done_here)
                                    : -1;
  char rate[32], loss[32], pct[16];
  std::snprintf(rate, sizeof(rate), "%.3g", s.ratings_per_s);
  if (s.loss >= 0) {
    std::snprintf(loss, sizeof(loss), "%.4f", s.loss);
  } else {
    std::snprintf(loss, sizeof(loss), "-");
  }
  std::snprintf(pct, sizeof(pct), "%3d%%", static_cast<int>(fraction * 100.0));
  const std::string count = std::to_string(s.step) + "/" + std::to_string(s.steps);
  std::string out = "epoch " + std::to_string(s.epoch) + " ";
  if (bar) {
    const int filled = static_cast<int>(fraction * kBarWidth);
    out += "|";
    for (int k = 0; k < kBarWidth; ++k) {
      if (k < filled) {
        out += utf8 ? "\u2588" : "#";
      } else {
        out += "-";
      }
    }
    out += "| " + std::string(pct) + " " + count + " [" + FormatDuration(s.elapsed) + "<" +
           FormatDuration(left) + ", " + rate + " ratings/s, loss " + loss + "]";
  } else {
    out += std::string(pct) + "  " + count + " steps  " + FormatDuration(s.elapsed) + "<" +
           FormatDuration(left) + "  " + rate + " ratings/s  loss " + loss;
  }
  return out;
}

Progress::Progress(ProgressMode mode, bool tty, std::FILE* out, int64_t steps_per_epoch,
                   int64_t batch_size, int64_t train_ratings)
    : mode_(mode),
      auto_lines_(false),
      utf8_(LocaleIsUtf8()),
      out_(out),
      steps_per_epoch_(std::max<int64_t>(steps_per_epoch, 1)),
      batch_size_(batch_size),
      train_ratings_(train_ratings) {
  if (mode_ == ProgressMode::kAuto) {
    mode_ = tty ? ProgressMode::kBar : ProgressMode::kLines;
    auto_lines_ = !tty;
  }
}

void Progress::MarkStart(double now) { mark_ = now; }

int64_t Progress::RatingsUpTo(int64_t step_in_epoch) const {
  return std::min(train_ratings_, step_in_epoch * batch_size_);
}

void Progress::Step(int64_t global_step, double now, double sse) {
  if (mode_ == ProgressMode::kNone) return;
  const int epoch = static_cast<int>((global_step - 1) / steps_per_epoch_);
  const int64_t in_epoch = global_step - static_cast<int64_t>(epoch) * steps_per_epoch_;
  if (epoch != epoch_) {
    epoch_ = epoch;
    first_ = in_epoch - 1;
    start_ = mark_;
    last_emit_ = mark_;
    last_decile_ = static_cast<int>(first_ * 10 / steps_per_epoch_);
    loss_ = -1;
    drawn_ = false;
  }
  step_ = in_epoch;
  if (sse >= 0) {
    const int64_t ratings = RatingsUpTo(in_epoch) - RatingsUpTo(first_);
    loss_ = ratings > 0 ? sse / static_cast<double>(ratings) : -1;
  }
  const bool last = in_epoch == steps_per_epoch_;
  if (mode_ == ProgressMode::kBar) {
    if (last || now - last_emit_ >= kBarRedraw || !drawn_) Emit(now);
    return;
  }
  const int decile = static_cast<int>(in_epoch * 10 / steps_per_epoch_);
  bool due = (decile > last_decile_ && decile < 10) || (!last && now - last_emit_ >= kMaxLineGap);
  last_decile_ = decile;
  if (due && auto_lines_) {
    // Projected length of the epoch from its pace so far.
    const double elapsed = now - start_;
    const double projected = elapsed * static_cast<double>(steps_per_epoch_ - first_) /
                             static_cast<double>(std::max<int64_t>(in_epoch - first_, 1));
    due = projected >= kAutoLinesSeconds;
  }
  if (due) Emit(now);
}

void Progress::Emit(double now) {
  ProgressSnapshot s;
  s.epoch = epoch_;
  s.step = step_;
  s.steps = steps_per_epoch_;
  s.first_step = first_;
  s.elapsed = std::max(0.0, now - start_);
  const double ratings = static_cast<double>(RatingsUpTo(step_) - RatingsUpTo(first_));
  s.ratings_per_s = s.elapsed > 0 ? ratings / s.elapsed : 0.0;
  s.loss = loss_;
  last_emit_ = now;
  std::string text;
  if (mode_ == ProgressMode::kBar) {
    text = "\r" + FormatProgress(s, true, utf8_) + "\033[K";
    drawn_ = true;
  } else {
    text = LogPrefix() + ": " + FormatProgress(s, false, false) + "\n";
  }
  std::fputs(text.c_str(), out_);
  std::fflush(out_);
}

void Progress::EndEpoch() {
  if (!drawn_) return;
  std::fputs("\r\033[K", out_);
  std::fflush(out_);
  drawn_ = false;
}

}  // namespace cfps
