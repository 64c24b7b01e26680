// method_registry.h — the training methods of `cxr train`. Each train/method_<name>.cpp registers
// its own with a static MethodRegistration: the name, one line saying what it trains, its reference
// schedule (the defaults of --epochs and --batch-size), the checks of the options it needs, and its
// factory. Nothing else spells the method names: option defaults and validation (options.h),
// make_method (method.h), `cxr train --help` and `cxr experiment` read this registry.
// cxr_pipeline is linked whole into cxr and cxr_tests (CMakeLists.txt), so every registering object
// file is kept; tests/test_method_registry.cpp fails if one is missing.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "train/method.h"

namespace cxr::train {

struct MethodSpec {
  std::string name;
  int order = 0;        // its place in listings (--help, messages): the order of METHODS.md
  std::string summary;  // what it trains, one line
  int64_t default_epochs = 0;
  int64_t default_batch_size = 0;
  // Throws cxr::Error naming the option this method needs and did not get (or cannot take).
  std::function<void(const TrainOptions&)> check_options;
  // The method's models (and, `for_training`, its optimizers and initialization): method.h.
  std::function<std::unique_ptr<Method>(const TrainOptions&, const Task&, bool for_training)> make;
};

// The registered methods, by `order`.
const std::vector<MethodSpec>& registered_methods();
std::vector<std::string> method_names();  // by `order`
const MethodSpec* find_method(const std::string& name);  // null when no method has that name
const MethodSpec& method_spec(const std::string& name);  // throws naming the registered methods

// A file-scope `const MethodRegistration registration({...});` registers a method before main().
// Two registrations of one name end the program at start-up.
struct MethodRegistration {
  explicit MethodRegistration(MethodSpec spec);
};

}  // namespace cxr::train
