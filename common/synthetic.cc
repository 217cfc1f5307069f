#include "common/synthetic.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <initializer_list>
#include <limits>
#include <utility>

#include "common/file_util.h"
#include "common/huge_pages.h"
#include "common/prepared.h"
#include "common/random.h"

namespace cfps {

namespace {

// Every random value of the generator comes from Hash4(seed, kGenSalt, purpose, ...).
constexpr uint64_t kGenSalt = 0x67656e;  // "gen"
enum Purpose : uint64_t {
  kUserPerm = 1,    // popularity rank -> user id
  kItemPerm = 2,    // popularity rank -> item id
  kCoverage = 3,    // the one rating of each item / user
  kDraws = 4,       // the remaining pairs
  kOrder = 5,       // file order
  kUserFactor = 6,  // P[u][f] (f = factors: the bias)
  kItemFactor = 7,  // Q[i][f] (f = factors: the bias)
  kNoise = 8,       // noise of rating (u, i)
};

constexpr double kGlobalMean = 3.5;
constexpr double kDotStd = 0.7;
constexpr double kUserBiasStd = 0.3;
constexpr double kItemBiasStd = 0.4;
constexpr int64_t kFirstTimestamp = 874965758;  // the first timestamp of ml-100k
constexpr double kMaxZipf = 10.0;
constexpr size_t kPrefetchAhead = 16;  // pairs

// v = n copies of `value`, in memory advised for huge pages before it is touched.
template <typename T>
void AssignHuge(std::vector<T>* v, size_t n, const T& value) {
  std::vector<T>().swap(*v);
  ReserveHuge(v, n);
  v->assign(n, value);
}

// Standard normal from one 64-bit hash: Marsaglia's polar method on a generator seeded with it
// (no cos, which costs as much as the rest of a rating).
inline double NormalAt(uint64_t h) {
  Rng rng(h);
  for (;;) {
    double x = 2.0 * rng.Uniform() - 1.0;
    double y = 2.0 * rng.Uniform() - 1.0;
    double s = x * x + y * y;
    if (s < 1.0 && s > 0.0) return x * std::sqrt(-2.0 * std::log(s) / s);
  }
}

// cfps::Shuffle (same generator calls, same result) with the far element of each swap prefetched
// a few steps ahead: for ml-25m-sized arrays every swap is otherwise a cache miss.
template <typename T>
void ShufflePrefetched(T* data, int64_t n, Rng* rng) {
  constexpr int64_t kAhead = 16;
  int64_t ring[kAhead];
  // ring[i % kAhead] holds j for step i (i counts down from n - 1 to 1).
  int64_t next = n - 1;  // next step whose j is to be drawn
  auto draw = [&]() {
    int64_t j = static_cast<int64_t>(rng->Below(static_cast<uint64_t>(next) + 1));
    ring[next % kAhead] = j;
    __builtin_prefetch(&data[j]);
    --next;
  };
  for (int64_t k = 0; k < kAhead && next > 0; ++k) draw();
  for (int64_t i = n - 1; i > 0; --i) {
    int64_t j = ring[i % kAhead];
    if (next > 0) draw();
    T tmp = data[i];
    data[i] = data[j];
    data[j] = tmp;
  }
}

inline uint64_t Pack(int64_t user, int64_t item) {
  return (static_cast<uint64_t>(user) << 32) | static_cast<uint64_t>(item);
}
inline int32_t PackedUser(uint64_t p) { return static_cast<int32_t>(p >> 32); }
inline int32_t PackedItem(uint64_t p) { return static_cast<int32_t>(p & 0xffffffffULL); }

// Zipf(s) weights over ranks, assigned to ids through a seeded permutation: weight[perm[r]] is
// proportional to (r + 1)^-s. Normalized to sum 1.
std::vector<double> ZipfWeights(int64_t n, double s, uint64_t perm_seed) {
  std::vector<int32_t> perm(static_cast<size_t>(n));
  for (int64_t k = 0; k < n; ++k) perm[static_cast<size_t>(k)] = static_cast<int32_t>(k);
  Rng rng(perm_seed);
  Shuffle(perm.data(), n, &rng);
  std::vector<double> w(static_cast<size_t>(n));
  double sum = 0;
  for (int64_t r = 0; r < n; ++r) {
    double v = std::pow(static_cast<double>(r + 1), -s);
    w[static_cast<size_t>(perm[static_cast<size_t>(r)])] = v;
    sum += v;
  }
  for (double& v : w) v /= sum;
  return w;
}

// Walker/Vose alias table: O(1) sampling of an index with probability proportional to weights.
class AliasTable {
 public:
  explicit AliasTable(const std::vector<double>& weights)
      : n_(static_cast<int64_t>(weights.size())), columns_(weights.size()) {
    double sum = 0;
    for (double w : weights) sum += w;
    std::vector<double> scaled(weights.size());
    std::vector<size_t> small, large;
    for (size_t k = 0; k < weights.size(); ++k) {
      scaled[k] = weights[k] * static_cast<double>(n_) / sum;
      (scaled[k] < 1.0 ? small : large).push_back(k);
    }
    while (!small.empty() && !large.empty()) {
      size_t s = small.back(), l = large.back();
      small.pop_back();
      columns_[s] = {scaled[s], static_cast<int32_t>(l)};
      scaled[l] -= 1.0 - scaled[s];
      if (scaled[l] < 1.0) {
        large.pop_back();
        small.push_back(l);
      }
    }
    // What is left has probability 1 up to rounding.
    for (const std::vector<size_t>* rest : {&small, &large}) {
      for (size_t k : *rest) columns_[k] = {1.0, static_cast<int32_t>(k)};
    }
  }

