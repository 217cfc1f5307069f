// cfps prepare: parse a ratings file once into the prepared binary form (common/prepared.h).
#include <boost/program_options.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <sstream>
#include <string>

#include "common/log.h"
#include "common/prepared.h"
#include "common/ratings.h"
#include "launch/commands.h"
#include "launch/options.h"

namespace po = boost::program_options;

namespace cfps {

int RunPrepare(int argc, const char* const* argv) {
  SetLogProgram("cfps prepare");
  std::string data, out, format = "auto";
  bool skip_bad = false;
  po::options_description desc("Options", 100);
  // clang-format off
  desc.add_options()
      ("data", po::value(&data), "ratings file to prepare (u.data, ratings.dat, ratings.csv, ...)")
      ("format", po::value(&format)->default_value("auto"), "auto|tsv|dat|csv, as cfps train")
      ("out", po::value(&out), "the prepared file to write (by convention FILE.cfpsr)")
      ("skip-bad-lines", po::bool_switch(&skip_bad),
       "skip (and count) malformed lines instead of failing")
      ("help,h", "show this help");
  // clang-format on
  po::variables_map vm;
  int rc = 0;
  if (!ParseCommandLineOrExit(
          argc, argv, "prepare",
          "cfps prepare: parse a ratings file once into a binary form that cfps "
          "train maps\nwithout parsing (give the .cfpsr file to --data or "
          "--valid-data; the split, the\nvocabulary and the results are those "
          "of the text file)\n\nusage: cfps prepare --data FILE --out "
          "FILE.cfpsr\n",
          desc, nullptr, &vm, &rc)) {
    return rc;
  }
  ReadOptions read;
  Status s = ParseRatingsFormat(format, &read.format);
  if (s.ok() && data.empty()) s = Status::InvalidArgument("--data is required");
  if (s.ok() && out.empty()) s = Status::InvalidArgument("--out is required");
  if (!s.ok()) {
    LogError(s.ToString() + " (see cfps prepare --help)");
    return 2;
  }
  // Any finite rating: the range (--y-range) is checked by cfps train, which knows it.
  read.min_rating = -HUGE_VAL;
  read.max_rating = HUGE_VAL;
  read.skip_bad_lines = skip_bad;
  const auto t0 = std::chrono::steady_clock::now();
  Ratings ratings;
  s = ReadRatings(data, read, &ratings);
  if (s.ok()) s = WritePrepared(ViewOf(ratings), out);
  if (!s.ok()) {
    LogError(s.ToString());
    return 1;
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::fprintf(stderr,
               "cfps prepare: %zu ratings (%zu users, %zu items%s) from %s to %s in %.2f s\n",
               ratings.size(), ratings.user_names.size(), ratings.item_names.size(),
               ratings.skipped_lines
                   ? (", " + std::to_string(ratings.skipped_lines) + " bad lines skipped").c_str()
                   : "",
               data.c_str(), out.c_str(), secs);
  return 0;
}

}  // namespace cfps
