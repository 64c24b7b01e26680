// versions.cpp — version selection for the kernel ladders (versions.h).
#include "cuda/kernels/versions.h"

#include <cctype>
#include <cstdlib>

#include "tensor/error.h"

namespace cxr::cuda {

const KernelVersion& KernelLadder::version(int number) const {
  for (const KernelVersion& v : versions)
    if (v.number == number) return v;
  fail(op, ": no kernel version ", number);
}

std::string version_variable(const KernelLadder& ladder) {
  std::string name = "CXR_CUDA_VERSION_";
  for (char c : ladder.op) name += char(std::toupper(static_cast<unsigned char>(c)));
  return name;
}

std::string version_list(const KernelLadder& ladder) {
  std::string list;
  for (const KernelVersion& v : ladder.versions)
    list += (list.empty() ? "" : ", ") + std::to_string(v.number) + " (" + v.name + ")";
  return list;
}

int selected_version(const KernelLadder& ladder) {
  const std::string name = version_variable(ladder);
  const char* env = std::getenv(name.c_str());
  if (env == nullptr || *env == '\0') return ladder.best;
  char* end = nullptr;
  const long n = std::strtol(env, &end, 10);
  CXR_CHECK(end != env && *end == '\0', name, "='", env, "' is not a number; the ", ladder.op, " versions are ",
            version_list(ladder));
  for (const KernelVersion& v : ladder.versions)
    if (v.number == n) return int(n);
  fail(name, "=", n, ": no such version; the ", ladder.op, " versions are ", version_list(ladder));
}

}  // namespace cxr::cuda