  // One draw of the generator: its high bits pick the column, the rest the coin.
  int64_t Sample(Rng* rng) const {
    double x = rng->Uniform() * static_cast<double>(n_);
    int64_t k = std::min(static_cast<int64_t>(x), n_ - 1);
    const Column& c = columns_[static_cast<size_t>(k)];
    return x - static_cast<double>(k) < c.prob ? k : c.alias;
  }

 private:
  struct Column {  // one cache access per draw
    double prob = 1.0;
    int32_t alias = 0;
  };
  int64_t n_;
  std::vector<Column> columns_;
};

// Open-addressing set of nonzero 64-bit keys, sized for a known number of insertions.
class KeySet {
 public:
  explicit KeySet(int64_t max_keys) {
    size_t cap = 1024;
    while (static_cast<double>(cap) * 0.75 < static_cast<double>(max_keys)) cap *= 2;
    AssignHuge(&slots_, cap, uint64_t{0});
    mask_ = cap - 1;
  }
  // always_inline: GCC deems a function made only of prefetches pure and drops calls to it.
  [[gnu::always_inline]] void Prefetch(uint64_t key) const {
    __builtin_prefetch(&slots_[Mix64(key) & mask_]);
  }
  // True when `key` was not there before.
  bool Insert(uint64_t key) {
    for (uint64_t pos = Mix64(key) & mask_;; pos = (pos + 1) & mask_) {
      if (slots_[pos] == key) return false;
      if (slots_[pos] == 0) {
        slots_[pos] = key;
        return true;
      }
    }
  }

