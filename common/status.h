#pragma once
// Status: the value of an operation that a user, a file or a disk can make fail (leveldb style).
// OK costs one pointer. Bugs are not Status values: they go through CFPS_CHECK, which prints both
// sides and file:line and aborts the rank (mpirun then ends the job).

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <sstream>
#include <string>
#include <utility>

namespace cfps {

class [[nodiscard]] Status {
 public:
  enum class Code { kOk = 0, kInvalidArgument, kNotFound, kIOError, kCorruption, kInternal };

  Status() = default;
  static Status OK() { return Status(); }
  static Status InvalidArgument(std::string msg) {
    return Status(Code::kInvalidArgument, std::move(msg));
  }
  static Status NotFound(std::string msg) { return Status(Code::kNotFound, std::move(msg)); }
  static Status IOError(std::string msg) { return Status(Code::kIOError, std::move(msg)); }
  static Status Corruption(std::string msg) { return Status(Code::kCorruption, std::move(msg)); }
  static Status Internal(std::string msg) { return Status(Code::kInternal, std::move(msg)); }

  bool ok() const { return rep_ == nullptr; }
  Code code() const { return rep_ ? rep_->code : Code::kOk; }
  const std::string& message() const {
    static const std::string kEmpty;
    return rep_ ? rep_->msg : kEmpty;
  }
  // "prefix: message", for adding context as the error travels up.
  Status WithContext(const std::string& prefix) const {
    return ok() ? *this : Status(code(), prefix + ": " + message());
  }
  std::string ToString() const { return ok() ? "OK" : message(); }

 private:
  struct Rep {
    Code code;
    std::string msg;
  };
  Status(Code code, std::string msg) : rep_(std::make_shared<Rep>(Rep{code, std::move(msg)})) {}
  std::shared_ptr<const Rep> rep_;
};

namespace internal {
// Prints "<who>: internal error: file:line: what (a bug in cfps ...)" as one line through the log
// helper (common/log.cc, which knows the rank and role) and aborts the rank.
[[noreturn]] void CheckFailed(const char* file, int line, const std::string& what);
template <typename A, typename B>
std::string CheckOpMessage(const char* expr, const A& a, const B& b) {
  std::ostringstream os;
  os << expr << " (" << a << " vs " << b << ")";
  return os.str();
}
}  // namespace internal

}  // namespace cfps

#define CFPS_RETURN_IF_ERROR(expr)               \
  do {                                           \
    ::cfps::Status cfps_status_ = (expr);        \
    if (!cfps_status_.ok()) return cfps_status_; \
  } while (0)

#define CFPS_CHECK(cond)                                                                    \
  do {                                                                                      \
    if (!(cond)) ::cfps::internal::CheckFailed(__FILE__, __LINE__, "check failed: " #cond); \
  } while (0)

#define CFPS_CHECK_OP(a, op, b)                                                                    \
  do {                                                                                             \
    const auto& cfps_a_ = (a);                                                                     \
    const auto& cfps_b_ = (b);                                                                     \
    if (!(cfps_a_ op cfps_b_))                                                                     \
      ::cfps::internal::CheckFailed(                                                               \
          __FILE__, __LINE__,                                                                      \
          ::cfps::internal::CheckOpMessage("check failed: " #a " " #op " " #b, cfps_a_, cfps_b_)); \
  } while (0)
#define CFPS_CHECK_EQ(a, b) CFPS_CHECK_OP(a, ==, b)
#define CFPS_CHECK_LT(a, b) CFPS_CHECK_OP(a, <, b)
#define CFPS_CHECK_LE(a, b) CFPS_CHECK_OP(a, <=, b)
#define CFPS_CHECK_GE(a, b) CFPS_CHECK_OP(a, >=, b)
