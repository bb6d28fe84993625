// Monotonic elapsed-time measurement. Not thread-safe; one per measurement.
#pragma once

#include <chrono>

namespace photosearch {

class Stopwatch {
 public:
  Stopwatch() : start_(std::chrono::steady_clock::now()) {}
  void Reset() { start_ = std::chrono::steady_clock::now(); }
  double ElapsedMs() const {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start_)
        .count();
  }
  double ElapsedSeconds() const { return ElapsedMs() / 1000.0; }

 private:
  std::chrono::steady_clock::time_point start_;
};

}  // namespace photosearch
