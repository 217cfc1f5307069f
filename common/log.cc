#include "common/log.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include "common/status.h"

namespace cfps {

namespace {

struct Identity {
  std::string program = "cfps";
  int rank = 0;
  int num_ranks = 1;
  std::string role;
};

Identity& Self() {
  static Identity identity;
  return identity;
}

// Length of the valid UTF-8 sequence starting at s[0], or 0 when it is not one (overlong forms,
// surrogates and code points above U+10FFFF are not valid).
size_t Utf8Length(std::string_view s) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(0);
  size_t n;
  unsigned lo = 0x80, hi = 0xbf;  // range of the second byte
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3;
    if (c == 0xe0) lo = 0xa0;
    if (c == 0xed) hi = 0x9f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4;
    if (c == 0xf0) lo = 0x90;
    if (c == 0xf4) hi = 0x8f;
  } else {
    return 0;
  }
  if (s.size() < n) return 0;
  if (b(1) < lo || b(1) > hi) return 0;
  for (size_t k = 2; k < n; ++k) {
    if (b(k) < 0x80 || b(k) > 0xbf) return 0;
  }
  return n;
}

// Writes all of `line` to stderr in one write(2) where the kernel allows (a pipe takes up to
// PIPE_BUF = 4096 bytes atomically), retrying on EINTR and short writes.
void WriteStderr(const std::string& line) {
  std::fflush(stderr);  // whatever stdio still holds comes first
  size_t done = 0;
  while (done < line.size()) {
    ssize_t n = ::write(STDERR_FILENO, line.data() + done, line.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // nowhere left to report to
    }
    done += static_cast<size_t>(n);
  }
}

}  // namespace

void SetLogProgram(std::string program) { Self().program = std::move(program); }

void SetLogRank(int rank, int num_ranks) {
  Self().rank = rank;
  Self().num_ranks = num_ranks;
}

void SetLogRole(std::string role) { Self().role = std::move(role); }

void ResetLogIdentity() { Self() = Identity(); }

std::string LogPrefix() {
  const Identity& id = Self();
  if (id.num_ranks <= 1) return id.program;
  std::string out = id.program + "[rank " + std::to_string(id.rank);
  if (!id.role.empty()) out += " " + id.role;
  return out + "]";
}

std::string OneLine(std::string_view text) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size());
  size_t k = 0;
  while (k < text.size()) {
    const unsigned char c = static_cast<unsigned char>(text[k]);
    if (c >= 0x20 && c < 0x7f) {
      out.push_back(static_cast<char>(c));
      ++k;
      continue;
    }
    if (c >= 0x80) {
      const size_t n = Utf8Length(text.substr(k));
      if (n > 0) {
        out.append(text.data() + k, n);
        k += n;
        continue;
      }
    }
    if (c == '\t' || c == '\n' || c == '\r') {
      out += c == '\t' ? "\\t" : c == '\n' ? "\\n" : "\\r";
      ++k;
      continue;
    }
    out += "\\x";
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
    ++k;
  }
  return out;
}

std::string FormatLogLine(std::string_view severity, std::string_view message) {
  std::string line = LogPrefix();
  line += ": ";
  line.append(severity.data(), severity.size());
  line += ": ";
  line += OneLine(message);
  return line;
}

void LogError(std::string_view message) { WriteStderr(FormatLogLine("error", message) + "\n"); }

void LogWarning(std::string_view message) { WriteStderr(FormatLogLine("warning", message) + "\n"); }

namespace internal {

void CheckFailed(const char* file, int line, const std::string& what) {
  WriteStderr(FormatLogLine("internal error", std::string(file) + ":" + std::to_string(line) +
                                                  ": " + what +
                                                  " (a bug in cfps, not in the input: please "
                                                  "report this line)") +
              "\n");
  std::abort();
}

}  // namespace internal

}  // namespace cfps
