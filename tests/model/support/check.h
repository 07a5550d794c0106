// A minimal test harness for the model tests (plain C++, so they build without Qt): CHECK records
// a failure with file:line and a message, and main returns the failure count as its exit status.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

namespace check {

inline int& failures() { static int n = 0; return n; }
inline int& passes() { static int n = 0; return n; }

inline void report(bool ok, const char* file, int line, const std::string& what) {
  if (ok) { ++passes(); return; }
  ++failures();
  std::fprintf(stderr, "FAIL %s:%d: %s\n", file, line, what.c_str());
}

template <typename T>
std::string show(const std::vector<T>& v) {
  std::ostringstream os;
  os << '[';
  for (size_t i = 0; i < v.size(); ++i) os << (i ? ", " : "") << +v[i];
  os << ']';
  return os.str();
}

inline std::string escaped(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '\n') out += "\\n";
    else if (c < 0x20) { char b[8]; std::snprintf(b, sizeof b, "\\x%02x", c); out += b; }
    else out += static_cast<char>(c);
  }
  return out + "\"";
}

inline int finish(const char* name) {
  std::printf("%s: %d checks passed, %d failed\n", name, passes(), failures());
  return failures() == 0 ? 0 : 1;
}

// The directory of the shared reference data, or empty (tests skip what needs it).
inline std::string sharedData(int argc, char** argv) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::string(argv[i]) == "--shared") return argv[i + 1];
  return {};
}
inline std::string testData(int argc, char** argv) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::string(argv[i]) == "--data") return argv[i + 1];
  return {};
}

}  // namespace check

#undef CHECK  // glog's, which libtorch's headers (c10/util/Logging.h) define: this one replaces it
#define CHECK(cond, what) ::check::report((cond), __FILE__, __LINE__, std::string(#cond) + ": " + (what))
#define CHECK_EQ_VEC(a, b, what)                                                                   \
  ::check::report((a) == (b), __FILE__, __LINE__,                                                  \
                  std::string(what) + "\n   got      " + ::check::show(a) + "\n   expected " + ::check::show(b))
