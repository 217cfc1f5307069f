#include "common/ratings.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>

#include "common/huge_pages.h"
#include "common/random.h"
#include "common/thread_pool.h"

namespace cfps {

Status ParseRatingsFormat(const std::string& name, RatingsFormat* out) {
  if (name == "auto") {
    *out = RatingsFormat::kAuto;
  } else if (name == "tsv") {
    *out = RatingsFormat::kTsv;
  } else if (name == "dat") {
    *out = RatingsFormat::kDat;
  } else if (name == "csv") {
    *out = RatingsFormat::kCsv;
  } else {
    return Status::InvalidArgument("--format must be one of auto, tsv, dat, csv; got '" + name +
                                   "'");
  }
  return Status::OK();
}

namespace {

// Files are read in chunks of this size (grown when one line is longer): the whole of ml-25m
// never has to sit in memory next to the parsed arrays.
constexpr size_t kChunkBytes = size_t{8} << 20;
// Offending lines are quoted in error messages up to this many bytes.
constexpr size_t kQuoteBytes = 80;

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "ShortKey assumes little endian");

// Every id handed to the interner must stay readable for kOverRead bytes past its end (the read
// buffer is padded by that much, csv scratch strings reserve it), so that 8 bytes of an id are one
// unaligned load and a mask: no loop, no call.
constexpr size_t kOverRead = 8;

inline uint64_t ShortKey(const char* p, size_t n) {
  uint64_t w;
  std::memcpy(&w, p, 8);
  return n >= 8 ? w : w & ((uint64_t{1} << (8 * n)) - 1);
}

inline uint64_t HashLong(const char* p, size_t n) {
  uint64_t h = 0x9e3779b97f4a7c15ULL * (n + 1);
  for (; n >= 8; p += 8, n -= 8) h = Mix64(h ^ ShortKey(p, 8));
  if (n > 0) h = Mix64(h ^ ShortKey(p, n));
  return h;
}

inline bool SameBytes(std::string_view a, const std::string& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size()) == 0;
}

// Maps raw id text to its index in `names` (first-appearance order). Open addressing; an id of up
// to 8 bytes (every MovieLens id) is compared as one word kept in the slot, so a lookup touches
// neither `names` nor memcmp, and never builds a std::string for an id already seen
// (std::unordered_map<std::string> would, before C++20). Repeats of the previous id (ml-1m/10m/25m
// are sorted by user) skip even the table.
class Interner {
 public:
  explicit Interner(std::vector<std::string>* names) : names_(names), slots_(1024), mask_(1023) {}

  // Pulls the slot where `s` is probably found towards the cache. always_inline: GCC deems a
  // function made only of a prefetch pure and drops calls to it.
  [[gnu::always_inline]] void Prefetch(std::string_view s) const {
    const size_t n = s.size();
    const uint64_t h = n <= 8 ? HashShort(ShortKey(s.data(), n), n) : HashLong(s.data(), n);
    __builtin_prefetch(&slots_[h & mask_]);
  }

  // The first interned id that contains a tab or a line break (-1: none). The vocabulary files
  // (users.tsv, items.tsv: "row<TAB>raw_id") cannot hold such an id.
  int32_t bad_index() const { return bad_index_; }

  int32_t Intern(std::string_view s) {
    const size_t n = s.size();
    if (n <= 8) {
      const uint64_t key = ShortKey(s.data(), n);
      if (key == last_key_ && n == last_len_) return last_index_;
      const uint64_t h = HashShort(key, n);
      for (uint64_t pos = h & mask_;; pos = (pos + 1) & mask_) {
        Slot& slot = slots_[pos];
        if (slot.index < 0) return Remember(key, n, Insert(s, key, &slot));
        if (slot.key == key && slot.len == n) return Remember(key, n, slot.index);
      }
    }
    const uint64_t h = HashLong(s.data(), n);
    for (uint64_t pos = h & mask_;; pos = (pos + 1) & mask_) {
      Slot& slot = slots_[pos];
      if (slot.index < 0) return Insert(s, h, &slot);
      if (slot.key == h && slot.len == n &&
          SameBytes(s, (*names_)[static_cast<size_t>(slot.index)])) {
        return slot.index;
      }
    }
  }

 private:
  // key: the id's bytes when len <= 8, else its hash.
  struct Slot {
    uint64_t key = 0;
    int32_t index = -1;
    uint32_t len = 0;
  };

