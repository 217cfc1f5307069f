#pragma once
// Item titles, for `cfps recommend`: raw item id -> title, as UTF-8.
//
// Formats (the raw ids are the ones of the matching ratings file):
//   u.item      ml-100k: id|title|release date|video date|url|19 genre flags; latin-1
//   movies.csv  ml-latest/20m/25m: header movieId,title,genres (any column order; the id column may
//               also be called itemId, item or id); RFC 4180 quoting: "Shawshank, The (1994)",
//               doubled quotes inside quotes, line breaks inside quotes; UTF-8
//   movies.dat  ml-1m/10m: id::title::genres
//   auto        by content: a first line of comma-separated fields naming an id column and a
//               title column is csv, else one with '|' is u.item, else one with "::" is dat; a
//               file whose first line decides nothing goes by its extension (.csv, .item, .dat).
//
// Encoding: a file that is valid UTF-8 is taken as UTF-8 (ml-latest's movies.csv); any other file
// is decoded as latin-1 (ml-100k's u.item: "Mis\xe9rables" -> "Misérables"), the way a browser does
// for "latin-1": bytes 0x80-0x9f as Windows-1252 (0x92 -> U+2019), which only differs from ISO
// 8859-1 on C1 control characters that no title contains. A BOM is dropped, CRLF is accepted.
// Errors name the file and line: "u.item:7: expected 'id|title|...', got 'garbage'".

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"

namespace cfps {

enum class TitlesFormat { kAuto, kUItem, kCsv, kDat };

struct ItemTitle {
  std::string id;     // raw item id, as in the ratings file
  std::string title;  // UTF-8
  int64_t line = 0;   // 1-based line of the file where the record starts
};

class ItemTitles {
 public:
  // Entries in file order.
  const std::vector<ItemTitle>& entries() const { return entries_; }
  size_t size() const { return entries_.size(); }
  // The title of a raw id, or nullptr.
  const std::string* Find(const std::string& id) const;
  // Appends; an id that is already present is InvalidArgument (the caller adds file:line).
  Status Add(ItemTitle entry);

 private:
  std::vector<ItemTitle> entries_;
  std::unordered_map<std::string, size_t> index_;
};

// Reads `path` in `format`. A missing or empty file, an unknown format, a malformed record or an
// id given twice is an error naming the file (and line).
Status ReadItemTitles(const std::string& path, TitlesFormat format, ItemTitles* out);
// The same on bytes already in memory; `name` stands for the file in messages.
Status ParseItemTitles(const std::string& name, std::string_view data, TitlesFormat format,
                       ItemTitles* out);

// True when `s` is well-formed UTF-8 (no overlong forms, surrogates or code points > U+10FFFF).
bool IsValidUtf8(std::string_view s);
// Latin-1 (Windows-1252 in 0x80-0x9f) to UTF-8.
std::string Latin1ToUtf8(std::string_view s);
// Code points in a UTF-8 string: the column width of a title in a table.
size_t Utf8Length(std::string_view s);

}  // namespace cfps
