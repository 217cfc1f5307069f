#include "worker/recommend.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <exception>
#include <string_view>
#include <utility>

#include "common/file_util.h"
#include "common/npy.h"

namespace cfps {

namespace {

constexpr double kCosineEps = 1e-8;  // torch.nn.CosineSimilarity's default

std::string ShapeText(const std::vector<int64_t>& shape) {
  std::string s = "(";
  for (size_t d = 0; d < shape.size(); ++d) {
    s += std::to_string(shape[d]);
    s += shape.size() == 1 ? "," : (d + 1 < shape.size() ? ", " : "");
  }
  return s + ")";
}

// Reads one array of the export and checks its rank; a malformed header is an error, never a throw.
Status LoadArray(const std::string& dir, const char* file, size_t rank, std::vector<float>* data,
                 std::vector<int64_t>* shape) {
  const std::string path = JoinPath(dir, file);
  struct stat st;
  if (::stat(path.c_str(), &st) != 0 && errno == ENOENT) {
    return Status::NotFound("model directory '" + dir + "' has no " + file +
                            " (expected the files written by cfps train --export)");
  }
  try {
    CFPS_RETURN_IF_ERROR(ReadNpy(path, data, shape));
  } catch (const std::exception& e) {
    return Status::Corruption("'" + path + "': malformed .npy header (" + e.what() + ")");
  }
  if (shape->size() != rank) {
    return Status::Corruption("'" + path + "' has shape " + ShapeText(*shape) + ", expected " +
                              (rank == 2 ? "2 dimensions (rows x k)" : "1 dimension (rows)"));
  }
  for (size_t j = 0; j < data->size(); ++j) {
    if (!std::isfinite((*data)[j])) {
      const int64_t cols = rank == 2 ? std::max<int64_t>((*shape)[1], 1) : 1;
      return Status::Corruption("'" + path + "': non-finite value in row " +
                                std::to_string(static_cast<int64_t>(j) / cols));
    }
  }
  return Status::OK();
}

Status LoadVocab(const std::string& dir, const char* file, Vocab* vocab) {
  const std::string path = JoinPath(dir, file);
  struct stat st;
  if (::stat(path.c_str(), &st) != 0 && errno == ENOENT) {
    return Status::NotFound("model directory '" + dir + "' has no " + file +
                            " (expected the files written by cfps train --export)");
  }
  return Vocab::ReadTsv(path, vocab);
}

Status RowsAgree(const std::string& dir, const char* a, int64_t rows_a, const char* b,
                 int64_t rows_b) {
  if (rows_a == rows_b) return Status::OK();
  return Status::Corruption("'" + JoinPath(dir, a) + "' has " + std::to_string(rows_a) +
                            " rows but '" + JoinPath(dir, b) + "' has " + std::to_string(rows_b));
}

// Orders by score (descending when `highest`), ties by row, and keeps the first n.
std::vector<ScoredItem> TopN(std::vector<ScoredItem> all, int64_t n, bool highest) {
  const size_t keep =
      static_cast<size_t>(std::clamp<int64_t>(n, 0, static_cast<int64_t>(all.size())));
  auto better = [highest](const ScoredItem& a, const ScoredItem& b) {
    if (a.score != b.score) return highest ? a.score > b.score : a.score < b.score;
    return a.row < b.row;
  };
  std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(keep), all.end(),
                    better);
  all.resize(keep);
  return all;
}

double Dot(const float* a, const float* b, int64_t k) {
  double sum = 0;
  for (int64_t c = 0; c < k; ++c) sum += static_cast<double>(a[c]) * static_cast<double>(b[c]);
  return sum;
}

std::string LowerAscii(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// "246 'Chasing Amy (1997)', 268 'Chasing Amy (1997)'" for up to 5 candidates, "... and N more".
std::string Candidates(const std::vector<const ItemTitle*>& found) {
  std::string s;
  const size_t shown = std::min<size_t>(found.size(), 5);
  for (size_t j = 0; j < shown; ++j) {
    if (j) s += ", ";
    s += found[j]->id + " '" + found[j]->title + "'";
  }
  if (found.size() > shown) s += ", and " + std::to_string(found.size() - shown) + " more";
  return s;
}

}  // namespace

Status LoadExportedModel(const std::string& dir, ExportedModel* out) {
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) {
    return Status::NotFound("cannot open model directory '" + dir + "': " + std::strerror(errno));
  }
  if (!S_ISDIR(st.st_mode)) {
    return Status::InvalidArgument("model '" + dir +
                                   "' is not a directory (give the --export "
                                   "directory of cfps train)");
  }
  ExportedModel m;
  m.dir = dir;
  std::vector<int64_t> uf, ub, itf, ib;
  CFPS_RETURN_IF_ERROR(LoadArray(dir, "user_factors.npy", 2, &m.user_factors, &uf));
  CFPS_RETURN_IF_ERROR(LoadArray(dir, "user_bias.npy", 1, &m.user_bias, &ub));
  CFPS_RETURN_IF_ERROR(LoadArray(dir, "item_factors.npy", 2, &m.item_factors, &itf));
  CFPS_RETURN_IF_ERROR(LoadArray(dir, "item_bias.npy", 1, &m.item_bias, &ib));
  CFPS_RETURN_IF_ERROR(LoadVocab(dir, "users.tsv", &m.users));
  CFPS_RETURN_IF_ERROR(LoadVocab(dir, "items.tsv", &m.items));
  m.k = uf[1];
  if (m.k < 1) {
    return Status::Corruption("'" + JoinPath(dir, "user_factors.npy") + "' has shape " +
                              ShapeText(uf) + ": no factors");
  }
  if (itf[1] != m.k) {
    return Status::Corruption("'" + JoinPath(dir, "item_factors.npy") + "' has " +
                              std::to_string(itf[1]) + " factors per row but '" +
                              JoinPath(dir, "user_factors.npy") + "' has " + std::to_string(m.k));
  }
  CFPS_RETURN_IF_ERROR(RowsAgree(dir, "user_bias.npy", ub[0], "user_factors.npy", uf[0]));
  CFPS_RETURN_IF_ERROR(RowsAgree(dir, "users.tsv", m.users.size(), "user_factors.npy", uf[0]));
  CFPS_RETURN_IF_ERROR(RowsAgree(dir, "item_bias.npy", ib[0], "item_factors.npy", itf[0]));
  CFPS_RETURN_IF_ERROR(RowsAgree(dir, "items.tsv", m.items.size(), "item_factors.npy", itf[0]));
  *out = std::move(m);
  return Status::OK();
}