  static uint64_t HashShort(uint64_t key, size_t n) { return Mix64(key ^ (uint64_t{n} << 59)); }
  static uint64_t SlotHash(const Slot& slot) {
    return slot.len <= 8 ? HashShort(slot.key, slot.len) : slot.key;
  }

  int32_t Remember(uint64_t key, size_t n, int32_t index) {
    last_key_ = key;
    last_len_ = n;
    last_index_ = index;
    return index;
  }

  int32_t Insert(std::string_view s, uint64_t key, Slot* slot) {
    CFPS_CHECK_LT(names_->size(), static_cast<size_t>(std::numeric_limits<int32_t>::max()));
    CFPS_CHECK_LT(s.size(), size_t{std::numeric_limits<uint32_t>::max()});
    const int32_t index = static_cast<int32_t>(names_->size());
    // Checked once per distinct id, not per line: free on the hot path.
    if (bad_index_ < 0 && s.find_first_of("\t\r\n") != std::string_view::npos) bad_index_ = index;
    names_->emplace_back(s);
    slot->key = key;
    slot->len = static_cast<uint32_t>(s.size());
    slot->index = index;
    if (names_->size() * 2 > slots_.size()) Grow();
    return index;
  }

  void Grow() {
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(old.size() * 2, Slot());
    mask_ = slots_.size() - 1;
    for (const Slot& slot : old) {
      if (slot.index < 0) continue;
      uint64_t pos = SlotHash(slot) & mask_;
      while (slots_[pos].index >= 0) pos = (pos + 1) & mask_;
      slots_[pos] = slot;
    }
  }

  std::vector<std::string>* names_;
  int32_t bad_index_ = -1;
  std::vector<Slot> slots_;
  uint64_t mask_;
  // The previous short id (len 9 never matches an id of 8 bytes or less).
  uint64_t last_key_ = 0;
  size_t last_len_ = 9;
  int32_t last_index_ = -1;
};

inline bool IsBlank(char c) { return c == ' ' || c == '\t'; }

inline std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsBlank(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsBlank(s.back())) s.remove_suffix(1);
  return s;
}

