// Placeholder while the command is being written (replaced in the same change).
#include <cstdio>

#include "launch/commands.h"

namespace cfps {
int RunPlot(int, const char* const*) {
  std::fprintf(stderr, "cfps plot: not built yet\n");
  return 2;
}
}  // namespace cfps