double PredictRating(const ExportedModel& model, int32_t user, int32_t item, double lo, double hi) {
  const int64_t k = model.k;
  const double x = Dot(&model.user_factors[static_cast<size_t>(user * k)],
                       &model.item_factors[static_cast<size_t>(item * k)], k) +
                   model.user_bias[static_cast<size_t>(user)] +
                   model.item_bias[static_cast<size_t>(item)];
  return lo + (hi - lo) / (1.0 + std::exp(-x));
}

std::vector<ScoredItem> TopItemsForUser(const ExportedModel& model, int32_t user,
                                        const std::vector<bool>& exclude, int64_t n, double lo,
                                        double hi) {
  CFPS_CHECK(user >= 0 && user < model.num_users());
  CFPS_CHECK(exclude.empty() || static_cast<int64_t>(exclude.size()) == model.num_items());
  std::vector<ScoredItem> all;
  all.reserve(static_cast<size_t>(model.num_items()));
  for (int32_t i = 0; i < model.num_items(); ++i) {
    if (!exclude.empty() && exclude[static_cast<size_t>(i)]) continue;
    all.push_back({i, PredictRating(model, user, i, lo, hi)});
  }
  return TopN(std::move(all), n, /*highest=*/true);
}

std::vector<ScoredItem> SimilarItems(const ExportedModel& model, int32_t item, int64_t n) {
  CFPS_CHECK(item >= 0 && item < model.num_items());
  const int64_t k = model.k;
  const float* q = &model.item_factors[static_cast<size_t>(item * k)];
  const double q_norm = std::max(std::sqrt(Dot(q, q, k)), kCosineEps);
  std::vector<ScoredItem> all;
  all.reserve(static_cast<size_t>(model.num_items()));
  for (int32_t i = 0; i < model.num_items(); ++i) {
    if (i == item) continue;
    const float* p = &model.item_factors[static_cast<size_t>(i * k)];
    const double norm = std::max(std::sqrt(Dot(p, p, k)), kCosineEps);
    all.push_back({i, Dot(p, q, k) / (norm * q_norm)});
  }
  return TopN(std::move(all), n, /*highest=*/true);
}

