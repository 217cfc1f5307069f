#include "common/dataset.h"

#include <cmath>
#include <cstdio>
#include <limits>
#include <utility>

#include "common/huge_pages.h"
#include "common/random.h"

namespace cfps {

namespace {


// Vocabulary over the names that the selected ratings use (selected[k] != 0), and the dense row of
// every interned name (-1 for names no selected rating uses).
Vocab BuildUsedVocab(const std::vector<std::string>& names, const std::vector<int32_t>& ids,
                     const std::vector<uint8_t>* selected, std::vector<int32_t>* row_of_name) {
  std::vector<uint8_t> used(names.size(), 0);
  for (size_t k = 0; k < ids.size(); ++k) {
    if (selected == nullptr || (*selected)[k]) used[static_cast<size_t>(ids[k])] = 1;
  }
  std::vector<std::string> used_names;
  for (size_t n = 0; n < names.size(); ++n) {
    if (used[n]) used_names.push_back(names[n]);
  }
  Vocab vocab = Vocab::Build(used_names);
  row_of_name->assign(names.size(), -1);
  for (size_t n = 0; n < names.size(); ++n) {
    if (used[n]) (*row_of_name)[n] = vocab.Lookup(names[n]);
  }
  return vocab;
}

// Dense rows of another file's names in `vocab` (-1 when absent).
std::vector<int32_t> MapNames(const std::vector<std::string>& names, const Vocab& vocab) {
  std::vector<int32_t> rows(names.size());
  for (size_t n = 0; n < names.size(); ++n) rows[n] = vocab.Lookup(names[n]);
  return rows;
}

// Appends rating k of `r`, with its names mapped through the row tables, to `out`.
inline void Append(const Ratings& r, size_t k, const std::vector<int32_t>& user_rows,
                   const std::vector<int32_t>& item_rows, RatingArrays* out) {
  out->user.push_back(user_rows[static_cast<size_t>(r.user[k])]);
  out->item.push_back(item_rows[static_cast<size_t>(r.item[k])]);
  out->rating.push_back(r.rating[k]);
}

std::string FormatDouble(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%g", v);
  return buf;
}

void Reserve(size_t n, RatingArrays* a) {
  ReserveHuge(&a->user, n);
  ReserveHuge(&a->item, n);
  ReserveHuge(&a->rating, n);
}

}  // namespace

Status BuildDataset(const DataOptions& options, Dataset* out) {
  *out = Dataset();
  if (!(options.valid_pct >= 0.0 && options.valid_pct < 1.0)) {
    return Status::InvalidArgument("--valid-pct must be in [0, 1), got " +
                                   FormatDouble(options.valid_pct));
  }
  if (options.data.empty()) return Status::InvalidArgument("--data is required");

  Ratings all;
  CFPS_RETURN_IF_ERROR(ReadRatings(options.data, options.read, &all));
  out->skipped_lines = all.skipped_lines;
  const size_t n = all.size();

  if (!options.valid_data.empty()) {
    Ratings valid;
    CFPS_RETURN_IF_ERROR(ReadRatings(options.valid_data, options.read, &valid));
    out->skipped_lines += valid.skipped_lines;

    std::vector<int32_t> user_rows, item_rows;
    out->users = BuildUsedVocab(all.user_names, all.user, nullptr, &user_rows);
    out->items = BuildUsedVocab(all.item_names, all.item, nullptr, &item_rows);
    Reserve(n, &out->train);
    for (size_t k = 0; k < n; ++k) Append(all, k, user_rows, item_rows, &out->train);
    all = Ratings();  // free the raw arrays before the second mapping

    std::vector<int32_t> valid_user_rows = MapNames(valid.user_names, out->users);
    std::vector<int32_t> valid_item_rows = MapNames(valid.item_names, out->items);
    Reserve(valid.size(), &out->valid);
    for (size_t k = 0; k < valid.size(); ++k) {
      Append(valid, k, valid_user_rows, valid_item_rows, &out->valid);
      if (out->valid.user.back() < 0 || out->valid.item.back() < 0) ++out->valid_unknown;
    }
    return Status::OK();
  }

  // Random split, exactly fastai's RandomSplitter(valid_pct, seed): torch.manual_seed(seed);
  // the first int(valid_pct * n) entries of torch.randperm(n) are the validation set.
  CFPS_CHECK_LE(n, static_cast<size_t>(std::numeric_limits<uint32_t>::max()));
  const size_t n_valid = static_cast<size_t>(static_cast<double>(n) * options.valid_pct);
  if (n_valid >= n) {
    return Status::InvalidArgument("'" + options.data + "' has " + std::to_string(n) +
                                   " ratings: --valid-pct " + FormatDouble(options.valid_pct) +
                                   " leaves none for training");
  }
  std::vector<uint8_t> in_train(n, 1);
  {
    std::vector<uint32_t> perm;
    TorchRandperm(static_cast<int64_t>(n), options.seed, &perm);
    for (size_t k = 0; k < n_valid; ++k) in_train[perm[k]] = 0;
  }

  std::vector<int32_t> user_rows, item_rows;
  out->users = BuildUsedVocab(all.user_names, all.user, &in_train, &user_rows);
  out->items = BuildUsedVocab(all.item_names, all.item, &in_train, &item_rows);
  Reserve(n - n_valid, &out->train);
  Reserve(n_valid, &out->valid);
  for (size_t k = 0; k < n; ++k) {
    if (in_train[k]) {
      Append(all, k, user_rows, item_rows, &out->train);
    } else {
      Append(all, k, user_rows, item_rows, &out->valid);
      if (out->valid.user.back() < 0 || out->valid.item.back() < 0) ++out->valid_unknown;
    }
  }
  return Status::OK();
}

}  // namespace cfps
