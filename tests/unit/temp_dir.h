#pragma once
// TempDir: a fresh directory under /tmp for one test, removed with everything in it when the
// TempDir goes out of scope. Plus FileContents(), the whole of a file as a string.
//
// Failing to create the directory or write a file is a broken test machine, not a test result:
// it aborts with a message rather than letting later assertions fail confusingly.

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace cfps::testing {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/cfps_test_XXXXXX";
    const char* dir = ::mkdtemp(tmpl);
    if (dir == nullptr) {
      std::perror("TempDir: mkdtemp /tmp/cfps_test_XXXXXX");
      std::abort();
    }
    path_ = dir;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }

  // "<dir>/<name>"; the file need not exist.
  std::string Path(const std::string& name) const { return path_ + "/" + name; }

  // Writes `contents` (bytes, as given) to the file `name` in the directory, replacing any file of
  // that name, and returns its path.
  std::string Write(const std::string& name, const std::string& contents) const {
    std::string p = Path(name);
    std::FILE* f = std::fopen(p.c_str(), "wb");
    if (f == nullptr) {
      std::perror(("TempDir::Write: " + p).c_str());
      std::abort();
    }
    const bool ok = std::fwrite(contents.data(), 1, contents.size(), f) == contents.size();
    if (std::fclose(f) != 0 || !ok) {
      std::perror(("TempDir::Write: " + p).c_str());
      std::abort();
    }
    return p;
  }

  // The names of the entries directly in the directory, sorted: lets a test check that a writer
  // left nothing behind (a temporary file, say) besides what it was asked to write.
  std::vector<std::string> Entries() const {
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(path_)) {
      names.push_back(entry.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
  }

 private:
  std::string path_;
};

// The bytes of the file at `path`; a file that cannot be opened fails the test and reads as "".
inline std::string FileContents(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    ADD_FAILURE() << "cannot open '" << path << "'";
    return "";
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace cfps::testing
