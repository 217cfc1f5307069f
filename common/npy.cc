#include "common/npy.h"

#include <charconv>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <system_error>
#include <utility>

#include "common/file_util.h"

namespace cfps {

namespace {
constexpr char kMagic[] = "\x93NUMPY";

std::string Header(int64_t rows, int64_t cols) {
  std::string shape = cols > 0 ? "(" + std::to_string(rows) + ", " + std::to_string(cols) + ")"
                               : "(" + std::to_string(rows) + ",)";
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }";
  // 6 magic + 2 version + 2 length + dict + '\n', padded to a multiple of 64.
  size_t total = 10 + dict.size() + 1;
  size_t padded = (total + 63) / 64 * 64;
  dict.append(padded - total, ' ');
  dict.push_back('\n');
  std::string out(kMagic, 6);
  out.push_back('\x01');
  out.push_back('\x00');
  uint16_t len = static_cast<uint16_t>(dict.size());
  out.push_back(static_cast<char>(len & 0xff));
  out.push_back(static_cast<char>(len >> 8));
  return out + dict;
}
}  // namespace

Status WriteNpyStrided(const std::string& path, const float* data, int64_t rows, int64_t cols,
                       int64_t stride) {
  std::string out = Header(rows, cols);
  const int64_t per_row = cols > 0 ? cols : 1;
  const size_t head = out.size();
  out.resize(head + sizeof(float) * static_cast<size_t>(rows * per_row));
  char* dst = &out[head];
  for (int64_t r = 0; r < rows; ++r) {
    std::memcpy(dst, data + r * stride, sizeof(float) * static_cast<size_t>(per_row));
    dst += sizeof(float) * static_cast<size_t>(per_row);
  }
  return WriteFileAtomic(path, out);
}

Status WriteNpy(const std::string& path, const float* data, int64_t rows, int64_t cols) {
  return WriteNpyStrided(path, data, rows, cols, cols > 0 ? cols : 1);
}

namespace {

// The header of a .npy file is the repr of a Python dict:
//   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
// Reads the text after `'key':` (and any spaces) into *value; false when the key is missing.
bool HeaderValue(const std::string& header, const char* key, std::string_view* value) {
  const std::string quoted = std::string("'") + key + "':";
  size_t pos = header.find(quoted);
  if (pos == std::string::npos) return false;
  pos += quoted.size();
  while (pos < header.size() && header[pos] == ' ') ++pos;
  *value = std::string_view{header}.substr(pos);
  return true;
}

// "(2, 3)" / "(5,)" at the start of `text` -> dimensions. Only non-negative integers (no sign, no
// spaces inside a number); false on anything else.
bool ParseShape(std::string_view text, std::vector<int64_t>* dims) {
  dims->clear();
  if (text.empty() || text[0] != '(') return false;
  size_t pos = 1;
  for (;;) {
    while (pos < text.size() && text[pos] == ' ') ++pos;
    if (pos >= text.size()) return false;
    if (text[pos] == ')') return true;
    int64_t d = 0;
    const char* begin = text.data() + pos;
    if (*begin < '0' || *begin > '9') return false;
    std::from_chars_result r = std::from_chars(begin, text.data() + text.size(), d);
    if (r.ec != std::errc()) return false;  // out of range
    dims->push_back(d);
    pos = static_cast<size_t>(r.ptr - text.data());
    while (pos < text.size() && text[pos] == ' ') ++pos;
    if (pos >= text.size()) return false;
    if (text[pos] == ',') {
      ++pos;
    } else if (text[pos] != ')') {
      return false;
    }
  }
}

}  // namespace

Status NpyStreamWriter::Open(const std::string& path, int64_t rows, int64_t cols) {
  path_ = path;
  expected_ = rows * (cols > 0 ? cols : 1);
  CFPS_RETURN_IF_ERROR(file_.Open(path));
  const std::string header = Header(rows, cols);
  return file_.Append(header.data(), header.size());
}

Status NpyStreamWriter::Append(const float* values, int64_t n) {
  written_ += n;
  return file_.Append(values, sizeof(float) * static_cast<size_t>(n));
}

Status NpyStreamWriter::Commit() {
  CFPS_CHECK_EQ(written_, expected_);
  return file_.Commit();
}

Status ReadNpy(const std::string& path, std::vector<float>* data, std::vector<int64_t>* shape) {
  std::string bytes;
  CFPS_RETURN_IF_ERROR(ReadFile(path, &bytes));
  auto bad = [&](const std::string& why) { return Status::Corruption("'" + path + "': " + why); };
  if (bytes.size() < 10 || bytes.compare(0, 6, kMagic, 6) != 0) return bad("not a .npy file");
  // Version 1.0 has a 2-byte header length; 2.0 and 3.0 (written by numpy for huge headers) a
  // 4-byte one. Both little endian.
  const unsigned major = static_cast<unsigned char>(bytes[6]);
  size_t len = 0, start = 0;
  if (major == 1) {
    len = static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8);
    start = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) return bad("truncated header");
    for (int b = 3; b >= 0; --b) len = len << 8 | static_cast<unsigned char>(bytes[8 + b]);
    start = 12;
  } else {
    return bad("unsupported .npy format version " + std::to_string(major));
  }
  if (len > bytes.size() - start) return bad("truncated header");
  const std::string header = bytes.substr(start, len);
  std::string_view descr, fortran, dims;
  if (!HeaderValue(header, "descr", &descr) || descr.substr(0, 5) != "'<f4'") {
    return bad("not a float32 array (descr must be '<f4')");
  }
  if (!HeaderValue(header, "fortran_order", &fortran) || fortran.substr(0, 5) != "False") {
    return bad("only C-order arrays are supported (fortran_order must be False)");
  }
  std::vector<int64_t> dim;
  if (!HeaderValue(header, "shape", &dims) || !ParseShape(dims, &dim)) return bad("bad shape");
  if (dim.size() != 1 && dim.size() != 2) {
    return bad("expected a 1-d or 2-d array, got " + std::to_string(dim.size()) + " dimensions");
  }
  // The element count, without overflow: it must fit the bytes after the header anyway.
  const size_t payload = bytes.size() - start - len;
  uint64_t count = 1;
  for (int64_t d : dim) {
    if (d != 0 && count > payload / sizeof(float) / static_cast<uint64_t>(d)) {
      return bad("data size does not match the shape");
    }
    count *= static_cast<uint64_t>(d);
  }
  if (count * sizeof(float) != payload) return bad("data size does not match the shape");
  *shape = std::move(dim);
  data->resize(static_cast<size_t>(count));
  if (count) std::memcpy(data->data(), bytes.data() + start + len, sizeof(float) * data->size());
  return Status::OK();
}

}  // namespace cfps
