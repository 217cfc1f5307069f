#pragma once
// What `cfps recommend` computes from an exported model (common/export.h), with no I/O beyond
// loading it: fastbook chapter 8's uses of a trained DotProductBias.
//
//   top-N for a user   the items with the highest sigmoid_range(dot(P[u], Q[i]) + bu + bi, lo, hi),
//                      optionally skipping the items the user already rated
//   similar items      cosine similarity of item factors, as fastbook's
//                      nn.CosineSimilarity(dim=1)(i_weight, movie_factors[idx][None]):
//                      dot(a, b) / (max(|a|, eps) * max(|b|, eps)), eps = 1e-8
//   bias ranking       the lowest and the highest item biases (fastbook's movie_bias.argsort())
//
// Rankings are deterministic: ties go to the lower row. Scores are computed in double from the
// float32 parameters. Every function here is pure and safe to call from any thread.

#include <cstdint>
#include <string>
#include <vector>

#include "common/ratings.h"
#include "common/status.h"
#include "common/titles.h"
#include "common/vocab.h"

namespace cfps {

// The files of `cfps train --export DIR`, checked for consistency.
struct ExportedModel {
  std::string dir;
  int64_t k = 0;
  Vocab users, items;
  std::vector<float> user_factors;  // num_users x k
  std::vector<float> user_bias;     // num_users
  std::vector<float> item_factors;  // num_items x k
  std::vector<float> item_bias;     // num_items

  int64_t num_users() const { return users.size(); }
  int64_t num_items() const { return items.size(); }
};

// Loads DIR/{user,item}_{factors,bias}.npy and DIR/{users,items}.tsv. A missing directory or file,
// an array of the wrong rank, shapes that disagree with each other or with the .tsv files, or a
// non-finite parameter is an error naming the file(s).
Status LoadExportedModel(const std::string& dir, ExportedModel* out);

struct ScoredItem {
  int32_t row;   // item row in the model
  double score;  // predicted rating, cosine similarity or bias
};

// sigmoid_range(dot(P[user], Q[item]) + bu[user] + bi[item], lo, hi).
double PredictRating(const ExportedModel& model, int32_t user, int32_t item, double lo, double hi);

// The `n` items with the highest predicted rating for `user`, best first, skipping every row r with
// exclude[r] (exclude is empty or has num_items entries). Fewer than n when fewer are left.
std::vector<ScoredItem> TopItemsForUser(const ExportedModel& model, int32_t user,
                                        const std::vector<bool>& exclude, int64_t n, double lo,
                                        double hi);

// The `n` items most similar to `item` by cosine similarity of their factors, most similar first,
// `item` itself excluded.
std::vector<ScoredItem> SimilarItems(const ExportedModel& model, int32_t item, int64_t n);

// The `n` lowest item biases (lowest first) and the `n` highest (highest first).
void ExtremeItemBiases(const ExportedModel& model, int64_t n, std::vector<ScoredItem>* lowest,
                       std::vector<ScoredItem>* highest);

// Marks the model rows of the items that raw user `user_id` rated in `ratings` (items the model
// does not know are ignored); returns num_items flags and sets *count to the rows marked.
std::vector<bool> RatedItems(const ExportedModel& model, const Ratings& ratings,
                             const std::string& user_id, int64_t* count);

// The row of raw user id `id`, or NotFound "unknown user id '9999': not in DIR/users.tsv".
Status ResolveUser(const ExportedModel& model, const std::string& id, int32_t* row);

// The row of an item given as a raw id or, with `titles` (read from `titles_path`), as a title:
// a raw id of the model first; then an exact title; then the titles that contain `query`
// ignoring ASCII case, of which there must be one (or one equal to it ignoring case). Only items
// with a row in the model are candidates. Ambiguity is InvalidArgument listing up to 5
// candidates as "id 'title'"; no match is NotFound.
Status ResolveItem(const ExportedModel& model, const ItemTitles* titles,
                   const std::string& titles_path, const std::string& query, int32_t* row);

}  // namespace cfps
