// Row optimizers (contract and float operation order: ps/optimizer.h).
//
// Each update is one or two passes over the row written as plain element-wise loops, which GCC -O3
// vectorizes for baseline SSE2 (mulps/addps/divps/sqrtps) without changing any rounding: every
// element sees exactly the scalar sequence of operations. The only reduction (Adagrad's mean
// square) uses a fixed lane order, so it vectorizes without -ffast-math as well.

#include "ps/optimizer.h"

#include <cmath>

#include "common/simd.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace cfps {
namespace {

constexpr int kSumLanes = 8;

// Inlined into each clone of UpdateRow (common/simd.h), so that the AVX2 clone vectorizes them too.
#if defined(__GNUC__)
#define CFPS_INLINE inline __attribute__((always_inline))
#else
#define CFPS_INLINE inline
#endif

// sum_c x[c]^2 in the fixed order of ps/optimizer.h: lane l accumulates the c with c % 8 == l in
// increasing c, then ((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7)), as the dot product in worker/kernels.h.
// x[c] = g[c] + wd * p[c] is recomputed here rather than stored: no scratch buffer.
CFPS_INLINE float SumSquaresOfL2Grad(const float* __restrict g, const float* __restrict p, float wd,
                                     int width) {
  float acc[kSumLanes] = {};
  int c = 0;
  for (; c + kSumLanes <= width; c += kSumLanes) {
    for (int l = 0; l < kSumLanes; ++l) {
      const float x = g[c + l] + wd * p[c + l];
      acc[l] += x * x;
    }
  }
  for (int l = 0; c + l < width; ++l) {
    const float x = g[c + l] + wd * p[c + l];
    acc[l] += x * x;
  }
  const float s0 = acc[0] + acc[4], s1 = acc[1] + acc[5], s2 = acc[2] + acc[6],
              s3 = acc[3] + acc[7];
  return (s0 + s2) + (s1 + s3);
}

// One Adam element, in the order of ps/optimizer.h: the reference for the SSE loop below.
CFPS_INLINE void AdamElement(const PreparedStep& s, float g, float* p, float* m, float* v) {
  const float pc = *p * s.decay;
  float mc = *m * s.b1;
  mc += s.one_minus_b1 * g;
  float vc = *v * s.b2;
  vc += s.one_minus_b2 * g * g;
  const float denom = std::sqrt(vc / s.bc2) + s.eps;
  *p = pc + s.step_size * mc / denom;
  *m = mc;
  *v = vc;
}

CFPS_INLINE void UpdateAdam(const PreparedStep& s, const float* __restrict g, float* __restrict p,
                            float* __restrict m, float* __restrict v) {
  // A plain element-wise loop: with -fno-math-errno GCC vectorizes it (sqrt included) for the
  // baseline (SSE2, 4 lanes) and in the AVX2 clone of UpdateRow (8 lanes); every lane performs
  // AdamElement's IEEE single-precision operations in its order, so every clone gives its bits.
  for (int c = 0; c < s.width; ++c) AdamElement(s, g[c], p + c, m + c, v + c);
}

CFPS_INLINE void UpdateSgd(const PreparedStep& s, const float* __restrict g, float* __restrict p) {
  const float lr = s.step_size, wd = s.wd;
  for (int c = 0; c < s.width; ++c) {
    const float gp = g[c] + wd * p[c];
    p[c] = p[c] - lr * gp;
  }
}

CFPS_INLINE void UpdateAdagrad(const PreparedStep& s, const float* __restrict g,
                               float* __restrict p, float* __restrict accumulator) {
  const float wd = s.wd, lr = s.step_size;
  const float big_g = *accumulator + SumSquaresOfL2Grad(g, p, wd, s.width) * s.inv_width;
  *accumulator = big_g;
  const float denom = std::sqrt(big_g + s.eps);
  for (int c = 0; c < s.width; ++c) {
    const float gp = g[c] + wd * p[c];
    p[c] = p[c] - lr * gp / denom;
  }
}

}  // namespace

Status ParseOptimizerKind(const std::string& name, OptimizerKind* out) {
  if (name == "adam") {
    *out = OptimizerKind::kAdam;
  } else if (name == "sgd") {
    *out = OptimizerKind::kSgd;
  } else if (name == "adagrad") {
    *out = OptimizerKind::kAdagrad;
  } else {
    return Status::InvalidArgument("--optimizer: unknown optimizer '" + name +
                                   "' (expected adam, sgd or adagrad)");
  }
  return Status::OK();
}

const char* OptimizerName(OptimizerKind kind) {
  switch (kind) {
    case OptimizerKind::kAdam:
      return "adam";
    case OptimizerKind::kSgd:
      return "sgd";
    case OptimizerKind::kAdagrad:
      return "adagrad";
  }
  return "unknown";
}

int StateFloatsPerRow(OptimizerKind kind, int width) {
  switch (kind) {
    case OptimizerKind::kAdam:
      return 2 * width;  // m[0..width), then v[0..width)
    case OptimizerKind::kSgd:
      return 0;
    case OptimizerKind::kAdagrad:
      return 1;  // G, shared by the factors and the bias
  }
  return 0;
}

PreparedStep PrepareStep(const OptimizerConfig& config, int width, double lr, double mom,
                         int64_t t) {
  CFPS_CHECK_GE(width, 1);
  PreparedStep s{};
  s.kind = config.kind;
  s.width = width;
  s.wd = static_cast<float>(config.wd);
  s.inv_width = static_cast<float>(1.0 / width);
  switch (config.kind) {
    case OptimizerKind::kAdam: {
      CFPS_CHECK_GE(t, 1);
      const double b1 = mom, b2 = config.beta2;
      const double tt = static_cast<double>(t);
      // fastai's debias(): (1-b)*(1-b^t)/(1-b), mathematically 1-b^t.
      const double bc1 = (1.0 - b1) * (1.0 - std::pow(b1, tt)) / (1.0 - b1);
      const double bc2 = (1.0 - b2) * (1.0 - std::pow(b2, tt)) / (1.0 - b2);
      s.decay = static_cast<float>(1.0 - lr * config.wd);
      s.b1 = static_cast<float>(b1);
      s.one_minus_b1 = static_cast<float>(1.0 - b1);
      s.b2 = static_cast<float>(b2);
      s.one_minus_b2 = static_cast<float>(1.0 - b2);
      s.step_size = static_cast<float>(-lr / bc1);
      s.bc2 = static_cast<float>(bc2);
      s.eps = static_cast<float>(config.adam_eps);
      break;
    }
    case OptimizerKind::kSgd:
      s.step_size = static_cast<float>(lr);
      break;
    case OptimizerKind::kAdagrad:
      s.step_size = static_cast<float>(lr);
      s.eps = static_cast<float>(config.adagrad_eps);
      break;
  }
  return s;
}

CFPS_SIMD_CLONES
void UpdateRow(const PreparedStep& step, const float* grad, float* row, float* state) {
  switch (step.kind) {
    case OptimizerKind::kAdam:
      UpdateAdam(step, grad, row, state, state + step.width);
      return;
    case OptimizerKind::kSgd:
      UpdateSgd(step, grad, row);
      return;
    case OptimizerKind::kAdagrad:
      UpdateAdagrad(step, grad, row, state);
      return;
  }
}

}  // namespace cfps
