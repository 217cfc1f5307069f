#include <chrono>
#include <cstdio>
#include <string>

#include "common/log.h"
#include "common/synthetic.h"
#include "launch/commands.h"
#include "launch/options.h"

namespace cfps {

int RunGen(int argc, const char* const* argv) {
  GenOptions gen;
  std::string out, help;
  SetLogProgram("cfps gen");
  Status s = ParseGenOptions(argc, argv, &gen, &out, &help);
  if (!s.ok()) {
    LogError(s.ToString() + " (see cfps gen --help)");
    return 2;
  }
  if (!help.empty()) {
    std::fputs(help.c_str(), stdout);
    return 0;
  }
  auto t0 = std::chrono::steady_clock::now();
  s = GenerateRatings(gen, out);
  if (!s.ok()) {
    LogError(s.ToString());
    return 1;
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::fprintf(stderr, "cfps gen: wrote %lld ratings (%lld users, %lld items) to %s in %.2f s\n",
               static_cast<long long>(gen.ratings), static_cast<long long>(gen.users),
               static_cast<long long>(gen.items), out.c_str(), secs);
  return 0;
}

}  // namespace cfps
