// Dynamic batching in front of one or more Embedders (replicas of one model):
// concurrent callers (HTTP requests, indexing workers) submit single inputs;
// one worker thread per replica runs whatever is queued, up to max_batch, as
// one forward pass. A worker never waits for a batch to fill: a lone request
// runs at once at batch 1, and requests that arrive while a batch runs form the
// next batch. Several single-threaded replicas trade the latency of one query
// for throughput: no OpenMP barrier is shared, so a preempted thread stalls
// only its own batch.
//
// Thread-safety: Submit and Embed are thread-safe.
// Ownership: owns the replicas and their worker threads; the destructor lets
// the workers finish what is already queued, then joins them.
#pragma once

#include <atomic>
#include <functional>
#include <future>
#include <memory>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "base/blocking_queue.h"
#include "model/embedder.h"

namespace photosearch {

class BatchingEmbedder {
 public:
  using Result = absl::StatusOr<std::vector<float>>;

  struct Options {
    int max_batch = 0;      // 0 = the first replica's preferred_batch()
    size_t max_queue = 64;  // Submit blocks beyond this (back-pressure)
    // The workers' nice value (and so their OpenMP teams', which they start;
    // 19 also means SCHED_IDLE, base/thread_priority.h): above 0 the forward
    // passes yield to the process's other threads, as the ingest's do to the
    // queries its live shard answers.
    int nice = 0;
  };

  // REQUIRES: at least one replica; all of the same manifest.
  BatchingEmbedder(std::vector<std::unique_ptr<Embedder>> replicas, Options options);
  ~BatchingEmbedder();
  BatchingEmbedder(const BatchingEmbedder&) = delete;
  BatchingEmbedder& operator=(const BatchingEmbedder&) = delete;

  // Queues one preprocessed input (InputTensorSize(manifest()) floats); the
  // future yields its dimension() floats.
  std::future<Result> Submit(std::vector<float> input);
  Result Embed(std::vector<float> input) { return Submit(std::move(input)).get(); }

  // Runs `task` on a worker thread between batches, in queue order. Another
  // model's forward pass run this way (the detector's) shares the worker's
  // OpenMP team instead of starting a second one: two teams on two cores make
  // libgomp stop spinning and slow both models (see PhotoEmbedder::Load).
  std::future<void> RunOnWorker(std::function<void()> task);

  const ModelManifest& manifest() const { return replicas_[0]->manifest(); }
  int max_batch() const { return max_batch_; }
  int replicas() const { return static_cast<int>(replicas_.size()); }

  // Counters for tests and metrics.
  uint64_t batches_run() const { return batches_run_.load(); }
  uint64_t items_embedded() const { return items_embedded_.load(); }

  // Called after each batch with its size and forward time (ms), from the
  // worker thread. Set before the first Submit.
  void set_batch_observer(std::function<void(int, double)> observer) {
    observer_ = std::move(observer);
  }

 private:
  struct Request {
    std::vector<float> input;
    std::promise<Result> promise;
    std::function<void()> task;  // RunOnWorker: run instead of embedding
    std::promise<void> task_done;
  };
  void Run(Embedder* embedder);

  // Constant after construction.
  const std::vector<std::unique_ptr<Embedder>> replicas_;
  const int max_batch_;
  const int nice_;
  std::function<void(int, double)> observer_;

  BlockingQueue<Request> queue_;
  std::atomic<uint64_t> batches_run_{0};
  std::atomic<uint64_t> items_embedded_{0};
  std::vector<std::thread> workers_;  // last: started after everything above exists
};

}  // namespace photosearch
