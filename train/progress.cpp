// progress.cpp — see progress.h.
#include "train/progress.h"

#include <unistd.h>

#include <cmath>

namespace cxr::train {

Progress::Progress(int tty, int64_t plain_every, std::FILE* out)
    : tty_(out && (tty < 0 ? ::isatty(::fileno(out)) != 0 : tty != 0)), plain_every_(plain_every), out_(out) {}

std::string Progress::format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  auto s = static_cast<long long>(std::llround(seconds));
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", s / 3600, (s / 60) % 60);
  else if (s >= 60)
    std::snprintf(buf, sizeof buf, "%lldm%02llds", s / 60, s % 60);
  else
    std::snprintf(buf, sizeof buf, "%llds", s);
  return buf;
}

void Progress::start_epoch(int64_t epoch, int64_t epochs, int64_t steps_in_epoch) {
  epoch_ = epoch, epochs_ = epochs, total_ = steps_in_epoch;
  epoch_start_ = std::chrono::steady_clock::now();
}

std::string Progress::line(int64_t done, const std::string& status) const {
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch_start_).count();
  const double rate = elapsed > 0 ? double(done) / elapsed : 0;
  const double eta = rate > 0 ? double(total_ - done) / rate : NAN;
  char head[64];
  std::snprintf(head, sizeof head, "epoch %lld/%lld ", (long long)epoch_, (long long)epochs_);
  std::string s = head;
  if (tty_) {
    const int width = 24;
    const int filled = total_ > 0 ? int(double(width) * double(done) / double(total_)) : 0;
    s += "[" + std::string(size_t(filled), '#') + std::string(size_t(width - filled), '.') + "] ";
  }
  char tail[96];
  std::snprintf(tail, sizeof tail, "%lld/%lld  %.2f step/s  ETA %s", (long long)done, (long long)total_, rate,
                format_duration(eta).c_str());
  s += tail;
  if (!status.empty()) s += "  " + status;
  return s;
}

void Progress::update(int64_t done, const std::string& status) {
  if (!out_) return;
  if (tty_) {
    std::fprintf(out_, "\r\033[K%s", line(done, status).c_str());
    std::fflush(out_);
  } else if (plain_every_ > 0 && done % plain_every_ == 0 && done < total_) {
    std::fprintf(out_, "%s\n", line(done, status).c_str());
    std::fflush(out_);
  }
}

void Progress::end_epoch(const std::string& summary) {
  if (!out_) return;
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch_start_).count();
  if (tty_) std::fprintf(out_, "\r\033[K");
  std::fprintf(out_, "epoch %lld/%lld done in %s  %s\n", (long long)epoch_, (long long)epochs_,
               format_duration(elapsed).c_str(), summary.c_str());
  std::fflush(out_);
}

}  // namespace cxr::train
