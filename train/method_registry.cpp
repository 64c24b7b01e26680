// method_registry.cpp — see method_registry.h. The registry is a function-local static, so that
// registrations from other translation units' static initializers find it constructed.
#include "train/method_registry.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "tensor/error.h"

namespace cxr::train {
namespace {

std::vector<MethodSpec>& registry() {
  static std::vector<MethodSpec> methods;
  return methods;
}

}  // namespace

const std::vector<MethodSpec>& registered_methods() { return registry(); }

std::vector<std::string> method_names() {
  std::vector<std::string> names;
  for (const MethodSpec& m : registry()) names.push_back(m.name);
  return names;
}

const MethodSpec* find_method(const std::string& name) {
  for (const MethodSpec& m : registry())
    if (m.name == name) return &m;
  return nullptr;
}

const MethodSpec& method_spec(const std::string& name) {
  if (const MethodSpec* m = find_method(name)) return *m;
  const std::vector<std::string> names = method_names();
  std::string expected;
  for (size_t i = 0; i < names.size(); ++i) expected += (i == 0 ? "" : i + 1 == names.size() ? " or " : ", ") + names[i];
  fail("unknown method '", name, "' (expected ", expected, ")");
}

MethodRegistration::MethodRegistration(MethodSpec spec) {
  if (find_method(spec.name)) {
    std::fprintf(stderr, "cxrlab: the training method '%s' is registered twice\n", spec.name.c_str());
    std::abort();
  }
  std::vector<MethodSpec>& methods = registry();
  auto at = std::upper_bound(methods.begin(), methods.end(), spec.order,
                             [](int order, const MethodSpec& m) { return order < m.order; });
  methods.insert(at, std::move(spec));
}

}  // namespace cxr::train