bool EqualsIgnoreCase(std::string_view a, const char* b) {
  size_t n = std::strlen(b);
  if (a.size() != n) return false;
  for (size_t k = 0; k < n; ++k) {
    char x = a[k], y = b[k];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

std::string Quote(std::string_view line) {
  if (line.size() <= kQuoteBytes) return "'" + std::string(line) + "'";
  return "'" + std::string(line.substr(0, kQuoteBytes)) + "...'";
}

std::string FormatBound(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%g", v);
  return buf;
}

enum class RatingParse { kOk, kNotANumber, kNotFinite };

// kTenths.v[n] == n / 10.0, correctly rounded like from_chars("d.d") (a division costs ~5% of a
// csv line).
struct Tenths {
  double v[100];
};
constexpr Tenths MakeTenths() {
  Tenths t{};
  for (int n = 0; n < 100; ++n) t.v[n] = n / 10.0;
  return t;
}
constexpr Tenths kTenths = MakeTenths();

// The common MovieLens spellings ("4", "3.5") take a shortcut that gives the same double as
// from_chars (an exact integer divided by 10 is correctly rounded, see kTenths); anything else goes
// to from_chars, which in libstdc++ 12 is exact as well.
inline RatingParse ParseRating(std::string_view s, double* out) {
  const char* p = s.data();
  size_t n = s.size();
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  if (n == 1 && digit(p[0])) {
    *out = p[0] - '0';
    return RatingParse::kOk;
  }
  if (n == 3 && digit(p[0]) && p[1] == '.' && digit(p[2])) {
    *out = kTenths.v[(p[0] - '0') * 10 + (p[2] - '0')];
    return RatingParse::kOk;
  }
  if (n > 1 && p[0] == '+' && p[1] != '-') {  // from_chars does not take a leading '+'
    ++p;
    --n;
  }
  if (n == 0) return RatingParse::kNotANumber;
  double v = 0;
  std::from_chars_result r = std::from_chars(p, p + n, v);
  if (r.ptr != p + n) return RatingParse::kNotANumber;
  if (r.ec == std::errc::result_out_of_range) return RatingParse::kNotFinite;
  if (r.ec != std::errc()) return RatingParse::kNotANumber;
  if (!std::isfinite(v)) return RatingParse::kNotFinite;
  *out = v;
  return RatingParse::kOk;
}

// Splits one csv line into fields. Quoted fields ("a,b", "say ""hi""") are unquoted; text
// outside quotes around a field is trimmed of spaces and tabs. Fields that needed unescaping are
// stored in `scratch` (one string per field index, reused across lines).
class CsvSplitter {
 public:
  // Fields 0..max_field are returned in `fields`. Returns max_field + 1 when the line has that
  // many fields, else the number of fields it has.
  size_t Split(std::string_view line, char delim, size_t max_field, std::string_view* fields) {
    if (scratch_.size() <= max_field) scratch_.resize(max_field + 1);
    used_scratch_ = false;
    size_t count = 0;
    size_t pos = 0;
    for (;;) {
      size_t end = ParseField(line, pos, delim, count, &fields[count]);
      ++count;
      if (count > max_field || end >= line.size()) return count;
      pos = end + 1;
    }
  }

  // Whether a field of the last Split lives in scratch (valid only until the next Split).
  bool used_scratch() const { return used_scratch_; }

  // Every field of `line` (for the header).
  std::vector<std::string> SplitAll(std::string_view line, char delim) {
    std::vector<std::string> out;
    if (scratch_.empty()) scratch_.resize(1);
    size_t pos = 0;
    for (;;) {
      std::string_view field;
      size_t end = ParseField(line, pos, delim, 0, &field);
      out.emplace_back(field);
      if (end >= line.size()) return out;
      pos = end + 1;
    }
  }

 private:
  // Parses the field starting at `pos`; returns the position of the delimiter that ends it (or
  // line.size()).
  size_t ParseField(std::string_view line, size_t pos, char delim, size_t slot,
                    std::string_view* field) {
    size_t start = pos;
    while (start < line.size() && IsBlank(line[start]) && line[start] != delim) ++start;
    if (start < line.size() && line[start] == '"') {
      std::string& s = scratch_[slot];
      used_scratch_ = true;
      s.clear();
      size_t k = start + 1;
      bool closed = false;
      while (k < line.size()) {
        char c = line[k];
        if (c == '"') {
          if (k + 1 < line.size() && line[k + 1] == '"') {
            s.push_back('"');
            k += 2;
            continue;
          }
          closed = true;
          ++k;
          break;
        }
        s.push_back(c);
        ++k;
      }
      // Whatever follows the closing quote up to the delimiter is kept (minimal handling).
      size_t end = k;
      while (end < line.size() && line[end] != delim) ++end;
      if (!closed || !Trim(line.substr(k, end - k)).empty()) {
        s.append(line.data() + k, end - k);
      }
      s.reserve(s.size() + kOverRead);  // see kOverRead
      *field = s;
      return end;
    }
    const void* hit = std::memchr(line.data() + pos, delim, line.size() - pos);
    size_t end =
        hit ? static_cast<size_t>(static_cast<const char*>(hit) - line.data()) : line.size();
    *field = Trim(line.substr(pos, end - pos));
    return end;
  }

  std::vector<std::string> scratch_;
  bool used_scratch_ = false;
};

class RatingsParser {
 public:
  RatingsParser(const std::string& path, const ReadOptions& options, Ratings* out)
      : path_(path),
        options_(options),
        out_(out),
        format_(options.format),
        users_(&out->user_names),
        items_(&out->item_names) {}

  // One physical line, without its '\n'. `line_no` is 1-based.
  Status Line(std::string_view line, int64_t line_no) {
    if (line_no == 1 && line.size() >= 3 && std::memcmp(line.data(), "\xEF\xBB\xBF", 3) == 0) {
      line.remove_prefix(3);
    }
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || ((IsBlank(line.front()) || IsBlank(line.back())) && Trim(line).empty())) {
      return Status::OK();  // empty lines are allowed anywhere
    }
    if (!seen_first_) {
      seen_first_ = true;
      if (format_ == RatingsFormat::kAuto) {
        if (line.find("::") != std::string_view::npos) {
          format_ = RatingsFormat::kDat;
        } else if (line.find(',') != std::string_view::npos ||
                   (line.find(';') != std::string_view::npos &&
                    line.find_first_of(" \t") == std::string_view::npos)) {
          format_ = RatingsFormat::kCsv;  // commas, or a header like userId;movieId;rating
        } else {
          format_ = RatingsFormat::kTsv;
        }
      }
      if (format_ == RatingsFormat::kCsv) return Header(line, line_no);
    }
    std::string_view f[3];
    switch (format_) {
      case RatingsFormat::kTsv:
        if (!SplitTsv(line, f)) return Bad(line_no);
        break;
      case RatingsFormat::kDat:
        if (!SplitDat(line, f)) return Bad(line_no);
        break;
      default:
        if (!SplitCsv(line, f)) return Bad(line_no);
        break;
    }
    double value = 0;
    RatingParse parsed = ParseRating(f[2], &value);
    if (parsed != RatingParse::kOk) {
      error_ = "rating " + Quote(f[2]) +
               (parsed == RatingParse::kNotFinite ? " is not a finite number" : " is not a number");
      return Bad(line_no);
    }
    if (!(value >= options_.min_rating && value <= options_.max_rating)) {
      error_ = "rating " + std::string(f[2]) + " is outside --y-range [" +
               FormatBound(options_.min_rating) + ", " + FormatBound(options_.max_rating) + "]";
      return Bad(line_no);
    }
    if (f[0].empty() || f[1].empty()) {
      error_ = std::string("empty ") + (f[0].empty() ? "user" : "item") + " id: " + Quote(line);
      return Bad(line_no);
    }
    pending_[num_pending_++] = {f[0], f[1], static_cast<float>(value), line_no};
    // Unescaped (quoted) csv fields live in scratch strings that the next line overwrites.
    if (num_pending_ == kBatch || (format_ == RatingsFormat::kCsv && csv_.used_scratch())) {
      return Flush();
    }
    return Status::OK();
  }

  // Interns and stores the pending ratings. Must run before the bytes they point into change.
  // Batching lets the hash-table slots of a whole batch be fetched at once: with ids in random
  // order (a shuffled 25M file has 162k users) every lookup is otherwise a cache miss in turn.
  // An id with a tab or a line break is an error (even with skip_bad_lines: it is found once per
  // distinct id, when it is interned) naming the line of its first occurrence.
  Status Flush() {
    for (int k = 0; k < num_pending_; ++k) {
      users_.Prefetch(pending_[k].user);
      items_.Prefetch(pending_[k].item);
    }
    const size_t base = out_->rating.size();
    for (int k = 0; k < num_pending_; ++k) {
      out_->user.push_back(users_.Intern(pending_[k].user));
      out_->item.push_back(items_.Intern(pending_[k].item));
      out_->rating.push_back(pending_[k].rating);
    }
    const int n = num_pending_;
    num_pending_ = 0;
    if (users_.bad_index() < 0 && items_.bad_index() < 0) return Status::OK();
    for (int k = 0; k < n; ++k) {
      const bool user = out_->user[base + static_cast<size_t>(k)] == users_.bad_index();
      if (!user && out_->item[base + static_cast<size_t>(k)] != items_.bad_index()) continue;
      const std::string& id = user ? out_->user_names[static_cast<size_t>(users_.bad_index())]
                                   : out_->item_names[static_cast<size_t>(items_.bad_index())];
      return Status::InvalidArgument(
          path_ + ":" + std::to_string(pending_[k].line) + ": " + (user ? "user" : "item") +
          " id " + Quote(id) +
          " contains a tab or a line break, which the vocabulary files (users.tsv, items.tsv) "
          "cannot hold: remove it from the id");
    }
    return Status::OK();
  }

  // Whether the first non-empty line (format detection; the csv header) has been seen.
  bool seen_first() const { return seen_first_; }
  // Continue a file whose first lines `other` has read: its format and csv columns, no detection
  // and no header here (the second half of a file parsed in two).
  void AdoptFormat(const RatingsParser& other) {
    format_ = other.format_;
    seen_first_ = other.seen_first_;
    delim_ = other.delim_;
    user_col_ = other.user_col_;
    item_col_ = other.item_col_;
    rating_col_ = other.rating_col_;
    max_col_ = other.max_col_;
  }

  // Call after the last line.
  Status Finish() {
    CFPS_RETURN_IF_ERROR(Flush());
    if (out_->rating.empty()) {
      std::string msg = "'" + path_ + "' contains no ratings";
      if (out_->skipped_lines > 0) {
        msg += " (" + std::to_string(out_->skipped_lines) + " bad lines skipped)";
      } else {
        msg += " (it is empty, or has only blank lines or a header): pass a ratings file";
      }
      return Status::InvalidArgument(msg);
    }
    return Status::OK();
  }

 private:
  // Records a bad line: an error naming file:line, or a count with skip_bad_lines. error_ holds
  // the reason.
  Status Bad(int64_t line_no) {
    if (options_.skip_bad_lines) {
      ++out_->skipped_lines;
      return Status::OK();
    }
    std::string msg = path_ + ":" + std::to_string(line_no) + ": " + error_;
    msg += options_.skip_option.empty()
               ? " (fix or delete the line)"
               : " (fix or delete the line, or pass " + options_.skip_option +
                     " to skip and count such lines)";
    return Status::InvalidArgument(msg);
  }

  void FieldCountError(size_t want, size_t got, std::string_view line) {
    error_ = "expected " + std::to_string(want) + " or more fields, got " + std::to_string(got) +
             ": " + Quote(line);
  }

  bool SplitTsv(std::string_view line, std::string_view* f) {
    size_t n = line.size();
    size_t k = 0;
    size_t count = 0;
    while (count < 3) {
      while (k < n && IsBlank(line[k])) ++k;
      if (k == n) break;
      size_t start = k;
      while (k < n && !IsBlank(line[k])) ++k;
      f[count++] = line.substr(start, k - start);
    }
    if (count == 3) return true;
    FieldCountError(3, count, line);
    return false;
  }

  bool SplitDat(std::string_view line, std::string_view* f) {
    size_t count = 0;
    size_t pos = 0;
    while (count < 3) {
      size_t sep = line.find("::", pos);
      std::string_view field =
          line.substr(pos, sep == std::string_view::npos ? line.npos : sep - pos);
      f[count++] = Trim(field);
      if (sep == std::string_view::npos) break;
      pos = sep + 2;
    }
    if (count == 3) return true;
    FieldCountError(3, count, line);
    return false;
  }

  bool SplitCsv(std::string_view line, std::string_view* f) {
    std::string_view* fields = csv_fields_;
    size_t got = csv_.Split(line, delim_, max_col_, fields);
    if (got <= max_col_) {
      FieldCountError(max_col_ + 1, got, line);
      return false;
    }
    f[0] = fields[user_col_];
    f[1] = fields[item_col_];
    f[2] = fields[rating_col_];
    return true;
  }

  Status Header(std::string_view line, int64_t line_no) {
    if (line.find(',') != std::string_view::npos) {
      delim_ = ',';
    } else if (line.find('\t') != std::string_view::npos) {
      delim_ = '\t';
    } else if (line.find(';') != std::string_view::npos) {
      delim_ = ';';
    }
    static const char* const kUserNames[] = {"userId", "user", "user_id"};
    static const char* const kItemNames[] = {"movieId", "itemId", "item", "item_id", "movie_id"};
    static const char* const kRatingNames[] = {"rating"};
    size_t user = SIZE_MAX, item = SIZE_MAX, rating = SIZE_MAX;
    std::vector<std::string> columns = CsvSplitter().SplitAll(line, delim_);
    auto match = [&](const char* const* names, size_t count, size_t* col_out) {
      for (size_t col = 0; col < columns.size() && *col_out == SIZE_MAX; ++col) {
        for (size_t k = 0; k < count; ++k) {
          if (EqualsIgnoreCase(columns[col], names[k])) *col_out = col;
        }
      }
    };
    match(kUserNames, 3, &user);
    match(kItemNames, 5, &item);
    match(kRatingNames, 1, &rating);
    auto missing = [&](const char* what, const char* names) {
      return Status::InvalidArgument(path_ + ":" + std::to_string(line_no) +
                                     ": csv header has no " + what + " column (expected one of " +
                                     names + "): " + Quote(line) +
                                     " (a csv file starts with a header line naming its columns, "
                                     "e.g. userId,movieId,rating)");
    };
    if (user == SIZE_MAX) return missing("user", "userId, user, user_id");
    if (item == SIZE_MAX) return missing("item", "movieId, itemId, item, item_id, movie_id");
    if (rating == SIZE_MAX) return missing("rating", "rating");
    size_t max_col = std::max(user, std::max(item, rating));
    if (max_col >= kMaxCsvFields) {
      return Status::InvalidArgument(path_ + ":" + std::to_string(line_no) +
                                     ": csv columns beyond the " + std::to_string(kMaxCsvFields) +
                                     "th are not supported: " + Quote(line));
    }
    user_col_ = user;
    item_col_ = item;
    rating_col_ = rating;
    max_col_ = max_col;
    return Status::OK();
  }

  static constexpr size_t kMaxCsvFields = 64;

  const std::string& path_;
  const ReadOptions& options_;
  Ratings* out_;
  RatingsFormat format_;
  Interner users_, items_;
  struct Pending {
    std::string_view user, item;
    float rating;
    int64_t line;
  };
  static constexpr int kBatch = 16;
  Pending pending_[kBatch];
  int num_pending_ = 0;
  bool seen_first_ = false;
  char delim_ = ',';
  size_t user_col_ = 0, item_col_ = 1, rating_col_ = 2, max_col_ = 2;
  CsvSplitter csv_;
  std::string_view csv_fields_[kMaxCsvFields];  // a member: zeroing it per line costs 15%
  std::string error_;
};

std::string ErrnoText(int err) { return std::strerror(err); }

// Closes a file descriptor on scope exit.
class FdCloser {
 public:
  explicit FdCloser(int fd) : fd_(fd) {}
  ~FdCloser() { ::close(fd_); }
  FdCloser(const FdCloser&) = delete;
  FdCloser& operator=(const FdCloser&) = delete;

 private:
  int fd_;
};

// What the first bytes of a file say about it being a text file of lines: an error for UTF-16/32,
// binary data, archives and CR-only line endings, which would otherwise fail on a baffling line
// or, for CR line endings, read as one line (one rating) without any error.
Status CheckLooksLikeText(const std::string& path, const char* data, size_t n) {
  auto starts = [&](const char* magic, size_t len) {
    return n >= len && std::memcmp(data, magic, len) == 0;
  };
  const std::string quoted = "'" + path + "'";
  // The lengths are given: the NULs inside these byte-order marks are compared too.
  // NOLINTBEGIN(bugprone-string-literal-with-embedded-nul)
  if (starts("\xFF\xFE", 2) || starts("\xFE\xFF", 2) || starts("\0\0\xFE\xFF", 4)) {
    const bool utf32 = starts("\xFF\xFE\0\0", 4) || starts("\0\0\xFE\xFF", 4);
    // NOLINTEND(bugprone-string-literal-with-embedded-nul)
    const char* name = utf32 ? "UTF-32" : "UTF-16";
    return Status::InvalidArgument(quoted + " is " + name +
                                   " text (it starts with a byte-order mark); cfps reads UTF-8: "
                                   "convert it, e.g. iconv -f " +
                                   name + " -t UTF-8 " + quoted + " > ratings.utf8");
  }
  if (starts("\x1F\x8B", 2)) {
    return Status::InvalidArgument(quoted + " is gzip-compressed: decompress it first (gunzip -k " +
                                   quoted + ")");
  }
  if (starts("PK\x03\x04", 4)) {
    return Status::InvalidArgument(quoted + " is a zip archive: unzip it and pass the ratings " +
                                   "file inside (e.g. ml-100k/u.data)");
  }
  if (const void* nul = std::memchr(data, '\0', n)) {
    const size_t offset = static_cast<size_t>(static_cast<const char*>(nul) - data);
    const int64_t line = std::count(data, data + offset, '\n') + 1;
    return Status::InvalidArgument(
        path + ":" + std::to_string(line) + ": a NUL byte (offset " + std::to_string(offset) +
        "): not a text ratings file (binary data, or UTF-16/32 text without a byte-order mark: "
        "convert it to UTF-8)");
  }
  if (std::memchr(data, '\n', n) == nullptr) {
    const void* cr = std::memchr(data, '\r', n);
    if (cr != nullptr && static_cast<const char*>(cr) + 1 < data + n) {
      return Status::InvalidArgument(quoted + " has CR (classic Mac) line endings and no LF: " +
                                     "convert them, e.g. tr '\\r' '\\n' < " + quoted +
                                     " > ratings.lf");
    }
  }
  return Status::OK();
}

}  // namespace