 private:
  std::vector<uint64_t> slots_;
  uint64_t mask_;
};

// Draws the distinct (user, item) pairs, packed, in file order.
Status SamplePairs(const GenOptions& o, std::vector<uint64_t>* pairs) {
  const int64_t n = o.ratings;
  const std::vector<double> user_w =
      ZipfWeights(o.users, o.user_zipf, Hash4(o.seed, kGenSalt, kUserPerm, 0));
  const std::vector<double> item_w =
      ZipfWeights(o.items, o.item_zipf, Hash4(o.seed, kGenSalt, kItemPerm, 0));
  const AliasTable user_alias(user_w), item_alias(item_w);
  const uint64_t cells = static_cast<uint64_t>(o.users) * static_cast<uint64_t>(o.items);

  // Dense grids are sampled exactly in one pass (below); sparse ones by drawing pairs and
  // rejecting repeats. Both sample the same distribution: successive draws with probability
  // proportional to p(user) * p(item) among the pairs not yet drawn.
  const bool dense = cells <= std::max<uint64_t>(4 * static_cast<uint64_t>(n), uint64_t{1} << 22) &&
                     cells <= std::numeric_limits<uint32_t>::max();
  std::vector<uint8_t> taken;  // dense: per cell
  KeySet seen(dense ? 0 : n);  // sparse: packed pair + 1
  pairs->clear();
  pairs->reserve(static_cast<size_t>(n));
  AdviseHugePages(pairs->data(), static_cast<size_t>(n) * sizeof(uint64_t));
  auto add = [&](int64_t u, int64_t i) {
    if (dense) {
      taken[static_cast<size_t>(u * o.items + i)] = 1;
    } else {
      seen.Insert(Pack(u, i) + 1);
    }
    pairs->push_back(Pack(u, i));
  };
  if (dense) taken.assign(cells, 0);

  // Every item, then every user still without one, gets a rating first (no repeats possible).
  if (n >= o.users + o.items) {
    Rng rng(Hash4(o.seed, kGenSalt, kCoverage, 0));
    std::vector<uint8_t> has_user(static_cast<size_t>(o.users), 0);
    for (int64_t i = 0; i < o.items; ++i) {
      int64_t u = user_alias.Sample(&rng);
      has_user[static_cast<size_t>(u)] = 1;
      add(u, i);
    }
    for (int64_t u = 0; u < o.users; ++u) {
      if (!has_user[static_cast<size_t>(u)]) add(u, item_alias.Sample(&rng));
    }
  }

  const int64_t remaining = n - static_cast<int64_t>(pairs->size());
  Rng rng(Hash4(o.seed, kGenSalt, kDraws, 0));
  if (dense && remaining > 0) {
    // Efraimidis-Spirakis: cell c gets key log(E_c) - log(w_c) with E_c ~ Exp(1); the `remaining`
    // smallest keys are a weighted sample without replacement. Ties are broken by cell so the
    // result does not depend on the nth_element implementation.
    struct Candidate {
      float key;
      uint32_t cell;
    };
    std::vector<Candidate> cand;
    cand.reserve(cells - pairs->size());
    for (uint64_t c = 0; c < cells; ++c) {
      if (taken[c]) continue;
      double w =
          user_w[c / static_cast<uint64_t>(o.items)] * item_w[c % static_cast<uint64_t>(o.items)];
      double key = std::log(-std::log(rng.Uniform())) - std::log(w);
      cand.push_back({static_cast<float>(key), static_cast<uint32_t>(c)});
    }
    auto less = [](const Candidate& a, const Candidate& b) {
      return a.key < b.key || (a.key == b.key && a.cell < b.cell);
    };
    std::nth_element(cand.begin(), cand.begin() + remaining, cand.end(), less);
    std::vector<uint32_t> chosen(static_cast<size_t>(remaining));
    for (int64_t k = 0; k < remaining; ++k) {
      chosen[static_cast<size_t>(k)] = cand[static_cast<size_t>(k)].cell;
    }
    std::vector<Candidate>().swap(cand);
    std::sort(chosen.begin(), chosen.end());
    for (uint32_t c : chosen) pairs->push_back(Pack(c / o.items, c % o.items));
  } else if (remaining > 0) {
    // Rejection of repeats. Very concentrated popularity on a fairly dense grid could make this
    // crawl; give up with a clear message instead.
    // Draws go in batches whose set slots are prefetched first: the set is far larger than the
    // caches, and the draws are independent until they are inserted, in draw order.
    const int64_t max_draws = 200 * n + (int64_t{10} << 20);
    constexpr int kBatch = 32;
    uint64_t batch[kBatch];
    int64_t draws = 0;
    while (static_cast<int64_t>(pairs->size()) < n) {
      if (draws > max_draws) {
        return Status::InvalidArgument("cannot draw " + std::to_string(n) +
                                       " distinct (user, item) pairs: popularity is too "
                                       "concentrated; lower --item-zipf, --user-zipf or --ratings");
      }
      for (int b = 0; b < kBatch; ++b) {
        int64_t u = user_alias.Sample(&rng);
        int64_t i = item_alias.Sample(&rng);
        batch[b] = Pack(u, i);
        seen.Prefetch(batch[b] + 1);
      }
      draws += kBatch;
      for (int b = 0; b < kBatch && static_cast<int64_t>(pairs->size()) < n; ++b) {
        if (seen.Insert(batch[b] + 1)) pairs->push_back(batch[b]);
      }
    }
  }

  Rng order(Hash4(o.seed, kGenSalt, kOrder, 0));
  ShufflePrefetched(pairs->data(), n, &order);
  return Status::OK();
}

// The planted model: factors and bias of every user and item.
class PlantedModel {
 public:
  explicit PlantedModel(const GenOptions& o)
      : k_(o.factors),
        noise_(o.noise),
        seed_(o.seed),
        user_(Table(o.users, o, kUserFactor, kUserBiasStd)),
        item_(Table(o.items, o, kItemFactor, kItemBiasStd)) {}

