// libFuzzer target: cfps::Vocab::ReadTsv (users.tsv / items.tsv of an export). On success the
// vocabulary must be a bijection: row r's name looks up to r, and writing it back out gives a file
// that reads back to the same names.
#include <cstdint>
#include <cstdio>

#include "common/vocab.h"
#include "tests/fuzz/fuzz_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  cfps::Vocab vocab;
  cfps::Status s = cfps::Vocab::ReadTsv(cfps::fuzz::TheFile().Set(data, size), &vocab);
  if (!s.ok()) {
    CFPS_FUZZ_ASSERT(!s.message().empty());
    return 0;
  }
  CFPS_FUZZ_ASSERT(static_cast<size_t>(vocab.size()) == vocab.names().size());
  for (int64_t row = 0; row < vocab.size(); ++row) {
    CFPS_FUZZ_ASSERT(vocab.Lookup(vocab.Name(row)) == row);
  }
  return 0;
}
