#include "common/prepared.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>

#include "common/file_util.h"

namespace cfps {

namespace {

constexpr char kMagic[8] = {'C', 'F', 'P', 'S', 'R', 'A', 'T', 'E'};
constexpr size_t kHeaderBytes = 64;
constexpr size_t kAlign = 64;

size_t RoundUp(size_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

void AppendNames(const std::vector<std::string>& names, std::string* out) {
  for (const std::string& s : names) {
    const uint32_t len = static_cast<uint32_t>(s.size());
    out->append(reinterpret_cast<const char*>(&len), sizeof(len));
    out->append(s);
  }
}

// Reads `count` names from [*p, end); false when the section ends early.
bool ReadNames(const char** p, const char* end, uint64_t count, std::vector<std::string>* out) {
  out->clear();
  out->reserve(static_cast<size_t>(std::min<uint64_t>(count, 1u << 24)));
  for (uint64_t k = 0; k < count; ++k) {
    if (end - *p < 4) return false;
    const uint32_t len = GetField<uint32_t>(*p, 0);
    *p += 4;
    if (static_cast<uint64_t>(end - *p) < len) return false;
    out->emplace_back(*p, len);
    *p += len;
  }
  return true;
}

}  // namespace

RatingsView ViewOf(const Ratings& r) {
  RatingsView v;
  v.user_names = &r.user_names;
  v.item_names = &r.item_names;
  v.user = r.user.data();
  v.item = r.item.data();
  v.rating = r.rating.data();
  v.n = r.size();
  return v;
}

bool IsPreparedFile(const std::string& path) {
  // Only a regular file can be one; anything else (a pipe: `--data <(zcat ratings.csv.gz)`) is
  // not opened here, since opening and closing a pipe would lose what its writer sends.
  struct stat st;
  if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char head[sizeof(kMagic)];
  const ssize_t got = pread(fd, head, sizeof(head), 0);
  close(fd);
  return got == static_cast<ssize_t>(sizeof(head)) &&
         std::memcmp(head, kMagic, sizeof(kMagic)) == 0;
}

Status WritePrepared(const RatingsView& r, const std::string& path) {
  std::string names;
  AppendNames(*r.user_names, &names);
  AppendNames(*r.item_names, &names);
  const size_t arrays_offset = RoundUp(kHeaderBytes + names.size());
  const size_t array_bytes = r.n * (2 * sizeof(int32_t) + sizeof(float));
  char h[kHeaderBytes] = {};
  std::memcpy(h, kMagic, sizeof(kMagic));
  PutField<uint32_t>(h, 8, kPreparedVersion);
  PutField<uint64_t>(h, 16, r.n);
  PutField<uint64_t>(h, 24, r.user_names->size());
  PutField<uint64_t>(h, 32, r.item_names->size());
  PutField<uint64_t>(h, 40, names.size());
  PutField<uint32_t>(h, 48, Crc32(0, names.data(), names.size()));
  PutField<uint64_t>(h, 56, arrays_offset + array_bytes);
  PutField<uint32_t>(h, 12, Crc32(0, h, kHeaderBytes));

  const std::string context = "cannot write '" + path + "'";
  AtomicFileWriter file;
  CFPS_RETURN_IF_ERROR(file.Open(path).WithContext(context));
  CFPS_RETURN_IF_ERROR(file.Append(h, kHeaderBytes).WithContext(context));
  names.resize(arrays_offset - kHeaderBytes, '\0');
  CFPS_RETURN_IF_ERROR(file.Append(names.data(), names.size()).WithContext(context));
  CFPS_RETURN_IF_ERROR(file.Append(r.user, r.n * sizeof(int32_t)).WithContext(context));
  CFPS_RETURN_IF_ERROR(file.Append(r.item, r.n * sizeof(int32_t)).WithContext(context));
  CFPS_RETURN_IF_ERROR(file.Append(r.rating, r.n * sizeof(float)).WithContext(context));
  return file.Commit().WithContext(context);
}

PreparedRatings::~PreparedRatings() {
  if (fd_ >= 0) close(fd_);
}

namespace {

// pread of exactly `bytes` at `offset`. Empty when done, else why not: the file ended first (it
// shrank since it was checked) or the system's error.
std::string ReadAt(int fd, void* out, size_t bytes, size_t offset) {
  char* p = static_cast<char*>(out);
  while (bytes > 0) {
    const ssize_t got = pread(fd, p, bytes, static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return std::strerror(errno);
    if (got == 0) return "the file ended early (did it shrink?)";
    p += got;
    bytes -= static_cast<size_t>(got);
    offset += static_cast<size_t>(got);
  }
  return "";
}

}  // namespace

Status PreparedRatings::Open(const std::string& path) {
  path_ = path;
  auto bad = [&](const std::string& what) {
    return Status::InvalidArgument("'" + path + "': " + what);
  };
  if (fd_ >= 0) close(fd_);
  fd_ = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) return Status::IOError("cannot open '" + path + "': " + std::strerror(errno));
  struct stat st;
  if (fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) return bad("not a regular file");
  const size_t size = static_cast<size_t>(st.st_size);
  if (size < kHeaderBytes) {
    return bad("truncated prepared ratings file (" + std::to_string(size) +
               " bytes, shorter than its 64-byte header)");
  }
  char h[kHeaderBytes];
  std::string why = ReadAt(fd_, h, kHeaderBytes, 0);
  if (!why.empty()) return Status::IOError("cannot read '" + path + "': " + why);
  if (std::memcmp(h, kMagic, sizeof(kMagic)) != 0) return bad("not a prepared ratings file");
  const uint32_t version = GetField<uint32_t>(h, 8);
  if (version != kPreparedVersion) {
    return bad("prepared by another version of cfps (format " + std::to_string(version) +
               ", this cfps reads " + std::to_string(kPreparedVersion) +
               "): run cfps prepare on the text file again");
  }
  char copy[kHeaderBytes];
  std::memcpy(copy, h, kHeaderBytes);
  PutField<uint32_t>(copy, 12, 0);
  if (Crc32(0, copy, kHeaderBytes) != GetField<uint32_t>(h, 12))
    return bad("damaged header (checksum mismatch)");
  const uint64_t n = GetField<uint64_t>(h, 16);
  const uint64_t n_users = GetField<uint64_t>(h, 24), n_items = GetField<uint64_t>(h, 32);
  const uint64_t names_bytes = GetField<uint64_t>(h, 40);
  const uint64_t file_size = GetField<uint64_t>(h, 56);
  if (file_size != size) {
    return bad(std::string(size < file_size ? "truncated" : "extended") +
               " prepared ratings file (" + std::to_string(size) + " bytes, its header says " +
               std::to_string(file_size) + ")");
  }
  if (n > (uint64_t{1} << 32) || n_users > n || n_items > n || names_bytes > size) {
    return bad("damaged header (impossible counts)");
  }
  const size_t arrays_offset = RoundUp(kHeaderBytes + names_bytes);
  if (arrays_offset + n * 12 != size) return bad("damaged header (sizes do not add up)");
  std::string names(static_cast<size_t>(names_bytes), '\0');
  why = ReadAt(fd_, names.data(), names.size(), kHeaderBytes);
  if (!why.empty()) return Status::IOError("cannot read '" + path + "': " + why);
  if (Crc32(0, names.data(), names.size()) != GetField<uint32_t>(h, 48))
    return bad("damaged names (checksum mismatch)");
  const char* p = names.data();
  const char* end = p + names.size();
  if (!ReadNames(&p, end, n_users, &user_names_) || !ReadNames(&p, end, n_items, &item_names_) ||
      p != end) {
    return bad("damaged names section");
  }
  arrays_offset_ = arrays_offset;
  n_ = static_cast<size_t>(n);
  return Status::OK();
}

Status PreparedRatings::Read(size_t first, size_t count, int32_t* user, int32_t* item,
                             float* rating) const {
  CFPS_CHECK(fd_ >= 0 && first <= n_ && count <= n_ - first);
  void* arrays[3] = {user, item, rating};
  for (size_t a = 0; a < 3; ++a) {
    if (arrays[a] == nullptr || count == 0) continue;
    const size_t offset = arrays_offset_ + (a * n_ + first) * sizeof(int32_t);
    const std::string why = ReadAt(fd_, arrays[a], count * sizeof(int32_t), offset);
    if (!why.empty()) return Status::IOError("cannot read '" + path_ + "': " + why);
  }
  return Status::OK();
}

}  // namespace cfps
