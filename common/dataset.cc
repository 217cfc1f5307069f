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

// Ratings a pass over a prepared file reads at a time, per thread: 384 KB of buffers.
constexpr size_t kChunk = size_t{1} << 15;

// The columns a pass reads.
constexpr unsigned kUser = 1, kItem = 2, kRating = 4;

// The ratings of one file as BuildDataset reads them: the arrays of a parsed text file, or a
// prepared file read a chunk at a time (never the whole of it).
class Source {
 public:
  void Set(const Ratings* parsed) {
    parsed_ = parsed;
    prepared_ = nullptr;
  }
  void Set(const PreparedRatings* prepared) {
    prepared_ = prepared;
    parsed_ = nullptr;
  }
  size_t size() const { return parsed_ ? parsed_->size() : prepared_->size(); }
  const std::vector<std::string>& user_names() const {
    return parsed_ ? parsed_->user_names : prepared_->user_names();
  }
  const std::vector<std::string>& item_names() const {
    return parsed_ ? parsed_->item_names : prepared_->item_names();
  }
  // fn(first, user, item, rating, count) -> Status over consecutive chunks of [begin, end); the
  // columns not asked for are null. Stops at the first error, of reading or of fn.
  template <typename Fn>
  Status ForEach(size_t begin, size_t end, unsigned columns, Fn&& fn) const {
    if (begin >= end) return Status::OK();
    if (parsed_) {
      return fn(begin, columns & kUser ? parsed_->user.data() + begin : nullptr,
                columns & kItem ? parsed_->item.data() + begin : nullptr,
                columns & kRating ? parsed_->rating.data() + begin : nullptr, end - begin);
    }
    const size_t chunk = std::min(kChunk, end - begin);
    std::vector<int32_t> user(columns & kUser ? chunk : 0), item(columns & kItem ? chunk : 0);
    std::vector<float> rating(columns & kRating ? chunk : 0);
    int32_t* u = user.empty() ? nullptr : user.data();
    int32_t* i = item.empty() ? nullptr : item.data();
    float* r = rating.empty() ? nullptr : rating.data();
    for (size_t b = begin; b < end; b += chunk) {
      const size_t count = std::min(chunk, end - b);
      CFPS_RETURN_IF_ERROR(prepared_->Read(b, count, u, i, r));
      CFPS_RETURN_IF_ERROR(fn(b, u, i, r, count));
    }
    return Status::OK();
  }

 private:
  const Ratings* parsed_ = nullptr;
  const PreparedRatings* prepared_ = nullptr;
};

// Below this many ratings the work of two threads runs one part after the other on this thread: a
// thread costs more than it saves (and the same parts give the same result either way).
constexpr size_t kTwoThreadsMin = size_t{1} << 16;

// Runs a() on another thread and b() on this one when `n` (ratings) is large enough, else a() then
// b() here; returns when both are done.
template <typename A, typename B>
void Both(size_t n, A&& a, B&& b) {
  if (n < kTwoThreadsMin) {
    a();
    b();
    return;
  }
  std::thread t(a);
  b();
  t.join();
}

// f(part, begin, end) -> Status on the two halves of [0, n) (part 1 on the other thread). The
// first half's error wins, so an error is the first one in file order when each half reports its
// first.
template <typename F>
Status InTwo(size_t n, F&& f) {
  const size_t half = n / 2;
  Status first, second;
  auto upper = [&] { second = f(1, half, n); };
  auto lower = [&] { first = f(0, size_t{0}, half); };
  Both(n, upper, lower);
  return first.ok() ? second : first;
}

// Vocabulary over the names marked in `used`, and the dense row of every name (-1 for the names
// no selected rating uses).
Vocab BuildUsedVocab(const std::vector<std::string>& names, const std::vector<uint8_t>& used,
                     std::vector<int32_t>* row_of_name) {
  std::vector<std::string> used_names;
  for (size_t j = 0; j < names.size(); ++j) {
    if (used[j]) used_names.push_back(names[j]);
  }
  std::vector<int32_t> rows;  // of the used names
  Vocab vocab = Vocab::Build(std::move(used_names), &rows);
  row_of_name->assign(names.size(), -1);
  size_t u = 0;
  for (size_t j = 0; j < names.size(); ++j) {
    if (used[j]) (*row_of_name)[j] = rows[u++];
  }
  return vocab;
}

