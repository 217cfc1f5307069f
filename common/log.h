#pragma once
// One line per error or warning on stderr, prefixed with who says it (README.md, "Errors"):
//
//   cfps train: error: MESSAGE                          one process
//   cfps train[rank 2 worker]: error: MESSAGE           under mpirun (more than one rank)
//   cfps train[rank 0]: error: MESSAGE                  under mpirun, before the roles are known
//   cfps recommend: warning: MESSAGE
//
// A message is always one line: control bytes (a newline, a tab, a NUL quoted from a binary
// file) and bytes that are not UTF-8 are written as \xNN, so a quoted line of garbage can neither
// break the line nor garble the terminal. Each line goes out in one write, so lines of different
// ranks never interleave inside mpirun's output. Set the identity once, at start-up (not thread
// safe); the Log* functions may be called from any thread.

#include <string>
#include <string_view>

namespace cfps {

// "cfps train", "cfps gen", ...: what the line starts with.
void SetLogProgram(std::string program);
// The rank and the number of ranks; with more than one rank every line carries "[rank R]".
void SetLogRank(int rank, int num_ranks);
// The rank's role ("server", "worker", "server+worker") once it is known: "[rank R role]".
void SetLogRole(std::string role);
// Back to "cfps" with no rank (tests).
void ResetLogIdentity();

// "cfps train" or "cfps train[rank 2 worker]".
std::string LogPrefix();

// `text` as one printable line: a tab, a line feed and a carriage return become \t, \n and \r;
// other bytes below 0x20, 0x7f and bytes that are not part of a valid UTF-8 sequence become
// \xNN; a backslash stays as it is.
std::string OneLine(std::string_view text);

// "<prefix>: error: <message>\n" / "<prefix>: warning: <message>\n" on stderr, flushed.
void LogError(std::string_view message);
void LogWarning(std::string_view message);

// The full line LogError / LogWarning would write (without the newline), for tests.
std::string FormatLogLine(std::string_view severity, std::string_view message);

}  // namespace cfps
