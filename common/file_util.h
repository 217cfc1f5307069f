#pragma once
// Files are published atomically: written to "<path>.tmp.<pid>", fsync'ed, renamed over the final
// name, and the directory fsync'ed; on failure the temporary is removed and nothing is left behind.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "common/status.h"

namespace cfps {

// A field of a binary header at a fixed byte offset, in the machine's byte order (the formats are
// little-endian: x86-64 and AArch64 write them as they are).
template <typename T>
void PutField(char* header, size_t offset, T value) {
  std::memcpy(header + offset, &value, sizeof(T));
}
template <typename T>
T GetField(const char* header, size_t offset) {
  T value;
  std::memcpy(&value, header + offset, sizeof(T));
  return value;
}

// Streams a file that appears under its final name only on Commit(): written to a temporary
// name; Commit() fsyncs, renames and fsyncs the directory. Destroyed uncommitted, it removes the
// temporary, so a failed or interrupted write never leaves a partial file under the real name.
class AtomicFileWriter {
 public:
  AtomicFileWriter() = default;
  ~AtomicFileWriter();
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  Status Open(const std::string& path);
  Status Append(const void* data, size_t n);
  Status Commit();
  uint64_t bytes_written() const { return written_; }

 private:
  Status Flush();
  Status WriteAll(const char* data, size_t n);
  std::string path_, tmp_;
  int fd_ = -1;
  std::string buffer_;
  uint64_t written_ = 0;
};

// Writes `size` bytes to `path` atomically.
Status WriteFileAtomic(const std::string& path, const void* data, size_t size);
inline Status WriteFileAtomic(const std::string& path, const std::string& contents) {
  return WriteFileAtomic(path, contents.data(), contents.size());
}
// zlib's CRC-32 of n bytes continued from crc (0 to start), for any n (zlib takes 32-bit lengths).
uint32_t Crc32(uint32_t crc, const void* data, size_t n);

// Reads the whole file.
Status ReadFile(const std::string& path, std::string* out);
// mkdir -p; an existing directory is fine, an existing non-directory is an error.
Status MakeDirs(const std::string& path);
// "<dir>/<name>" without doubling the slash.
std::string JoinPath(const std::string& dir, const std::string& name);

}  // namespace cfps
