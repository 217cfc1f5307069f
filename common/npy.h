#pragma once
// NumPy .npy files (format version 1.0): a magic string, a header dict padded with spaces to a
// multiple of 64 bytes, then the C-order data. cfps writes little-endian float32 ('<f4') arrays of
// one or two dimensions, readable by numpy.load.

#include <cstdint>
#include <string>
#include <vector>

#include "common/file_util.h"
#include "common/status.h"

namespace cfps {

// Writes rows x cols floats (cols == 0 writes a 1-d array of `rows`), atomically.
Status WriteNpy(const std::string& path, const float* data, int64_t rows, int64_t cols);
// Strided source: element (r, c) is data[r * stride + c]. Used to split the (k+1)-wide rows into
// factors (cols = k) and biases (cols = 0, offset k).
Status WriteNpyStrided(const std::string& path, const float* data, int64_t rows, int64_t cols,
                       int64_t stride);
// Writes a '<f4' array row by row without holding it in memory; the file appears on Commit().
class NpyStreamWriter {
 public:
  Status Open(const std::string& path, int64_t rows, int64_t cols);
  Status Append(const float* values, int64_t n);
  Status Commit();

 private:
  AtomicFileWriter file_;
  int64_t expected_ = 0;
  int64_t written_ = 0;
  std::string path_;
};

// Reads a '<f4' array written as above; shape gets 1 or 2 entries.
Status ReadNpy(const std::string& path, std::vector<float>* data, std::vector<int64_t>* shape);

}  // namespace cfps
