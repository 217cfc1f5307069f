#pragma once
// A minimal JSON reader for the golden files of tests/data/golden (copied from ../shared/golden;
// no JSON library is installed). It knows objects, arrays, numbers and strings without escapes,
// which is all these files hold. strtod recovers a printed float32 bit for bit.

#include <gtest/gtest.h>

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace cfps::testing {

struct Json {
  bool is_number = false;
  double number = 0;
  std::vector<std::string> keys;  // an object: keys[i] names items[i]
  std::vector<Json> items;        // an array's elements or an object's values

  const Json& operator[](const std::string& key) const {
    for (size_t i = 0; i < keys.size(); ++i) {
      if (keys[i] == key) return items[i];
    }
    ADD_FAILURE() << "golden JSON has no key " << key;
    static const Json kMissing;
    return kMissing;
  }
  const Json& operator[](size_t i) const { return items.at(i); }
  size_t size() const { return items.size(); }
  // Every number under this value in document order: a 2-D tensor comes out row-major.
  std::vector<double> Flat() const {
    std::vector<double> out(is_number ? 1 : 0, number);
    for (const Json& item : items) {
      const std::vector<double> sub = item.Flat();
      out.insert(out.end(), sub.begin(), sub.end());
    }
    return out;
  }
};

inline bool ParseJson(const std::string& s, size_t* pos, Json* out) {
  const auto eat = [&](char c) {
    while (*pos < s.size() && std::isspace(static_cast<unsigned char>(s[*pos]))) ++*pos;
    return *pos < s.size() && s[*pos] == c && ++*pos;
  };
  const auto string = [&](std::string* str) {
    const size_t end = s.find('"', *pos);
    if (end == std::string::npos) return false;
    *str = s.substr(*pos, end - *pos);
    *pos = end + 1;
    return true;
  };
  if (eat('{') || eat('[')) {
    const char close = s[*pos - 1] == '{' ? '}' : ']';
    if (eat(close)) return true;
    do {
      if (close == '}') {
        out->keys.emplace_back();
        if (!eat('"') || !string(&out->keys.back()) || !eat(':')) return false;
      }
      out->items.emplace_back();
      if (!ParseJson(s, pos, &out->items.back())) return false;
    } while (eat(','));
    return eat(close);
  }
  std::string ignored;
  if (eat('"')) return string(&ignored);
  const char* begin = s.c_str() + *pos;
  char* end = nullptr;
  out->number = std::strtod(begin, &end);
  out->is_number = end != begin;
  *pos = static_cast<size_t>(end - s.c_str());
  return out->is_number;
}

// tests/data/golden/<name>, parsed.
inline Json LoadGolden(const std::string& name) {
  std::ifstream in(std::string(CFPS_TEST_DATA_DIR) + "/golden/" + name);
  std::stringstream text;
  text << in.rdbuf();
  Json root;
  size_t pos = 0;
  EXPECT_TRUE(in.is_open() && ParseJson(text.str(), &pos, &root)) << "cannot read golden " << name;
  return root;
}

}  // namespace cfps::testing
