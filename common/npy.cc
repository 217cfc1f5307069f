#include "common/npy.h"

#include <cstring>

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

Status ReadNpy(const std::string& path, std::vector<float>* data, std::vector<int64_t>* shape) {
  std::string bytes;
  CFPS_RETURN_IF_ERROR(ReadFile(path, &bytes));
  auto bad = [&](const std::string& why) { return Status::Corruption("'" + path + "': " + why); };
  if (bytes.size() < 10 || bytes.compare(0, 6, kMagic, 6) != 0) return bad("not a .npy file");
  size_t len = static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8);
  if (10 + len > bytes.size()) return bad("truncated header");
  std::string header = bytes.substr(10, len);
  if (header.find("'descr': '<f4'") == std::string::npos) return bad("not a float32 array");
  size_t open = header.find('('), close = header.find(')');
  if (open == std::string::npos || close == std::string::npos) return bad("no shape");
  shape->clear();
  std::string dims = header.substr(open + 1, close - open - 1);
  int64_t count = 1;
  size_t pos = 0;
  while (pos < dims.size()) {
    size_t comma = dims.find(',', pos);
    std::string tok = dims.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    if (tok.find_first_not_of(' ') != std::string::npos) {
      int64_t d = std::stoll(tok);
      shape->push_back(d);
      count *= d;
    }
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  size_t want = 10 + len + sizeof(float) * static_cast<size_t>(count);
  if (bytes.size() != want) return bad("data size does not match the shape");
  data->resize(static_cast<size_t>(count));
  if (count) std::memcpy(data->data(), bytes.data() + 10 + len, sizeof(float) * data->size());
  return Status::OK();
}

}  // namespace cfps