// Dense rows of another file's names in `vocab` (-1 when absent).
std::vector<int32_t> MapNames(const std::vector<std::string>& names, const Vocab& vocab) {
  std::vector<int32_t> rows(names.size());
  for (size_t j = 0; j < names.size(); ++j) rows[j] = vocab.Lookup(names[j]);
  return rows;
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

// One file's ratings: `source` reads them, from `prepared`, or from `parsed` (a text file, or a
// prepared file whose bad ratings were skipped).
struct Loaded {
  Ratings parsed;
  PreparedRatings prepared;
  bool is_prepared = false;
  Source source;
  int64_t skipped = 0;
};

// Parses a text file (the parser checks every line) or opens a prepared one (checked by Check).
Status Open(const char* option, const std::string& path, const ReadOptions& read, Loaded* out) {
  if (!IsPreparedFile(path)) {
    CFPS_RETURN_IF_ERROR(ReadNamed(option, path, read, &out->parsed));
    out->skipped = out->parsed.skipped_lines;
    out->source.Set(&out->parsed);
    return Status::OK();
  }
  Status s = out->prepared.Open(path);
  if (!s.ok()) return s.code() == Status::Code::kIOError ? s.WithContext(option) : s;
  out->is_prepared = true;
  out->source.Set(&out->prepared);
  return Status::OK();
}

// Checks ratings [begin, end) of a prepared file: every id names one of the file's names, every
// rating is finite and inside [min_rating, max_rating]. The first bad rating is the error; with
// skip_bad_lines the indices of bad ratings go to `bad` instead (a bad id is always an error).
Status CheckRange(const Loaded& f, const ReadOptions& read, size_t begin, size_t end,
                  std::vector<size_t>* bad) {
  const std::string& path = f.prepared.path();
  const int64_t n_users = static_cast<int64_t>(f.prepared.user_names().size());
  const int64_t n_items = static_cast<int64_t>(f.prepared.item_names().size());
  return f.source.ForEach(
      begin, end, kUser | kItem | kRating,
      [&](size_t first, const int32_t* user, const int32_t* item, const float* rating,
          size_t count) {
        for (size_t j = 0; j < count; ++j) {
          if (user[j] < 0 || user[j] >= n_users || item[j] < 0 || item[j] >= n_items) {
            return Status::InvalidArgument(
                "'" + path + "': damaged prepared file: rating " + std::to_string(first + j) +
                " names user " + std::to_string(user[j]) + " of " + std::to_string(n_users) +
                ", item " + std::to_string(item[j]) + " of " + std::to_string(n_items));
          }
          const float r = rating[j];
          if (std::isfinite(r) && r >= read.min_rating && r <= read.max_rating) continue;
          if (!read.skip_bad_lines) {
            return Status::InvalidArgument(
                "'" + path + "': rating " + std::to_string(first + j) + " is " + FormatDouble(r) +
                ", outside --y-range [" + FormatDouble(read.min_rating) + ", " +
                FormatDouble(read.max_rating) + "] (or use --skip-bad-lines)");
          }
          bad->push_back(first + j);
        }
        return Status::OK();
      });
}

// Rare: the skipped ratings (`bad`, ascending) were found in a prepared file. Its ratings without
// them are copied into `parsed`, as the text reader would have read them, and read from there.
Status DropBad(const std::vector<size_t>& bad, Loaded* f) {
  if (bad.empty()) return Status::OK();
  Ratings& p = f->parsed;
  p = Ratings();
  p.user_names = f->prepared.user_names();
  p.item_names = f->prepared.item_names();
  const size_t n = f->prepared.size();
  p.user.reserve(n - bad.size());
  p.item.reserve(n - bad.size());
  p.rating.reserve(n - bad.size());
  size_t next = 0;
  auto keep_good = [&](size_t first, const int32_t* user, const int32_t* item, const float* rating,
                       size_t count) {
    for (size_t j = 0; j < count; ++j) {
      if (next < bad.size() && bad[next] == first + j) {
        ++next;
        continue;
      }
      p.user.push_back(user[j]);
      p.item.push_back(item[j]);
      p.rating.push_back(rating[j]);
    }
    return Status::OK();
  };
  CFPS_RETURN_IF_ERROR(f->source.ForEach(0, n, kUser | kItem | kRating, keep_good));
  f->skipped = static_cast<int64_t>(bad.size());
  if (p.size() == 0) {
    return Status::InvalidArgument("'" + f->prepared.path() + "': no ratings inside --y-range");
  }
  f->source.Set(&p);
  return Status::OK();
}

// Check and DropBad over a whole prepared file on two threads (a text file was checked as parsed).
Status Check(const ReadOptions& read, Loaded* f) {
  if (!f->is_prepared) return Status::OK();
  std::vector<size_t> bad[2];
  CFPS_RETURN_IF_ERROR(InTwo(f->source.size(), [&](int part, size_t begin, size_t end) {
    return CheckRange(*f, read, begin, end, &bad[part]);
  }));
  bad[0].insert(bad[0].end(), bad[1].begin(), bad[1].end());
  return DropBad(bad[0], f);
}

// Marks the users and items of the selected ratings (selected null: all of them) and ORs the bits
// of every rating (when `rating_bits` is not null), on two threads.
Status MarkUsed(const Source& src, const uint8_t* selected, std::vector<uint8_t>* used_users,
                std::vector<uint8_t>* used_items, uint32_t* rating_bits) {
  const size_t n_users = src.user_names().size(), n_items = src.item_names().size();
  used_users->assign(n_users, 0);
  used_items->assign(n_items, 0);
  std::vector<uint8_t> second_users(n_users, 0), second_items(n_items, 0);
  uint32_t bits[2] = {0, 0};
  CFPS_RETURN_IF_ERROR(InTwo(src.size(), [&](int part, size_t begin, size_t end) {
    uint8_t* users = part == 0 ? used_users->data() : second_users.data();
    uint8_t* items = part == 0 ? used_items->data() : second_items.data();
    return src.ForEach(begin, end, kUser | kItem | (rating_bits ? kRating : 0),
                       [&](size_t first, const int32_t* user, const int32_t* item,
                           const float* rating, size_t count) {
                         for (size_t j = 0; j < count; ++j) {
                           if (selected != nullptr && !selected[first + j]) continue;
                           users[user[j]] = 1;
                           items[item[j]] = 1;
                         }
                         if (rating) bits[part] |= RatingBits(rating, count);
                         return Status::OK();
                       });
  }));
  for (size_t j = 0; j < n_users; ++j) (*used_users)[j] |= second_users[j];
  for (size_t j = 0; j < n_items; ++j) (*used_items)[j] |= second_items[j];
  if (rating_bits) *rating_bits = bits[0] | bits[1];
  return Status::OK();
}

// Puts every rating of `src`, its names mapped to rows, into `to` (to[0] when in_first[k], or
// always when in_first is null; else to[1]), in file order, on two threads: each half knows where
// its ratings go from the count of the first half's ratings for to[0]. With keep false nothing is
// stored. Counts the ratings with an unknown row (-1) into `unknown`.
Status Place(const Source& src, const uint8_t* in_first, const std::vector<int32_t>& user_rows,
             const std::vector<int32_t>& item_rows, bool keep, RatingArrays* to[2],
             int64_t* unknown) {
  const size_t n = src.size(), half = n / 2;
  size_t first_before_half = half;
  if (in_first != nullptr) {
    first_before_half = 0;
    for (size_t k = 0; k < half; ++k) first_before_half += in_first[k];
  }
  int64_t unknowns[2] = {0, 0};
  CFPS_RETURN_IF_ERROR(InTwo(n, [&](int part, size_t begin, size_t end) {
    size_t next[2] = {part == 0 ? 0 : first_before_half, part == 0 ? 0 : half - first_before_half};
    return src.ForEach(
        begin, end, kUser | kItem | (keep ? kRating : 0),
        [&](size_t first, const int32_t* u, const int32_t* i, const float* r, size_t count) {
          // Counters in locals: stores into the arrays cannot then alias them.
          size_t n0 = next[0], n1 = next[1];
          int64_t unknown = 0;
          // user_rows outgrows the L2 cache (ML-25M: 650 KB): fetch ahead.
          constexpr size_t kAhead = 16;
          for (size_t j = 0; j < count; ++j) {
            if (j + kAhead < count) {
              __builtin_prefetch(&user_rows[static_cast<size_t>(u[j + kAhead])]);
              __builtin_prefetch(&item_rows[static_cast<size_t>(i[j + kAhead])]);
            }
            const int32_t user = user_rows[static_cast<size_t>(u[j])];
            const int32_t item = item_rows[static_cast<size_t>(i[j])];
            unknown += (user < 0) | (item < 0);
            if (!keep) continue;
            if (in_first == nullptr || in_first[first + j]) {
              to[0]->set(n0++, user, item, r[j]);
            } else {
              to[1]->set(n1++, user, item, r[j]);
            }
          }
          next[0] = n0;
          next[1] = n1;
          unknowns[part] += unknown;
          return Status::OK();
        });
  }));
  *unknown += unknowns[0] + unknowns[1];
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

  Loaded all;
  CFPS_RETURN_IF_ERROR(Open("--data", options.data, options.read, &all));
  std::vector<uint8_t> used_users, used_items;
  std::vector<int32_t> user_rows, item_rows;
  // The two vocabularies, on two threads.
  auto build_vocabs = [&] {
    Both(
        all.source.size(),
        [&] { out->items = BuildUsedVocab(all.source.item_names(), used_items, &item_rows); },
        [&] { out->users = BuildUsedVocab(all.source.user_names(), used_users, &user_rows); });
  };

  if (!options.valid_data.empty()) {
    CFPS_RETURN_IF_ERROR(Check(options.read, &all));
    Loaded valid;
    CFPS_RETURN_IF_ERROR(Open("--valid-data", options.valid_data, options.read, &valid));
    CFPS_RETURN_IF_ERROR(Check(options.read, &valid));
    out->skipped_lines = all.skipped + valid.skipped;
    uint32_t train_bits = 0, valid_bits = 0;
    CFPS_RETURN_IF_ERROR(MarkUsed(all.source, nullptr, &used_users, &used_items,
                                  keep_ratings ? &train_bits : nullptr));
    build_vocabs();
    if (keep_ratings) {
      CFPS_RETURN_IF_ERROR(valid.source.ForEach(
          0, valid.source.size(), kRating,
          [&](size_t, const int32_t*, const int32_t*, const float* rating, size_t count) {
            valid_bits |= RatingBits(rating, count);
            return Status::OK();
          }));
    }
    const size_t n = all.source.size(), n_valid = valid.source.size();
    if (keep_ratings) {
      out->train =
          RatingArrays(ChooseRatingLayout(out->users.size(), out->items.size(), train_bits));
      out->valid =
          RatingArrays(ChooseRatingLayout(out->users.size(), out->items.size(), valid_bits));
      out->train.resize(n);
      out->valid.resize(n_valid);
    } else {
      out->train = RatingArrays::Counted(n);
      out->valid = RatingArrays::Counted(n_valid);
    }
    int64_t unknown = 0;
    RatingArrays* train_to[2] = {&out->train, nullptr};
    CFPS_RETURN_IF_ERROR(
        Place(all.source, nullptr, user_rows, item_rows, keep_ratings, train_to, &unknown));
    all.parsed = Ratings();  // free the raw arrays before the second file's
    RatingArrays* valid_to[2] = {&out->valid, nullptr};
    CFPS_RETURN_IF_ERROR(Place(valid.source, nullptr,
                               MapNames(valid.source.user_names(), out->users),
                               MapNames(valid.source.item_names(), out->items), keep_ratings,
                               valid_to, &out->valid_unknown));
    return Status::OK();
  }

  // Random split, exactly fastai's RandomSplitter(valid_pct, seed): torch.manual_seed(seed);
  // the first int(valid_pct * n) entries of torch.randperm(n) are the validation set. The split
  // needs only the number of ratings: for a prepared file it is drawn while another thread checks
  // the file (and drawn again for the smaller number in the rare case that ratings were skipped).
  size_t n = 0, n_valid = 0;
  std::vector<uint8_t> in_train;
  auto split = [&]() -> Status {
    n = all.source.size();
    CFPS_CHECK_LE(n, static_cast<size_t>(std::numeric_limits<uint32_t>::max()));
    n_valid = static_cast<size_t>(static_cast<double>(n) * options.valid_pct);
    if (n_valid >= n) {
      return Status::InvalidArgument("'" + options.data + "' has " + std::to_string(n) +
                                     " ratings: --valid-pct " + FormatDouble(options.valid_pct) +
                                     " leaves none for training");
    }
    ReserveHuge(&in_train, n);
    in_train.assign(n, 1);
    std::vector<uint32_t> perm;
    ReserveHuge(&perm, n);  // random swaps over n entries: 2 MB pages, far fewer page faults
    // Only the first n_valid entries are needed, and they are final after n_valid swaps.
    TorchRandperm(static_cast<int64_t>(n), options.seed, &perm, static_cast<int64_t>(n_valid));
    for (size_t k = 0; k < n_valid; ++k) in_train[perm[k]] = 0;
    return Status::OK();
  };
  Status split_status;
  if (all.is_prepared) {
    std::vector<size_t> bad;
    Status check;
    Both(
        all.source.size(),
        [&] { check = CheckRange(all, options.read, 0, all.source.size(), &bad); },
        [&] { split_status = split(); });
    CFPS_RETURN_IF_ERROR(check);
    if (!bad.empty()) {
      CFPS_RETURN_IF_ERROR(DropBad(bad, &all));
      split_status = split();
    }
  } else {
    split_status = split();
  }
  CFPS_RETURN_IF_ERROR(split_status);
  out->skipped_lines = all.skipped;
  out->split_bytes = static_cast<int64_t>(n * (sizeof(uint32_t) + sizeof(uint8_t)));

  uint32_t rating_bits = 0;
  CFPS_RETURN_IF_ERROR(MarkUsed(all.source, in_train.data(), &used_users, &used_items,
                                keep_ratings ? &rating_bits : nullptr));
  build_vocabs();
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
  RatingArrays* to[2] = {&out->train, &out->valid};
  return Place(all.source, in_train.data(), user_rows, item_rows, keep_ratings, to,
               &out->valid_unknown);
}

}  // namespace cfps
