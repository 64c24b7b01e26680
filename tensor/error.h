// error.h — the one exception type of cxrlab and the check macro that builds its messages.
// Every message names the op (or file) and the offending shapes/values, e.g.
//   "matmul: inner dimensions differ: a [2, 3] vs b [4, 5]".
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace cxr {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {
template <typename... Args>
std::string concat(const Args&... args) {
  std::ostringstream s;
  (s << ... << args);
  return s.str();
}
}  // namespace detail

// Throws cxr::Error with the concatenation of the message parts.
template <typename... Args>
[[noreturn]] void fail(const Args&... args) {
  throw Error(detail::concat(args...));
}

// The op running on this thread, for errors raised below the op layer, where the op is not known
// (a device out of memory inside empty(), a failed kernel launch). A public op opens an OpScope at
// its entry; nested scopes (an op built on others) keep the outermost name.
class OpScope {
 public:
  explicit OpScope(const char* op) : previous_(current_) {
    if (current_ == nullptr) current_ = op;
  }
  ~OpScope() { current_ = previous_; }
  OpScope(const OpScope&) = delete;
  OpScope& operator=(const OpScope&) = delete;
  static const char* current() { return current_; }  // nullptr outside any op

 private:
  const char* previous_;
  static inline thread_local const char* current_ = nullptr;
};

}  // namespace cxr

// CXR_CHECK(cond, "op: ", "message parts ", value, ...) — throws cxr::Error when cond is false.
#define CXR_CHECK(cond, ...)          \
  do {                                \
    if (!(cond)) ::cxr::fail(__VA_ARGS__); \
  } while (0)
