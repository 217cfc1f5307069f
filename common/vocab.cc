#include "common/vocab.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string_view>
#include <system_error>
#include <utility>

#include "common/file_util.h"

namespace cfps {

namespace {

// True when all of `s` is a base-10 integer that fits in int64 ("-12" yes; "+12", " 12", "1e3" no).
bool ParseInt64(const std::string& s, int64_t* out) {
  if (s.empty()) return false;
  const char* end = s.data() + s.size();
  std::from_chars_result r = std::from_chars(s.data(), end, *out);
  return r.ec == std::errc() && r.ptr == end;
}

std::string ErrnoText(int err) { return std::strerror(err); }

}  // namespace

Vocab Vocab::Build(std::vector<std::string> names, std::vector<int32_t>* rows) {
  CFPS_CHECK_LE(names.size(), static_cast<size_t>(std::numeric_limits<int32_t>::max()));
  // Numeric order when every id is an integer: MovieLens ids then get rows in id order ("2" before
  // "10"). Equal values spelled differently ("7", "007") are ordered by their bytes. Otherwise
  // byte order. Either way equal names end up next to each other and share a row.
  std::vector<int64_t> values(names.size());
  bool numeric = true;
  for (size_t k = 0; k < names.size() && numeric; ++k) numeric = ParseInt64(names[k], &values[k]);
  std::vector<int32_t> order(names.size());
  for (size_t k = 0; k < order.size(); ++k) order[k] = static_cast<int32_t>(k);
  if (numeric) {
    std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
      const int64_t va = values[static_cast<size_t>(a)], vb = values[static_cast<size_t>(b)];
      return va != vb ? va < vb : names[static_cast<size_t>(a)] < names[static_cast<size_t>(b)];
    });
  } else {
    std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
      return names[static_cast<size_t>(a)] < names[static_cast<size_t>(b)];
    });
  }
  Vocab vocab;
  vocab.index_.reserve(names.size());
  if (rows) rows->resize(names.size());
  for (int32_t j : order) {
    std::string& name = names[static_cast<size_t>(j)];
    if (vocab.names_.empty() || name != vocab.names_.back()) {
      vocab.index_.emplace(name, static_cast<int32_t>(vocab.names_.size()));
      vocab.names_.push_back(std::move(name));
    }
    if (rows) (*rows)[static_cast<size_t>(j)] = static_cast<int32_t>(vocab.names_.size() - 1);
  }
  return vocab;
}

int32_t Vocab::Lookup(const std::string& raw) const {
  auto it = index_.find(raw);
  return it == index_.end() ? -1 : it->second;
}

Status Vocab::WriteTsv(const std::string& path) const {
  for (size_t row = 0; row < names_.size(); ++row) {
    if (names_[row].find_first_of("\t\n\r") != std::string::npos) {
      return Status::InvalidArgument("cannot write vocabulary '" + path + "': raw id of row " +
                                     std::to_string(row) +
                                     " contains a tab or line break, which the TSV cannot hold");
    }
  }
  const std::string context = "cannot write vocabulary '" + path + "'";
  AtomicFileWriter file;
  CFPS_RETURN_IF_ERROR(file.Open(path).WithContext(context));
  std::string line;
  for (size_t row = 0; row < names_.size(); ++row) {
    line = std::to_string(row);
    line += '\t';
    line += names_[row];
    line += '\n';
    CFPS_RETURN_IF_ERROR(file.Append(line.data(), line.size()).WithContext(context));
  }
  return file.Commit().WithContext(context);
}

Status Vocab::ReadTsv(const std::string& path, Vocab* out) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return Status::IOError("cannot open '" + path + "': " + ErrnoText(errno));
  std::string data;
  char chunk[1 << 16];
  size_t n;
  while ((n = std::fread(chunk, 1, sizeof(chunk), f)) > 0) data.append(chunk, n);
  bool read_error = std::ferror(f) != 0;
  int err = errno;
  std::fclose(f);
  if (read_error) return Status::IOError("error reading '" + path + "': " + ErrnoText(err));

  Vocab vocab;
  size_t pos = 0;
  int64_t line_no = 0;
  auto corrupt = [&](const std::string& what) {
    return Status::Corruption(path + ":" + std::to_string(line_no) + ": " + what);
  };
  while (pos < data.size()) {
    ++line_no;
    size_t nl = data.find('\n', pos);
    size_t end = nl == std::string::npos ? data.size() : nl;
    std::string_view line(data.data() + pos, end - pos);
    pos = nl == std::string::npos ? data.size() : nl + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    size_t tab = line.find('\t');
    if (tab == std::string_view::npos) {
      return corrupt("expected 'row<TAB>raw_id', got '" + std::string(line.substr(0, 80)) + "'");
    }
    int64_t row = -1;
    std::from_chars_result r = std::from_chars(line.data(), line.data() + tab, row);
    if (tab == 0 || r.ec != std::errc() || r.ptr != line.data() + tab) {
      return corrupt("row '" + std::string(line.substr(0, tab)) + "' is not an integer");
    }
    if (row != vocab.size()) {
      return corrupt("expected row " + std::to_string(vocab.size()) + ", got " +
                     std::to_string(row));
    }
    if (vocab.size() >= std::numeric_limits<int32_t>::max()) return corrupt("too many rows");
    std::string name(line.substr(tab + 1));
    if (name.find('\t') != std::string::npos) return corrupt("raw id contains a tab");
    if (!vocab.index_.emplace(name, static_cast<int32_t>(row)).second) {
      return corrupt("raw id '" + name + "' repeats an earlier row");
    }
    vocab.names_.push_back(std::move(name));
  }
  *out = std::move(vocab);
  return Status::OK();
}

}  // namespace cfps
