// progress.h — what a training run shows while it runs. On a terminal: one line redrawn in place,
//   epoch 2/10 [#########...........] 45/100  12.3 step/s  ETA 0m05s  loss 0.8731
// Elsewhere (a log file, CI): a plain line every `plain_every` steps and at the end of each epoch,
// so logs stay readable. Output goes to stderr; results go to stdout and files.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace cxr::train {

class Progress {
 public:
  // tty < 0: detect (isatty on stderr); 0: plain lines; 1: a redrawn line. out null: silent (the
  // ranks other than 0 of a distributed run).
  explicit Progress(int tty = -1, int64_t plain_every = 50, std::FILE* out = stderr);
  void start_epoch(int64_t epoch, int64_t epochs, int64_t steps_in_epoch);
  // After each step: the number of steps done in this epoch and a short status (e.g. "loss 0.87").
  void update(int64_t done, const std::string& status);
  void end_epoch(const std::string& summary);
  bool is_tty() const { return tty_; }

  static std::string format_duration(double seconds);  // "1h02m", "3m05s", "12s"

 private:
  std::string line(int64_t done, const std::string& status) const;
  bool tty_;
  int64_t plain_every_;
  std::FILE* out_;
  int64_t epoch_ = 0, epochs_ = 0, total_ = 0;
  std::chrono::steady_clock::time_point epoch_start_;
};

}  // namespace cxr::train
