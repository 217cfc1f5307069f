#include "common/file_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace cfps {

uint32_t Crc32(uint32_t crc, const void* data, size_t n) {
  const Bytef* p = static_cast<const Bytef*>(data);
  while (n > 0) {
    const uInt chunk = static_cast<uInt>(std::min<size_t>(n, 1u << 30));
    crc = static_cast<uint32_t>(crc32(crc, p, chunk));
    p += chunk;
    n -= chunk;
  }
  return crc;
}

namespace {
Status Errno(const std::string& what, const std::string& path) {
  return Status::IOError(what + " '" + path + "': " + std::strerror(errno));
}

std::string DirName(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}
}  // namespace

AtomicFileWriter::~AtomicFileWriter() {
  if (fd_ >= 0) {
    close(fd_);
    unlink(tmp_.c_str());
  }
}

Status AtomicFileWriter::Open(const std::string& path) {
  path_ = path;
  tmp_ = path + ".tmp." + std::to_string(getpid());
  fd_ = open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) return Errno("cannot create", tmp_);
  buffer_.reserve(1 << 20);
  return Status::OK();
}

Status AtomicFileWriter::Flush() {
  Status s = WriteAll(buffer_.data(), buffer_.size());
  buffer_.clear();
  return s;
}

Status AtomicFileWriter::Append(const void* data, size_t n) {
  CFPS_CHECK(fd_ >= 0);
  written_ += n;
  if (buffer_.size() + n > (1u << 20)) CFPS_RETURN_IF_ERROR(Flush());
  if (n <= (1u << 20)) {
    buffer_.append(static_cast<const char*>(data), n);
    return Status::OK();
  }
  // Large blocks (a shard's tables) go straight to the file: no second copy in memory.
  return WriteAll(static_cast<const char*>(data), n);
}

Status AtomicFileWriter::WriteAll(const char* p, size_t left) {
  while (left > 0) {
    ssize_t n = write(fd_, p, std::min<size_t>(left, 1u << 30));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("cannot write", tmp_);
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  return Status::OK();
}

Status AtomicFileWriter::Commit() {
  CFPS_CHECK(fd_ >= 0);
  CFPS_RETURN_IF_ERROR(Flush());
  if (fsync(fd_) != 0) return Errno("cannot sync", tmp_);
  int fd = fd_;
  fd_ = -1;
  if (close(fd) != 0) {
    Status s = Errno("cannot close", tmp_);
    unlink(tmp_.c_str());
    return s;
  }
  if (rename(tmp_.c_str(), path_.c_str()) != 0) {
    Status s = Errno("cannot rename to", path_);
    unlink(tmp_.c_str());
    return s;
  }
  int dfd = open(DirName(path_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
  return Status::OK();
}

Status WriteFileAtomic(const std::string& path, const void* data, size_t size) {
  AtomicFileWriter writer;
  CFPS_RETURN_IF_ERROR(writer.Open(path));
  CFPS_RETURN_IF_ERROR(writer.Append(data, size));
  return writer.Commit();
}

Status ReadFile(const std::string& path, std::string* out) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Errno("cannot open", path);
  struct stat st;
  if (fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {
    close(fd);
    return Status::IOError("cannot read '" + path + "': it is a directory");
  }
  out->clear();
  char chunk[1 << 16];
  for (;;) {
    ssize_t n = read(fd, chunk, sizeof(chunk));
    if (n < 0) {
      if (errno == EINTR) continue;
      Status s = Errno("cannot read", path);
      close(fd);
      return s;
    }
    if (n == 0) break;
    out->append(chunk, static_cast<size_t>(n));
  }
  close(fd);
  return Status::OK();
}

Status MakeDirs(const std::string& path) {
  if (path.empty()) return Status::InvalidArgument("empty directory name");
  std::string partial;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    partial = path.substr(0, pos);
    if (partial.empty()) continue;
    if (mkdir(partial.c_str(), 0755) != 0 && errno != EEXIST)
      return Errno("cannot create", partial);
  }
  struct stat st;
  if (stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Status::IOError("'" + path + "' exists and is not a directory");
  }
  return Status::OK();
}

std::string JoinPath(const std::string& dir, const std::string& name) {
  if (dir.empty()) return name;
  return dir.back() == '/' ? dir + name : dir + "/" + name;
}

}  // namespace cfps
