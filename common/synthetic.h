#pragma once
// Synthetic ratings for demos, tests and scale runs (`cfps gen`): a planted low-rank model plus
// noise, with MovieLens-like shapes.
//
// The model: user and item factors ~ N(0, s^2) with s chosen so that dot(P[u], Q[i]) has a
// standard deviation of about 0.7, user biases ~ N(0, 0.3^2), item biases ~ N(0, 0.4^2), global
// mean 3.5 (signal std about 0.86, like MovieLens);
//   rating(u, i) = clamp(round(3.5 + bu + bi + dot(P[u], Q[i]) + noise * N(0, 1)), 1, 5).
// Which (user, item) pairs are rated: item popularity is Zipf(item_zipf) over a seeded random
// permutation of the items, user activity Zipf(user_zipf) over one of the users; pairs are drawn
// with weight p(user) * p(item) without replacement (no pair twice). When ratings >= users + items,
// every item and then every user is first given one rating (as in MovieLens, where every user and
// every movie has ratings), the rest are drawn as above.
//
// Everything is a pure function of the options (seed included): the same options give the same
// file, byte for byte. 100k ratings take about 0.1 s; 25M over 162541 x 59047 users x items
// (ml-25m's shape) about 10 s and 0.5 GB of memory.

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace cfps {

struct GenOptions {
  int64_t users = 943;       // --users
  int64_t items = 1682;      // --items
  int64_t ratings = 100000;  // --ratings
  int factors = 16;          // --factors: rank of the planted model
  double noise = 0.5;        // --noise: std of the Gaussian noise before rounding
  uint64_t seed = 42;        // --seed
  double item_zipf = 1.0;    // --item-zipf: exponent of item popularity (0 = uniform)
  double user_zipf = 0.5;    // --user-zipf: exponent of user activity (0 = uniform)
};

// users, items and ratings in [1, 2^31 - 1] with ratings <= users * items, factors in [1, 4096],
// a finite noise >= 0, zipf exponents in [0, 10]; an error names the option ("--ratings ...").
Status ValidateGenOptions(const GenOptions& options);

// The generated ratings in memory, 0-based ids, in file order.
struct SyntheticRatings {
  std::vector<int32_t> user;
  std::vector<int32_t> item;
  std::vector<uint8_t> rating;  // 1..5
  size_t size() const { return rating.size(); }
};
Status GenerateSynthetic(const GenOptions& options, SyntheticRatings* out);

// Writes the ratings as ml-100k's u.data: "user<TAB>item<TAB>rating<TAB>timestamp\n", ids 1-based,
// timestamps 874965758 + line index. Written to "<out_path>.tmp.<pid>", fsync'ed, renamed.
// An out_path ending in ".cfpsr" gets the prepared binary form instead (common/prepared.h): the
// same ratings, ready for cfps train to read without parsing.
Status GenerateRatings(const GenOptions& options, const std::string& out_path);

}  // namespace cfps