  // Pulls the rows of (u, i) towards the cache ahead of Rating(u, i): the pairs come in random
  // order and the tables are larger than the caches at ml-25m scale.
  [[gnu::always_inline]] void Prefetch(int32_t u, int32_t i) const {  // see KeySet::Prefetch
    const size_t row_bytes = static_cast<size_t>(k_ + 1) * sizeof(float);
    const char* p =
        reinterpret_cast<const char*>(&user_[static_cast<size_t>(u) * static_cast<size_t>(k_ + 1)]);
    const char* q =
        reinterpret_cast<const char*>(&item_[static_cast<size_t>(i) * static_cast<size_t>(k_ + 1)]);
    for (size_t off = 0; off < row_bytes; off += 64) {
      __builtin_prefetch(p + off);
      __builtin_prefetch(q + off);
    }
  }

  int Rating(int32_t u, int32_t i) const {
    const float* p = &user_[static_cast<size_t>(u) * static_cast<size_t>(k_ + 1)];
    const float* q = &item_[static_cast<size_t>(i) * static_cast<size_t>(k_ + 1)];
    double y = kGlobalMean + p[k_] + q[k_];
    for (int f = 0; f < k_; ++f) y += static_cast<double>(p[f]) * q[f];
    if (noise_ > 0) {
      y += noise_ * NormalAt(Hash4(seed_, kGenSalt, kNoise, Pack(u, i)));
    }
    double r = std::round(y);
    return static_cast<int>(std::min(5.0, std::max(1.0, r)));
  }

 private:
  // Rows of k factors ~ N(0, s^2) with k s^4 = kDotStd^2, then the bias.
  static std::vector<float> Table(int64_t rows, const GenOptions& o, Purpose purpose,
                                  double bias_std) {
    const int k = o.factors;
    const double s = std::sqrt(kDotStd / std::sqrt(static_cast<double>(k)));
    std::vector<float> t;
    AssignHuge(&t, static_cast<size_t>(rows) * static_cast<size_t>(k + 1), 0.0f);
    for (int64_t r = 0; r < rows; ++r) {
      float* row = &t[static_cast<size_t>(r) * static_cast<size_t>(k + 1)];
      for (int f = 0; f <= k; ++f) {
        double z = NormalAt(Hash4(o.seed, kGenSalt, purpose, Pack(r, f)));
        row[f] = static_cast<float>(z * (f < k ? s : bias_std));
      }
    }
    return t;
  }

