#include "common/titles.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <utility>

#include "common/file_util.h"

namespace cfps {

namespace {

// Windows-1252 code points of the bytes 0x80-0x9f; the five bytes it leaves undefined keep their
// ISO 8859-1 meaning (a C1 control), as browsers decode them.
constexpr uint16_t kCp1252High[32] = {
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,  // 0x80
    0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D, 0x017D, 0x008F,  // 0x88
    0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,  // 0x90
    0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,  // 0x98
};

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// At most 80 bytes of a line for an error message, cut on a code point boundary.
std::string Excerpt(std::string_view line) {
  if (line.size() <= 80) return std::string(line);
  size_t cut = 80;
  while (cut > 0 && (static_cast<unsigned char>(line[cut]) & 0xC0) == 0x80) --cut;
  return std::string(line.substr(0, cut)) + "...";
}

Status LineError(const std::string& name, int64_t line, const std::string& what) {
  return Status::InvalidArgument(name + ":" + std::to_string(line) + ": " + what);
}

bool IsIdColumn(const std::string& lower) {
  return lower == "movieid" || lower == "itemid" || lower == "item" || lower == "id" ||
         lower == "movie_id" || lower == "item_id";
}

// The first line decides the format; see the header comment.
Status DetectFormat(const std::string& name, std::string_view data, TitlesFormat* out) {
  std::string_view first = data.substr(0, data.find('\n'));
  bool id_column = false, title_column = false;
  for (size_t pos = 0; pos <= first.size();) {
    size_t comma = std::min(first.find(',', pos), first.size());
    std::string field = Lower(Trim(first.substr(pos, comma - pos)));
    field.erase(std::remove(field.begin(), field.end(), '"'), field.end());
    id_column |= IsIdColumn(field);
    title_column |= field == "title";
    pos = comma + 1;
  }
  if (id_column && title_column) {
    *out = TitlesFormat::kCsv;
    return Status::OK();
  }
  if (first.find('|') != std::string_view::npos) {
    *out = TitlesFormat::kUItem;
    return Status::OK();
  }
  if (first.find("::") != std::string_view::npos) {
    *out = TitlesFormat::kDat;
    return Status::OK();
  }
  auto ends_with = [&](const char* ext) {
    std::string e(ext);
    return name.size() >= e.size() && Lower(name.substr(name.size() - e.size())) == e;
  };
  if (ends_with(".csv")) {
    *out = TitlesFormat::kCsv;
  } else if (ends_with(".item")) {
    *out = TitlesFormat::kUItem;
  } else if (ends_with(".dat")) {
    *out = TitlesFormat::kDat;
  } else {
    return LineError(name, 1,
                     "cannot tell the titles format: expected ml-100k u.item ('id|title|...'), "
                     "movies.csv (header movieId,title,genres) or movies.dat ('id::title::...'), "
                     "got '" +
                         Excerpt(first) + "'");
  }
  return Status::OK();
}

// u.item and movies.dat: one record per line, fields split by `sep`; id and title are the first
// two.
Status ParseSeparated(const std::string& name, std::string_view data, std::string_view sep,
                      const char* expected, ItemTitles* out) {
  int64_t line_no = 0;
  size_t pos = 0;
  while (pos < data.size()) {
    ++line_no;
    size_t nl = data.find('\n', pos);
    size_t end = nl == std::string_view::npos ? data.size() : nl;
    std::string_view line = data.substr(pos, end - pos);
    pos = end + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (Trim(line).empty()) continue;
    size_t s1 = line.find(sep);
    if (s1 == std::string_view::npos) {
      return LineError(name, line_no,
                       std::string("expected '") + expected + "', got '" + Excerpt(line) + "'");
    }
    std::string_view id = Trim(line.substr(0, s1));
    std::string_view rest = line.substr(s1 + sep.size());
    std::string_view title = Trim(rest.substr(0, rest.find(sep)));
    if (id.empty()) return LineError(name, line_no, "empty item id in '" + Excerpt(line) + "'");
    Status s = out->Add(ItemTitle{std::string(id), std::string(title), line_no});
    if (!s.ok()) return LineError(name, line_no, s.message());
  }
  return Status::OK();
}

// One RFC 4180 record starting at *pos: fields split by ',', a field that starts with '"' runs to
// the matching '"' ("" inside is one quote) and may hold commas and line breaks. Advances *pos past
// the record and *line_no by the line breaks consumed. A stray quote inside an unquoted field is
// kept as a character.
Status NextCsvRecord(const std::string& name, std::string_view data, size_t* pos, int64_t* line_no,
                     std::vector<std::string>* fields) {
  fields->clear();
  const int64_t start_line = *line_no;
  size_t p = *pos;
  for (;;) {
    std::string field;
    if (p < data.size() && data[p] == '"') {
      ++p;
      for (;;) {
        size_t q = data.find('"', p);
        if (q == std::string_view::npos) {
          return LineError(name, start_line, "unterminated quoted field");
        }
        for (size_t j = p; j < q; ++j) {
          if (data[j] == '\n') ++*line_no;
        }
        field.append(data.substr(p, q - p));
        p = q + 1;
        if (p < data.size() && data[p] == '"') {
          field.push_back('"');
          ++p;
          continue;
        }
        break;
      }
      if (p < data.size() && data[p] == '\r') ++p;
      if (p < data.size() && data[p] != ',' && data[p] != '\n') {
        return LineError(name, *line_no,
                         std::string("unexpected character '") + data[p] +
                             "' after a closing quote (a quote inside a quoted field is written "
                             "as \"\")");
      }
    } else {
      size_t q = data.find_first_of(",\n", p);
      if (q == std::string_view::npos) q = data.size();
      std::string_view raw = data.substr(p, q - p);
      if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
      field.assign(raw);
      p = q;
    }
    fields->push_back(std::move(field));
    if (p >= data.size()) break;
    if (data[p] == '\n') {
      ++p;
      ++*line_no;
      break;
    }
    ++p;  // ','
  }
  *pos = p;
  return Status::OK();
}

Status ParseCsv(const std::string& name, std::string_view data, ItemTitles* out) {
  size_t pos = 0;
  int64_t line_no = 1;
  std::vector<std::string> fields;
  CFPS_RETURN_IF_ERROR(NextCsvRecord(name, data, &pos, &line_no, &fields));
  size_t id_col = fields.size(), title_col = fields.size();
  for (size_t c = 0; c < fields.size(); ++c) {
    std::string col = Lower(Trim(fields[c]));
    if (IsIdColumn(col) && id_col == fields.size()) id_col = c;
    if (col == "title" && title_col == fields.size()) title_col = c;
  }
  if (id_col == fields.size() || title_col == fields.size()) {
    return LineError(name, 1,
                     "the header must name an id column (movieId) and a title column, "
                     "got '" +
                         Excerpt(data.substr(0, data.find('\n'))) + "'");
  }
  const size_t need = std::max(id_col, title_col) + 1;
  while (pos < data.size()) {
    const int64_t record_line = line_no;
    CFPS_RETURN_IF_ERROR(NextCsvRecord(name, data, &pos, &line_no, &fields));
    if (fields.size() == 1 && Trim(fields[0]).empty()) continue;  // a blank line
    if (fields.size() < need) {
      return LineError(name, record_line,
                       "expected at least " + std::to_string(need) + " fields, got " +
                           std::to_string(fields.size()));
    }
    std::string_view id = Trim(fields[id_col]);
    if (id.empty()) return LineError(name, record_line, "empty item id");
    Status s =
        out->Add(ItemTitle{std::string(id), std::string(Trim(fields[title_col])), record_line});
    if (!s.ok()) return LineError(name, record_line, s.message());
  }
  return Status::OK();
}

}  // namespace

const std::string* ItemTitles::Find(const std::string& id) const {
  auto it = index_.find(id);
  return it == index_.end() ? nullptr : &entries_[it->second].title;
}

Status ItemTitles::Add(ItemTitle entry) {
  auto [it, inserted] = index_.emplace(entry.id, entries_.size());
  if (!inserted) {
    return Status::InvalidArgument("item id '" + entry.id + "' repeats line " +
                                   std::to_string(entries_[it->second].line));
  }
  entries_.push_back(std::move(entry));
  return Status::OK();
}

bool IsValidUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    unsigned char c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    int extra;
    uint32_t cp, min;
    if ((c & 0xE0) == 0xC0) {
      extra = 1, cp = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2, cp = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3, cp = c & 0x07, min = 0x10000;
    } else {
      return false;
    }
    if (end - p <= extra) return false;
    for (int j = 1; j <= extra; ++j) {
      if ((p[j] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[j] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    p += extra + 1;
  }
  return true;
}

std::string Latin1ToUtf8(std::string_view s) {
  std::string out;
  out.reserve(s.size() + s.size() / 8);
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    AppendUtf8(c >= 0x80 && c < 0xA0 ? kCp1252High[c - 0x80] : c, &out);
  }
  return out;
}

size_t Utf8Length(std::string_view s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

Status ParseItemTitles(const std::string& name, std::string_view data, TitlesFormat format,
                       ItemTitles* out) {
  std::string decoded;
  if (!IsValidUtf8(data)) {
    decoded = Latin1ToUtf8(data);
    data = decoded;
  }
  if (data.substr(0, 3) == "\xEF\xBB\xBF") data.remove_prefix(3);
  if (data.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    return Status::InvalidArgument("'" + name + "': empty titles file");
  }
  if (format == TitlesFormat::kAuto) CFPS_RETURN_IF_ERROR(DetectFormat(name, data, &format));
  ItemTitles titles;
  switch (format) {
    case TitlesFormat::kUItem:
      CFPS_RETURN_IF_ERROR(ParseSeparated(name, data, "|", "id|title|...", &titles));
      break;
    case TitlesFormat::kDat:
      CFPS_RETURN_IF_ERROR(ParseSeparated(name, data, "::", "id::title::...", &titles));
      break;
    case TitlesFormat::kCsv:
      CFPS_RETURN_IF_ERROR(ParseCsv(name, data, &titles));
      break;
    case TitlesFormat::kAuto:
      break;
  }
  if (titles.size() == 0) return Status::InvalidArgument("'" + name + "': no titles");
  *out = std::move(titles);
  return Status::OK();
}

Status ReadItemTitles(const std::string& path, TitlesFormat format, ItemTitles* out) {
  std::string data;
  CFPS_RETURN_IF_ERROR(ReadFile(path, &data));
  return ParseItemTitles(path, data, format, out);
}

}  // namespace cfps
