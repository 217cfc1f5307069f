#pragma once
// The bytes of one fuzz input as a file the readers can open by name. The readers under test take
// a path, so every input is written to an anonymous in-memory file (memfd_create) and opened again
// through "/proc/self/fd/N": no disk I/O, nothing left behind, and one file for the whole run.

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

namespace cfps {
namespace fuzz {

class FuzzFile {
 public:
  FuzzFile() : fd_(::memfd_create("cfps_fuzz", MFD_CLOEXEC)) {
    if (fd_ < 0) std::abort();
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  ~FuzzFile() { ::close(fd_); }
  FuzzFile(const FuzzFile&) = delete;
  FuzzFile& operator=(const FuzzFile&) = delete;

  // Replaces the contents; returns the path to open.
  const std::string& Set(const uint8_t* data, size_t size) {
    if (::ftruncate(fd_, 0) != 0) std::abort();
    size_t done = 0;
    while (done < size) {
      ssize_t n = ::pwrite(fd_, data + done, size - done, static_cast<off_t>(done));
      if (n <= 0) std::abort();
      done += static_cast<size_t>(n);
    }
    return path_;
  }

 private:
  int fd_;
  std::string path_;
};

// The process-wide file (libFuzzer calls the target from one thread).
inline FuzzFile& TheFile() {
  static FuzzFile* file = new FuzzFile();  // never destroyed: no exit-time ordering issues
  return *file;
}

// A broken invariant of a reader that returned OK: a finding, reported as a crash.
#define CFPS_FUZZ_ASSERT(cond)                                                                 \
  do {                                                                                         \
    if (!(cond)) {                                                                             \
      std::fprintf(stderr, "fuzz invariant failed at %s:%d: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                            \
    }                                                                                          \
  } while (0)

}  // namespace fuzz
}  // namespace cfps
