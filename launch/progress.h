#pragma once
// Progress within an epoch, printed by rank 0 on stderr (README.md, "Progress"):
//
//   bar    one line redrawn in place (\r) at most 10 times a second, like fastai's:
//          epoch 0 |######----------|  34% 512/1563 [00:03<00:06, 4.53e+06 ratings/s, loss 1.0234]
//          and erased before the epoch's table line.
//   lines  a plain line at every 10% of the epoch (and at least once a minute), for logs:
//          epoch 0  30%  469/1563 steps  00:02<00:05  2.12e+06 ratings/s  loss 1.0345
//   auto   bar when stderr is a terminal; otherwise lines, but only for an epoch that is going to
//          take 5 s or more (short epochs print just the table). Under mpirun the ranks' stderr
//          is a pipe, so auto gives lines there; --progress bar forces the bar.
//   none   nothing.
//
// The loss is the mean squared error over the epoch's training ratings so far, at the parameters
// each batch saw (what the epoch table reports as train_loss at the end). It is updated when the
// ranks agree on stop requests (every 16 steps): each worker's sum of squared errors rides on that
// reduction, so the display costs no extra communication.

#include <cstdint>
#include <cstdio>
#include <string>

#include "common/status.h"

namespace cfps {

enum class ProgressMode { kAuto, kBar, kLines, kNone };

// "auto", "bar", "lines", "none"; anything else is InvalidArgument naming --progress.
Status ParseProgressMode(const std::string& name, ProgressMode* out);

// What one progress line shows.
struct ProgressSnapshot {
  int epoch = 0;
  int64_t step = 0;        // steps done in this epoch
  int64_t steps = 0;       // steps in the epoch
  int64_t first_step = 0;  // steps of the epoch done before this run (a resume mid-epoch)
  double elapsed = 0;      // seconds since this run started the epoch
  double ratings_per_s = 0;
  double loss = -1;  // < 0: not known yet
};

// The text of one progress line (no \r, no newline). `bar` chooses the bar layout, `utf8` its
// block characters; `lines` layout otherwise.
std::string FormatProgress(const ProgressSnapshot& s, bool bar, bool utf8);

// Seconds as fastai prints them: "mm:ss", or "h:mm:ss" from an hour; "--:--" when not finite or
// negative (an estimate not known yet).
std::string FormatDuration(double seconds);

class Progress {
 public:
  // `tty`: whether `out` is a terminal (decides auto). steps_per_epoch, batch_size and
  // train_ratings give the ratings done after each step.
  Progress(ProgressMode mode, bool tty, std::FILE* out, int64_t steps_per_epoch, int64_t batch_size,
           int64_t train_ratings);

  bool enabled() const { return mode_ != ProgressMode::kNone; }
  // The time the next epoch's training starts (before Train, and after each epoch line).
  void MarkStart(double now);
  // After global step `global_step` (1-based) at time `now`. `sse` >= 0 updates the running
  // loss: the sum of squared errors of all workers over the epoch's ratings trained up to this
  // step (by this run); < 0 keeps the last one.
  void Step(int64_t global_step, double now, double sse = -1);
  // Before the epoch's table line: erases the bar.
  void EndEpoch();

 private:
  int64_t RatingsUpTo(int64_t step_in_epoch) const;
  void Emit(double now);

  ProgressMode mode_;  // kBar, kLines (auto resolved), kNone
  bool auto_lines_;    // lines chosen by auto: only for epochs of 5 s or more
  bool utf8_;
  std::FILE* out_;
  int64_t steps_per_epoch_, batch_size_, train_ratings_;

  double mark_ = 0;
  int epoch_ = -1;
  int64_t first_ = 0;  // in-epoch step this run started the epoch at
  int64_t step_ = 0;   // in-epoch steps done
  double start_ = 0;
  double last_emit_ = 0;
  int last_decile_ = 0;
  bool drawn_ = false;  // a bar is on the screen
  double loss_ = -1;
};

}  // namespace cfps
