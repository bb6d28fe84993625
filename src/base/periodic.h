// PeriodicThread: runs a function every interval on its own thread until
// stopped (pollers, publishers). Stop() wakes a sleeping thread at once.
//
// Thread-safety: Start and Stop from one thread; the function runs on the
// periodic thread only, one call at a time.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace photosearch {

class PeriodicThread {
 public:
  PeriodicThread() = default;
  ~PeriodicThread() { Stop(); }
  PeriodicThread(const PeriodicThread&) = delete;
  PeriodicThread& operator=(const PeriodicThread&) = delete;

  // Calls `fn` every `interval_ms` (the first call after one interval).
  // REQUIRES: not started.
  void Start(int interval_ms, std::function<void()> fn) {
    thread_ = std::thread([this, interval_ms, fn = std::move(fn)] {
      std::unique_lock<std::mutex> lock(mu_);
      while (!cv_.wait_for(lock, std::chrono::milliseconds(interval_ms), [this] { return stopping_; })) {
        lock.unlock();
        fn();
        lock.lock();
      }
    });
  }

  // Waits for a call in progress, then ends the thread. Idempotent.
  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace photosearch
