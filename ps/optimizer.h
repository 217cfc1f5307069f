#pragma once
// Row optimizers, run on the shard that owns the rows. Only the rows of the batch are updated
// ("lazy"): other rows keep their values and state. All arithmetic on a row happens in float, in
// the order written below; the step's scalars are formed in double and rounded to float once.
//
// adam (fastai's Adam; decoupled weight decay, applied to the touched rows only):
//   p *= float(1 - lr*wd)
//   m = m*b1; m += float(1-b1)*g            (b1 = momentum from the schedule)
//   v = v*b2; v += float(1-b2)*g*g          (b2 = 0.99)
//   p += float(-lr/bc1) * m / (sqrt(v / float(bc2)) + eps)       eps = 1e-5
//   bc1 = 1 - b1^t, bc2 = 1 - b2^t with t the *global* step (1-based), computed in double as
//   (1-b)*(1-b^t)/(1-b) with b^t = pow(b, t).   State per row: m[k+1] then v[k+1].
// sgd (coupled L2 = wd, added once per touched row): g' = g + wd*p; p = p - lr*g'.  No state.
// adagrad (row-wise, as LIBMF; coupled L2 = wd):
//   g' = g + wd*p; G += mean over the k+1 components of g'^2; p -= lr * g' / sqrt(G + eps),
//   eps = 1e-8, G starts at 0.  State per row: G (one float).
//   In float: G = G + S * float(1/(k+1)), where S sums g'[c]^2 in eight lanes as the dot product
//   of worker/kernels.h (lane c % 8 in increasing c, then ((l0+l4)+(l2+l6))+((l1+l5)+(l3+l7)));
//   then p[c] = p[c] - (lr * g'[c]) / sqrt(G + eps), with the G after this step's term.
// Each element's operations are IEEE single-precision in exactly this order (the SIMD loops do
// per lane what the scalar formula does), so UpdateRow is deterministic. sgd and adagrad take
// lr as step_size and ignore mom and t.

#include <cstdint>
#include <string>

#include "common/status.h"

namespace cfps {

enum class OptimizerKind { kAdam, kSgd, kAdagrad };

Status ParseOptimizerKind(const std::string& name, OptimizerKind* out);
const char* OptimizerName(OptimizerKind kind);

struct OptimizerConfig {
  OptimizerKind kind = OptimizerKind::kAdam;
  double wd = 0.1;
  double beta2 = 0.99;
  double adam_eps = 1e-5;
  double adagrad_eps = 1e-8;
};

// Number of state floats per row of width k+1.
int StateFloatsPerRow(OptimizerKind kind, int width);

// The per-step scalars, prepared once per step and shared by every row.
struct PreparedStep {
  OptimizerKind kind;
  int width;    // k + 1
  float decay;  // adam: float(1 - lr*wd)
  float b1, one_minus_b1, b2, one_minus_b2;
  float step_size;  // adam: float(-lr/bc1); sgd/adagrad: float(lr)
  float bc2;        // adam: float(bc2)
  float eps;
  float wd;         // sgd/adagrad: coupled L2
  float inv_width;  // adagrad: float(1/(k+1))
};

// lr and mom for this step (from the schedule) and t = global step, 1-based.
PreparedStep PrepareStep(const OptimizerConfig& config, int width, double lr, double mom,
                         int64_t t);

// Updates one row in place. row: width floats; state: StateFloatsPerRow floats (may be null for
// sgd); grad: width. The three must not overlap.
void UpdateRow(const PreparedStep& step, const float* grad, float* row, float* state);

}  // namespace cfps