  int k_;
  double noise_;
  uint64_t seed_;
  std::vector<float> user_, item_;  // rows of k factors and the bias
};

std::string FormatDouble(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%g", v);
  return buf;
}

}  // namespace

Status ValidateGenOptions(const GenOptions& o) {
  constexpr int64_t kMaxIds = std::numeric_limits<int32_t>::max();
  if (o.users <= 0 || o.users > kMaxIds) {
    return Status::InvalidArgument("--users must be in [1, " + std::to_string(kMaxIds) + "], got " +
                                   std::to_string(o.users));
  }
  if (o.items <= 0 || o.items > kMaxIds) {
    return Status::InvalidArgument("--items must be in [1, " + std::to_string(kMaxIds) + "], got " +
                                   std::to_string(o.items));
  }
  if (o.ratings <= 0 || o.ratings > kMaxIds) {
    return Status::InvalidArgument("--ratings must be in [1, " + std::to_string(kMaxIds) +
                                   "], got " + std::to_string(o.ratings));
  }
  if (static_cast<unsigned __int128>(o.ratings) >
      static_cast<unsigned __int128>(o.users) * static_cast<unsigned __int128>(o.items)) {
    return Status::InvalidArgument("--ratings " + std::to_string(o.ratings) +
                                   " is more than --users x --items = " + std::to_string(o.users) +
                                   " x " + std::to_string(o.items) + " distinct pairs");
  }
  if (o.factors <= 0 || o.factors > 4096) {
    return Status::InvalidArgument("--factors must be in [1, 4096], got " +
                                   std::to_string(o.factors));
  }
  if (!(o.noise >= 0 && std::isfinite(o.noise))) {
    return Status::InvalidArgument("--noise must be a finite number >= 0, got " +
                                   FormatDouble(o.noise));
  }
  if (!(o.item_zipf >= 0 && o.item_zipf <= kMaxZipf)) {
    return Status::InvalidArgument("--item-zipf must be in [0, 10], got " +
                                   FormatDouble(o.item_zipf));
  }
  if (!(o.user_zipf >= 0 && o.user_zipf <= kMaxZipf)) {
    return Status::InvalidArgument("--user-zipf must be in [0, 10], got " +
                                   FormatDouble(o.user_zipf));
  }
  return Status::OK();
}

Status GenerateSynthetic(const GenOptions& options, SyntheticRatings* out) {
  *out = SyntheticRatings();
  CFPS_RETURN_IF_ERROR(ValidateGenOptions(options));
  std::vector<uint64_t> pairs;
  CFPS_RETURN_IF_ERROR(SamplePairs(options, &pairs));
  const PlantedModel model(options);
  out->user.resize(pairs.size());
  out->item.resize(pairs.size());
  out->rating.resize(pairs.size());
  for (size_t k = 0; k < pairs.size(); ++k) {
    if (k + kPrefetchAhead < pairs.size()) {
      model.Prefetch(PackedUser(pairs[k + kPrefetchAhead]), PackedItem(pairs[k + kPrefetchAhead]));
    }
    out->user[k] = PackedUser(pairs[k]);
    out->item[k] = PackedItem(pairs[k]);
    out->rating[k] = static_cast<uint8_t>(model.Rating(out->user[k], out->item[k]));
  }
  return Status::OK();
}

namespace {

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The prepared form of the very file GenerateRatings would write as text: names are the 1-based
// ids as text, interned in first-appearance order (what cfps prepare makes of the text file).
Status GeneratePrepared(const GenOptions& options, const std::string& out_path) {
  SyntheticRatings syn;
  CFPS_RETURN_IF_ERROR(GenerateSynthetic(options, &syn));
  Ratings r;
  std::vector<int32_t> user_index(static_cast<size_t>(options.users), -1);
  std::vector<int32_t> item_index(static_cast<size_t>(options.items), -1);
  r.user.resize(syn.size());
  r.item.resize(syn.size());
  r.rating.resize(syn.size());
  for (size_t k = 0; k < syn.size(); ++k) {
    int32_t& u = user_index[static_cast<size_t>(syn.user[k])];
    if (u < 0) {
      u = static_cast<int32_t>(r.user_names.size());
      r.user_names.push_back(std::to_string(int64_t{syn.user[k]} + 1));
    }
    int32_t& i = item_index[static_cast<size_t>(syn.item[k])];
    if (i < 0) {
      i = static_cast<int32_t>(r.item_names.size());
      r.item_names.push_back(std::to_string(int64_t{syn.item[k]} + 1));
    }
    r.user[k] = u;
    r.item[k] = i;
    r.rating[k] = static_cast<float>(syn.rating[k]);
  }
  syn = SyntheticRatings();
  return WritePrepared(ViewOf(r), out_path);
}

}  // namespace

Status GenerateRatings(const GenOptions& options, const std::string& out_path) {
  CFPS_RETURN_IF_ERROR(ValidateGenOptions(options));
  if (EndsWith(out_path, kPreparedExtension)) return GeneratePrepared(options, out_path);
  std::vector<uint64_t> pairs;
  CFPS_RETURN_IF_ERROR(SamplePairs(options, &pairs));
  const PlantedModel model(options);

  const std::string context = "cannot write '" + out_path + "'";
  AtomicFileWriter file;
  CFPS_RETURN_IF_ERROR(file.Open(out_path).WithContext(context));
  // Formatted a MiB at a time (plus room for one line): AtomicFileWriter::Append writes blocks
  // over a MiB straight to the file, without copying them again.
  constexpr size_t kBufBytes = size_t{1} << 20;
  constexpr size_t kMaxLine = 64;
  std::vector<char> buf(kBufBytes + kMaxLine);
  size_t used = 0;
  for (size_t k = 0; k < pairs.size(); ++k) {
    if (k + kPrefetchAhead < pairs.size()) {
      model.Prefetch(PackedUser(pairs[k + kPrefetchAhead]), PackedItem(pairs[k + kPrefetchAhead]));
    }
    int32_t u = PackedUser(pairs[k]), i = PackedItem(pairs[k]);
    char* p = buf.data() + used;
    char* end = buf.data() + buf.size();
    p = std::to_chars(p, end, static_cast<int64_t>(u) + 1).ptr;
    *p++ = '\t';
    p = std::to_chars(p, end, static_cast<int64_t>(i) + 1).ptr;
    *p++ = '\t';
    *p++ = static_cast<char>('0' + model.Rating(u, i));
    *p++ = '\t';
    p = std::to_chars(p, end, kFirstTimestamp + static_cast<int64_t>(k)).ptr;
    *p++ = '\n';
    used = static_cast<size_t>(p - buf.data());
    if (used >= kBufBytes || k + 1 == pairs.size()) {
      CFPS_RETURN_IF_ERROR(file.Append(buf.data(), used).WithContext(context));
      used = 0;
    }
  }
  CFPS_RETURN_IF_ERROR(file.Commit().WithContext(context));
  return Status::OK();
}

}  // namespace cfps
