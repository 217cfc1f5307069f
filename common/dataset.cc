#include "common/dataset.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <thread>
#include <utility>

#include "common/huge_pages.h"
#include "common/prepared.h"
#include "common/random.h"

namespace cfps {

namespace {

// Ratings read between two releases of a prepared file's pages: a pass over a mapped file keeps
// only this much of it resident (the peak RSS of a rank stays its plan).
constexpr size_t kReleaseChunk = size_t{1} << 20;

// Vocabulary over the names that the selected ratings use (selected[k] != 0), and the dense row of
// every interned name (-1 for names no selected rating uses). `mapped` (may be null) is the
// prepared file `ids` lives in: its pages are released as the pass goes.
Vocab BuildUsedVocab(const std::vector<std::string>& names, const int32_t* ids, size_t n,
                     const std::vector<uint8_t>* selected, const PreparedRatings* mapped,
                     std::vector<int32_t>* row_of_name) {
  std::vector<uint8_t> used(names.size(), 0);
  for (size_t k = 0; k < n; ++k) {
    if (k % kReleaseChunk == 0 && k > 0 && mapped) mapped->ReleaseRatings(k - kReleaseChunk, k);
    if (selected == nullptr || (*selected)[k]) used[static_cast<size_t>(ids[k])] = 1;
  }
  std::vector<std::string> used_names;
  for (size_t j = 0; j < names.size(); ++j) {
    if (used[j]) used_names.push_back(names[j]);
  }
  Vocab vocab = Vocab::Build(used_names);
  row_of_name->assign(names.size(), -1);
  for (size_t j = 0; j < names.size(); ++j) {
    if (used[j]) (*row_of_name)[j] = vocab.Lookup(names[j]);
  }
  return vocab;
}

// Dense rows of another file's names in `vocab` (-1 when absent).
std::vector<int32_t> MapNames(const std::vector<std::string>& names, const Vocab& vocab) {
  std::vector<int32_t> rows(names.size());
  for (size_t j = 0; j < names.size(); ++j) rows[j] = vocab.Lookup(names[j]);
  return rows;
}

// Appends rating k of `r`, with its names mapped through the row tables, to `out`. Returns true
// when both rows are known.
inline bool Append(const RatingsView& r, size_t k, const std::vector<int32_t>& user_rows,
                   const std::vector<int32_t>& item_rows, RatingArrays* out) {
  const int32_t user = user_rows[static_cast<size_t>(r.user[k])];
  const int32_t item = item_rows[static_cast<size_t>(r.item[k])];
  out->push_back(user, item, r.rating[k]);
  return user >= 0 && item >= 0;
}

std::string FormatDouble(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%g", v);
  return buf;
}

}  // namespace

RatingLayout ChooseRatingLayout(int64_t n_users, int64_t n_items, uint32_t rating_bits) {
  // Rows are stored + 1, so n rows take the bits of n.
  auto bits_of = [](int64_t n) {
    int b = 1;
    while (b < 62 && (int64_t{1} << b) <= n) ++b;
    return b;
  };
  RatingLayout layout;
  layout.user_bits = bits_of(n_users);
  layout.item_bits = bits_of(n_items);
  const int rows = layout.user_bits + layout.item_bits;
  const int zero_low = rating_bits == 0 ? 32 : __builtin_ctz(rating_bits);
  layout.rating_shift = std::max(0, rows - 32);
  layout.packed = layout.rating_shift <= zero_low && rows <= 62;
  if (!layout.packed) layout = RatingLayout();
  return layout;
}

uint32_t RatingBits(const float* ratings, size_t n) {
  uint32_t all = 0;
  for (size_t k = 0; k < n; ++k) {
    uint32_t bits;
    std::memcpy(&bits, &ratings[k], sizeof(bits));
    all |= bits;
  }
  return all;
}

void RatingArrays::reserve(size_t n) {
  if (layout_.packed) {
    ReserveHuge(&w_, n);
  } else {
    ReserveHuge(&r_, n);
  }
}

void RatingArrays::resize(size_t n) {
  reserve(n);
  if (layout_.packed) {
    w_.resize(n);
  } else {
    r_.resize(n);
  }
}

void RatingArrays::push_back(int32_t user, int32_t item, float rating) {
  if (!layout_.packed) {
    r_.push_back({user, item, rating});
    return;
  }
  w_.push_back(Pack(user, item, rating));
}

std::vector<int32_t> RatingArrays::users() const {
  std::vector<int32_t> out(size());
  Read([&](auto r) {
    for (size_t k = 0; k < out.size(); ++k) out[k] = r(k).user;
  });
  return out;
}

std::vector<int32_t> RatingArrays::items() const {
  std::vector<int32_t> out(size());
  Read([&](auto r) {
    for (size_t k = 0; k < out.size(); ++k) out[k] = r(k).item;
  });
  return out;
}

std::vector<float> RatingArrays::ratings() const {
  std::vector<float> out(size());
  Read([&](auto r) {
    for (size_t k = 0; k < out.size(); ++k) out[k] = r(k).rating;
  });
  return out;
}

namespace {

// ReadRatings, with the option that named the file in front of errors that name no line (a
// missing file, a directory): "--data: cannot open 'x': No such file or directory".
Status ReadNamed(const char* option, const std::string& path, const ReadOptions& read,
                 Ratings* out) {
  Status s = ReadRatings(path, read, out);
  return s.code() == Status::Code::kIOError ? s.WithContext(option) : s;
}

// Text files are parsed into `parsed`; prepared files are mapped into `prepared` and checked: every
// id names one of the file's names, every rating is finite and inside [min_rating, max_rating]
// (with skip_bad_lines, such ratings are dropped into `parsed` instead, and counted).
Status LoadRatings(const char* option, const std::string& path, const ReadOptions& read,
                   Ratings* parsed, PreparedRatings* prepared, RatingsView* view,
                   int64_t* skipped) {
  *skipped = 0;
  if (!IsPreparedFile(path)) {
    CFPS_RETURN_IF_ERROR(ReadNamed(option, path, read, parsed));
    *skipped = parsed->skipped_lines;
    *view = ViewOf(*parsed);
    return Status::OK();
  }
  {
    Status s = prepared->Open(path);
    if (!s.ok()) return s.code() == Status::Code::kIOError ? s.WithContext(option) : s;
  }
  const RatingsView v = prepared->view();
  const int64_t n_users = static_cast<int64_t>(v.user_names->size());
  const int64_t n_items = static_cast<int64_t>(v.item_names->size());
  std::vector<uint8_t> keep;
  for (size_t k = 0; k < v.n; ++k) {
    if (k % kReleaseChunk == 0 && k > 0) prepared->ReleaseRatings(k - kReleaseChunk, k);
    if (v.user[k] < 0 || v.user[k] >= n_users || v.item[k] < 0 || v.item[k] >= n_items) {
      return Status::InvalidArgument(
          "'" + path + "': damaged prepared file: rating " + std::to_string(k) + " names user " +
          std::to_string(v.user[k]) + " of " + std::to_string(n_users) + ", item " +
          std::to_string(v.item[k]) + " of " + std::to_string(n_items));
    }
    const float r = v.rating[k];
    if (std::isfinite(r) && r >= read.min_rating && r <= read.max_rating) continue;
    if (!read.skip_bad_lines) {
      return Status::InvalidArgument("'" + path + "': rating " + std::to_string(k) + " is " +
                                     FormatDouble(r) + ", outside --y-range [" +
                                     FormatDouble(read.min_rating) + ", " +
                                     FormatDouble(read.max_rating) + "] (or use --skip-bad-lines)");
    }
    if (keep.empty()) keep.assign(v.n, 1);
    keep[k] = 0;
  }
  prepared->ReleasePages();
  if (keep.empty()) {
    *view = v;
    return Status::OK();
  }
  // Rare: a copy without the bad ratings, as the text reader would have read it.
  *parsed = Ratings();
  parsed->user_names = *v.user_names;
  parsed->item_names = *v.item_names;
  for (size_t k = 0; k < v.n; ++k) {
    if (!keep[k]) {
      ++*skipped;
      continue;
    }
    parsed->user.push_back(v.user[k]);
    parsed->item.push_back(v.item[k]);
    parsed->rating.push_back(v.rating[k]);
  }
  if (parsed->size() == 0) {
    return Status::InvalidArgument("'" + path + "': no ratings inside --y-range");
  }
  *view = ViewOf(*parsed);
  return Status::OK();
}

}  // namespace

Status BuildDataset(const DataOptions& options, Dataset* out, bool keep_ratings) {
  *out = Dataset();
  if (!(options.valid_pct >= 0.0 && options.valid_pct < 1.0)) {
    return Status::InvalidArgument("--valid-pct must be in [0, 1), got " +
                                   FormatDouble(options.valid_pct));
  }
  if (options.data.empty()) return Status::InvalidArgument("--data is required");

  Ratings all_parsed;
  PreparedRatings all_prepared;
  RatingsView all;
  CFPS_RETURN_IF_ERROR(LoadRatings("--data", options.data, options.read, &all_parsed, &all_prepared,
                                   &all, &out->skipped_lines));
  const size_t n = all.n;

  if (!options.valid_data.empty()) {
    Ratings valid_parsed;
    PreparedRatings valid_prepared;
    RatingsView valid;
    int64_t skipped = 0;
    CFPS_RETURN_IF_ERROR(LoadRatings("--valid-data", options.valid_data, options.read,
                                     &valid_parsed, &valid_prepared, &valid, &skipped));
    out->skipped_lines += skipped;

    std::vector<int32_t> user_rows, item_rows;
    out->users = BuildUsedVocab(*all.user_names, all.user, n, nullptr, &all_prepared, &user_rows);
    out->items = BuildUsedVocab(*all.item_names, all.item, n, nullptr, &all_prepared, &item_rows);
    if (keep_ratings) {
      out->train = RatingArrays(
          ChooseRatingLayout(out->users.size(), out->items.size(), RatingBits(all.rating, n)));
      out->train.reserve(n);
      for (size_t k = 0; k < n; ++k) Append(all, k, user_rows, item_rows, &out->train);
    } else {
      out->train = RatingArrays::Counted(n);
    }
    all_prepared.ReleasePages();
    all_parsed = Ratings();  // free the raw arrays before the second mapping

    std::vector<int32_t> valid_user_rows = MapNames(*valid.user_names, out->users);
    std::vector<int32_t> valid_item_rows = MapNames(*valid.item_names, out->items);
    if (keep_ratings) {
      out->valid = RatingArrays(ChooseRatingLayout(out->users.size(), out->items.size(),
                                                   RatingBits(valid.rating, valid.n)));
      out->valid.reserve(valid.n);
      for (size_t k = 0; k < valid.n; ++k) {
        if (!Append(valid, k, valid_user_rows, valid_item_rows, &out->valid)) ++out->valid_unknown;
      }
    } else {
      out->valid = RatingArrays::Counted(valid.n);
      for (size_t k = 0; k < valid.n; ++k) {
        if (valid_user_rows[static_cast<size_t>(valid.user[k])] < 0 ||
            valid_item_rows[static_cast<size_t>(valid.item[k])] < 0) {
          ++out->valid_unknown;
        }
      }
    }
    valid_prepared.ReleasePages();
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
  out->split_bytes = static_cast<int64_t>(n * (sizeof(uint32_t) + sizeof(uint8_t)));
  std::vector<uint8_t> in_train;
  ReserveHuge(&in_train, n);
  in_train.assign(n, 1);
  {
    std::vector<uint32_t> perm;
    ReserveHuge(&perm, n);  // random swaps over n entries: 2 MB pages, far fewer page faults
    // Only the first n_valid entries are needed, and they are final after n_valid swaps.
    TorchRandperm(static_cast<int64_t>(n), options.seed, &perm, static_cast<int64_t>(n_valid));
    for (size_t k = 0; k < n_valid; ++k) in_train[perm[k]] = 0;
  }

  // The two vocabularies on two threads, then the two halves of the ratings on two threads (each
  // half knows where its ratings go from the count of training ratings before it): the same
  // arrays as one pass in order.
  std::vector<int32_t> user_rows, item_rows;
  uint32_t rating_bits = 0;
  {
    std::thread items([&] {
      out->items =
          BuildUsedVocab(*all.item_names, all.item, n, &in_train, &all_prepared, &item_rows);
      for (size_t b = 0; keep_ratings && b < n; b += kReleaseChunk) {
        const size_t e = std::min(n, b + kReleaseChunk);
        rating_bits |= RatingBits(all.rating + b, e - b);
        all_prepared.ReleaseRatings(b, e);
      }
    });
    out->users =
        BuildUsedVocab(*all.user_names, all.user, n, &in_train, &all_prepared, &user_rows);
    items.join();
  }
  all_prepared.ReleasePages();
  // One layout for both parts (the validation part's rows are inside the same vocabularies).
  const RatingLayout layout = ChooseRatingLayout(out->users.size(), out->items.size(), rating_bits);
  if (keep_ratings) {
    out->train = RatingArrays(layout);
    out->valid = RatingArrays(layout);
    out->train.resize(n - n_valid);
    out->valid.resize(n_valid);
  } else {
    out->train = RatingArrays::Counted(n - n_valid);
    out->valid = RatingArrays::Counted(n_valid);
  }
  const size_t half = n / 2;
  size_t train_before_half = 0;
  for (size_t k = 0; k < half; ++k) train_before_half += in_train[k];
  int64_t unknown[2] = {0, 0};
  auto fill = [&](int part) {
    const size_t begin = part == 0 ? 0 : half, end = part == 0 ? half : n;
    size_t t = part == 0 ? 0 : train_before_half;
    size_t v = part == 0 ? 0 : half - train_before_half;
    for (size_t k = begin; k < end; ++k) {
      if ((k - begin) % kReleaseChunk == 0 && k > begin) {
        all_prepared.ReleaseRatings(k - kReleaseChunk, k);
      }
      if (!keep_ratings) {
        if (!in_train[k] && (user_rows[static_cast<size_t>(all.user[k])] < 0 ||
                             item_rows[static_cast<size_t>(all.item[k])] < 0)) {
          ++unknown[part];
        }
        continue;
      }
      const int32_t user = user_rows[static_cast<size_t>(all.user[k])];
      const int32_t item = item_rows[static_cast<size_t>(all.item[k])];
      if (in_train[k]) {
        out->train.set(t++, user, item, all.rating[k]);
      } else {
        out->valid.set(v++, user, item, all.rating[k]);
        if (user < 0 || item < 0) ++unknown[part];
      }
    }
  };
  {
    std::thread second([&] { fill(1); });
    fill(0);
    second.join();
  }
  out->valid_unknown = unknown[0] + unknown[1];
  all_prepared.ReleasePages();
  return Status::OK();
}

}  // namespace cfps
