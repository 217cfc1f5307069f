#pragma once
// Files are published atomically: written to "<path>.tmp.<pid>", fsync'ed, renamed over the final
// name, and the directory fsync'ed; on failure the temporary is removed and nothing is left behind.

#include <cstddef>
#include <string>

#include "common/status.h"

namespace cfps {

// Writes `size` bytes to `path` atomically.
Status WriteFileAtomic(const std::string& path, const void* data, size_t size);
inline Status WriteFileAtomic(const std::string& path, const std::string& contents) {
  return WriteFileAtomic(path, contents.data(), contents.size());
}
// Reads the whole file.
Status ReadFile(const std::string& path, std::string* out);
// mkdir -p; an existing directory is fine, an existing non-directory is an error.
Status MakeDirs(const std::string& path);
// "<dir>/<name>" without doubling the slash.
std::string JoinPath(const std::string& dir, const std::string& name);

}  // namespace cfps