namespace {

// Bytes [begin, end) of a regular file (pread), or the whole of a stream (read) when !positional.
struct ByteRange {
  bool positional = false;
  uint64_t begin = 0, end = 0;
};

// Feeds the lines of `range` to `parser`, numbered from first_line_no + 1. reserve_bytes > 0: the
// arrays of `out` are sized once for that many bytes of lines like the first chunk's. check_text:
// the first chunk is checked to be text (CheckLooksLikeText). Ends with the parser flushed (the
// pending ids point into this function's buffer).
Status ParseRange(int fd, const std::string& path, const ByteRange& range, uint64_t reserve_bytes,
                  bool check_text, int64_t first_line_no, RatingsParser* parser, Ratings* out) {
  size_t chunk = kChunkBytes;
  if (range.positional) chunk = std::min<uint64_t>(chunk, range.end - range.begin + 1);
  // buf[0, capacity) holds file bytes; kOverRead more bytes stay readable past any id.
  std::vector<char> buf(chunk + kOverRead);
  size_t capacity = chunk;
  size_t have = 0;
  uint64_t offset = range.begin;
  int64_t line_no = first_line_no;
  bool eof = false;
  bool first_chunk = true;
  while (!eof) {
    // Fill the buffer (after the unfinished line carried over from the previous chunk).
    while (have < capacity) {
      ssize_t n;
      if (range.positional) {
        const size_t want =
            static_cast<size_t>(std::min<uint64_t>(capacity - have, range.end - offset));
        n = want == 0 ? 0 : ::pread(fd, buf.data() + have, want, static_cast<off_t>(offset));
      } else {
        n = ::read(fd, buf.data() + have, capacity - have);
      }
      if (n < 0) {
        if (errno == EINTR) continue;
        return Status::IOError("error reading '" + path + "': " + ErrnoText(errno));
      }
      if (n == 0) {
        eof = true;
        break;
      }
      have += static_cast<size_t>(n);
      offset += static_cast<uint64_t>(n);
    }
    const char* data = buf.data();
    if (first_chunk) {
      first_chunk = false;
      if (check_text) CFPS_RETURN_IF_ERROR(CheckLooksLikeText(path, data, have));
      if (reserve_bytes > 0) {
        // Size the arrays once, from the line length of the first chunk: growing them by
        // doubling would copy them and touch twice the memory.
        size_t lines = static_cast<size_t>(std::count(data, data + have, '\n')) + 1;
        double per_byte =
            static_cast<double>(lines) / static_cast<double>(std::max<size_t>(have, 1));
        size_t guess =
            static_cast<size_t>(per_byte * static_cast<double>(reserve_bytes) * 1.02) + 16;
        out->user.reserve(guess);
        out->item.reserve(guess);
        out->rating.reserve(guess);
        AdviseHugePages(out->user.data(), guess * sizeof(int32_t));
        AdviseHugePages(out->item.data(), guess * sizeof(int32_t));
        AdviseHugePages(out->rating.data(), guess * sizeof(float));
      }
    }
    size_t pos = 0;
    for (;;) {
      const void* nl = std::memchr(data + pos, '\n', have - pos);
      if (nl == nullptr) break;
      size_t end = static_cast<size_t>(static_cast<const char*>(nl) - data);
      CFPS_RETURN_IF_ERROR(parser->Line(std::string_view(data + pos, end - pos), ++line_no));
      pos = end + 1;
    }
    if (eof) {
      if (pos < have) {
        CFPS_RETURN_IF_ERROR(parser->Line(std::string_view(data + pos, have - pos), ++line_no));
      }
      break;
    }
    CFPS_RETURN_IF_ERROR(parser->Flush());  // the pending ids point into the bytes about to move
    std::memmove(buf.data(), data + pos, have - pos);
    have -= pos;
    if (have == capacity) {  // a line longer than the buffer
      capacity *= 2;
      buf.resize(capacity + kOverRead);
    }
  }
  return parser->Flush();
}

// The offset just after the first '\n' at or after `from` (0 when there is none).
uint64_t NextLineStart(int fd, uint64_t from, uint64_t size) {
  std::vector<char> buf(size_t{1} << 16);
  for (uint64_t at = from; at < size;) {
    const ssize_t n =
        ::pread(fd, buf.data(), static_cast<size_t>(std::min<uint64_t>(buf.size(), size - at)),
                static_cast<off_t>(at));
    if (n <= 0) return 0;
    if (const void* nl = std::memchr(buf.data(), '\n', static_cast<size_t>(n))) {
      return at + static_cast<uint64_t>(static_cast<const char*>(nl) - buf.data()) + 1;
    }
    at += static_cast<uint64_t>(n);
  }
  return 0;
}

// Number of '\n' in [0, end).
int64_t CountLines(int fd, uint64_t end) {
  std::vector<char> buf(size_t{1} << 20);
  int64_t lines = 0;
  for (uint64_t at = 0; at < end;) {
    const ssize_t n =
        ::pread(fd, buf.data(), static_cast<size_t>(std::min<uint64_t>(buf.size(), end - at)),
                static_cast<off_t>(at));
    if (n <= 0) return -1;
    lines += std::count(buf.data(), buf.data() + n, '\n');
    at += static_cast<uint64_t>(n);
  }
  return lines;
}

// A large regular file parsed by two threads, each half into its own names and arrays, merged as
// one pass would have read it: the second half's new ids are interned after the first half's in
// their order of first appearance, the line numbers of its errors count the first half's lines,
// and the first half's error wins. Returns false (nothing done) when the file cannot be split this
// way (no line break past the middle; no first line in its first chunk); the caller then reads it
// in one pass, which also gives every error such a file has.
bool ReadInTwo(int fd, const std::string& path, const ReadOptions& options, uint64_t size,
               Ratings* out, Status* status) {
  const uint64_t split = NextLineStart(fd, size / 2, size);
  if (split == 0 || split >= size) return false;
  // The format and csv columns, from the first non-empty line (within the first chunk).
  Ratings probe_out;
  RatingsParser probe(path, options, &probe_out);
  {
    std::vector<char> head(static_cast<size_t>(std::min<uint64_t>(split, kChunkBytes)) + kOverRead);
    const ssize_t n = ::pread(fd, head.data(), head.size() - kOverRead, 0);
    if (n <= 0) return false;
    size_t pos = 0;
    int64_t line_no = 0;
    while (!probe.seen_first()) {
      const void* nl = std::memchr(head.data() + pos, '\n', static_cast<size_t>(n) - pos);
      if (nl == nullptr) return false;
      const size_t end = static_cast<size_t>(static_cast<const char*>(nl) - head.data());
      if (!probe.Line(std::string_view(head.data() + pos, end - pos), ++line_no).ok()) return false;
      pos = end + 1;
    }
  }
  Ratings second;
  RatingsParser first_parser(path, options, out), second_parser(path, options, &second);
  second_parser.AdoptFormat(probe);
  Status second_status;
  std::thread worker([&] {
    const int64_t lines_before = CountLines(fd, split);
    if (lines_before < 0) {
      second_status = Status::IOError("error reading '" + path + "': " + ErrnoText(errno));
      return;
    }
    second_status = ParseRange(fd, path, ByteRange{true, split, size}, size - split, false,
                               lines_before, &second_parser, &second);
  });
  // The first half reserves for the whole file: the second half is appended to its arrays.
  Status first_status =
      ParseRange(fd, path, ByteRange{true, 0, split}, size, true, 0, &first_parser, out);
  worker.join();
  if (!first_status.ok() || !second_status.ok()) {
    *status = !first_status.ok() ? first_status : second_status;
    return true;
  }
  // Merge: names of the second half after the first's, its indexes mapped.
  auto merge = [](std::vector<std::string>* names, const std::vector<std::string>& more) {
    std::vector<std::string> merged;
    Interner interner(&merged);
    for (const std::string& name : *names) interner.Intern(name);
    std::vector<int32_t> index(more.size());
    for (size_t j = 0; j < more.size(); ++j) index[j] = interner.Intern(more[j]);
    *names = std::move(merged);
    return index;
  };
  const std::vector<int32_t> user_index = merge(&out->user_names, second.user_names);
  const std::vector<int32_t> item_index = merge(&out->item_names, second.item_names);
  for (size_t k = 0; k < second.size(); ++k) {
    out->user.push_back(user_index[static_cast<size_t>(second.user[k])]);
    out->item.push_back(item_index[static_cast<size_t>(second.item[k])]);
    out->rating.push_back(second.rating[k]);
  }
  out->skipped_lines += second.skipped_lines;
  *status = first_parser.Finish();  // nothing pending: the checks of a whole file
  return true;
}

}  // namespace

Status ReadRatings(const std::string& path, const ReadOptions& options, Ratings* out) {
  *out = Ratings();
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::IOError("cannot open '" + path + "': " + ErrnoText(errno));
  FdCloser closer(fd);
  struct stat st;
  if (::fstat(fd, &st) != 0)
    return Status::IOError("cannot stat '" + path + "': " + ErrnoText(errno));
  if (S_ISDIR(st.st_mode)) return Status::IOError("cannot read '" + path + "': Is a directory");
  const bool regular = S_ISREG(st.st_mode);
  const uint64_t size = regular ? static_cast<uint64_t>(st.st_size) : 0;
  if (regular && size >= options.parallel_min_bytes && size >= 2 && AvailableCores() >= 2) {
    Status status;
    if (ReadInTwo(fd, path, options, size, out, &status)) return status;
    *out = Ratings();
  }
  RatingsParser parser(path, options, out);
  CFPS_RETURN_IF_ERROR(
      ParseRange(fd, path, ByteRange{regular, 0, size}, size, true, 0, &parser, out));
  return parser.Finish();
}

}  // namespace cfps