void ExtremeItemBiases(const ExportedModel& model, int64_t n, std::vector<ScoredItem>* lowest,
                       std::vector<ScoredItem>* highest) {
  std::vector<ScoredItem> all;
  all.reserve(static_cast<size_t>(model.num_items()));
  for (int32_t i = 0; i < model.num_items(); ++i) {
    all.push_back({i, model.item_bias[static_cast<size_t>(i)]});
  }
  *lowest = TopN(all, n, /*highest=*/false);
  *highest = TopN(std::move(all), n, /*highest=*/true);
}

std::vector<bool> RatedItems(const ExportedModel& model, const Ratings& ratings,
                             const std::string& user_id, int64_t* count) {
  std::vector<bool> rated(static_cast<size_t>(model.num_items()), false);
  *count = 0;
  auto it = std::find(ratings.user_names.begin(), ratings.user_names.end(), user_id);
  if (it == ratings.user_names.end()) return rated;
  const auto user = static_cast<int32_t>(it - ratings.user_names.begin());
  // The model row of each interned item name, looked up once.
  std::vector<int32_t> row_of(ratings.item_names.size(), -2);
  for (size_t j = 0; j < ratings.size(); ++j) {
    if (ratings.user[j] != user) continue;
    int32_t& row = row_of[static_cast<size_t>(ratings.item[j])];
    if (row == -2)
      row = model.items.Lookup(ratings.item_names[static_cast<size_t>(ratings.item[j])]);
    if (row >= 0 && !rated[static_cast<size_t>(row)]) {
      rated[static_cast<size_t>(row)] = true;
      ++*count;
    }
  }
  return rated;
}

Status ResolveUser(const ExportedModel& model, const std::string& id, int32_t* row) {
  const int32_t r = model.users.Lookup(id);
  if (r < 0) {
    return Status::NotFound("unknown user id '" + id + "': not in " +
                            JoinPath(model.dir, "users.tsv"));
  }
  *row = r;
  return Status::OK();
}

Status ResolveItem(const ExportedModel& model, const ItemTitles* titles,
                   const std::string& titles_path, const std::string& query, int32_t* row) {
  const std::string items_tsv = JoinPath(model.dir, "items.tsv");
  const int32_t direct = model.items.Lookup(query);
  if (direct >= 0) {
    *row = direct;
    return Status::OK();
  }
  if (titles == nullptr) {
    return Status::NotFound("unknown item id '" + query + "': not in " + items_tsv +
                            " (give --items to look items up by title)");
  }
  if (const std::string* title = titles->Find(query)) {
    return Status::NotFound("item id '" + query + "' ('" + *title + "') has no row in " +
                            items_tsv + ": it had no ratings in training");
  }
  auto in_model = [&](const ItemTitle& t) { return model.items.Lookup(t.id) >= 0; };
  std::vector<const ItemTitle*> exact, exact_in_model;
  for (const ItemTitle& t : titles->entries()) {
    if (t.title != query) continue;
    exact.push_back(&t);
    if (in_model(t)) exact_in_model.push_back(&t);
  }
  if (exact_in_model.size() == 1) {
    *row = model.items.Lookup(exact_in_model[0]->id);
    return Status::OK();
  }
  if (exact_in_model.size() > 1) {
    return Status::InvalidArgument(
        "item title '" + query + "' is ambiguous: " + std::to_string(exact_in_model.size()) +
        " items have it: " + Candidates(exact_in_model) + " (give the item id)");
  }
  if (!exact.empty()) {
    return Status::NotFound("item '" + query + "' (id " + exact[0]->id + " in " + titles_path +
                            ") has no row in " + items_tsv + ": it had no ratings in training");
  }
  const std::string needle = LowerAscii(query);
  std::vector<const ItemTitle*> found, equal;
  if (!needle.empty()) {
    for (const ItemTitle& t : titles->entries()) {
      const std::string hay = LowerAscii(t.title);
      if (hay.find(needle) == std::string::npos || !in_model(t)) continue;
      found.push_back(&t);
      if (hay == needle) equal.push_back(&t);
    }
  }
  if (found.size() == 1 || equal.size() == 1) {
    *row = model.items.Lookup((found.size() == 1 ? found : equal)[0]->id);
    return Status::OK();
  }
  if (found.empty()) {
    return Status::NotFound("unknown item '" + query + "': not an item id in " + items_tsv +
                            ", and no title in " + titles_path + " contains it");
  }
  return Status::InvalidArgument(
      "item '" + query + "' is ambiguous: " + std::to_string(found.size()) +
      " titles contain it: " + Candidates(found) + " (give the item id or more of the title)");
}

}  // namespace cfps
