#include "model/batching_embedder.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "base/stopwatch.h"
#include "base/thread_priority.h"
#include "model/preprocess.h"

namespace photosearch {

BatchingEmbedder::BatchingEmbedder(std::vector<std::unique_ptr<Embedder>> replicas, Options options)
    : replicas_(std::move(replicas)),
      max_batch_(options.max_batch > 0 ? options.max_batch : replicas_[0]->preferred_batch()),
      nice_(options.nice),
      queue_(options.max_queue) {
  for (const auto& replica : replicas_) {
    workers_.emplace_back([this, e = replica.get()] { Run(e); });
  }
}

BatchingEmbedder::~BatchingEmbedder() {
  queue_.Close();
  for (auto& worker : workers_) worker.join();
}

std::future<BatchingEmbedder::Result> BatchingEmbedder::Submit(std::vector<float> input) {
  Request request;
  std::future<Result> future = request.promise.get_future();
  if (input.size() != InputTensorSize(manifest())) {
    request.promise.set_value(MarkModelError(absl::InvalidArgumentError(absl::StrCat(
        "embedder input has ", input.size(), " floats, expected ", InputTensorSize(manifest())))));
    return future;
  }
  request.input = std::move(input);
  if (!queue_.Push(std::move(request))) {
    // Push consumed nothing on failure only if closed; the promise moved with
    // the request, so answer through a fresh one.
    std::promise<Result> closed;
    closed.set_value(MarkModelError(absl::CancelledError("embedder is shutting down")));
    return closed.get_future();
  }
  return future;
}

std::future<void> BatchingEmbedder::RunOnWorker(std::function<void()> task) {
  Request request;
  request.task = std::move(task);
  std::future<void> done = request.task_done.get_future();
  if (!queue_.Push(std::move(request))) {
    std::promise<void> closed;  // shutting down: run it here
    closed.set_value();
    return closed.get_future();
  }
  return done;
}

void BatchingEmbedder::Run(Embedder* embedder) {
  // Before the first forward pass: the OpenMP team it starts inherits it.
  LowerThisThreadPriority(nice_);
  embedder->ConfigureCallingThread();
  const size_t input_size = InputTensorSize(manifest());
  // This thread's first forward pass starts its OpenMP team; pay for it now,
  // not in the first request.
  std::vector<float> zeros(input_size, 0.f);
  (void)embedder->EmbedBatch(zeros.data(), 1);
  const int dim = embedder->dimension();
  std::vector<Request> batch;
  std::vector<float> buffer;
  std::optional<Request> carried;  // a task met while gathering a batch
  while (true) {
    std::optional<Request> first = carried ? std::move(carried) : queue_.Pop();
    carried.reset();
    if (!first) break;
    if (first->task) {
      first->task();
      first->task_done.set_value();
      continue;
    }
    batch.clear();
    batch.push_back(std::move(*first));
    while (static_cast<int>(batch.size()) < max_batch_) {
      std::optional<Request> next = queue_.TryPop();
      if (!next) break;
      if (next->task) {
        carried = std::move(next);
        break;
      }
      batch.push_back(std::move(*next));
    }
    const int n = static_cast<int>(batch.size());
    const float* input = batch[0].input.data();
    if (n > 1) {
      buffer.resize(input_size * n);
      for (int i = 0; i < n; ++i) {
        std::memcpy(buffer.data() + input_size * i, batch[i].input.data(),
                    input_size * sizeof(float));
      }
      input = buffer.data();
    }
    Stopwatch watch;
    Result result = embedder->EmbedBatch(input, n);
    double forward_ms = watch.ElapsedMs();
    batches_run_.fetch_add(1);
    items_embedded_.fetch_add(n);
    if (observer_) observer_(n, forward_ms);
    for (int i = 0; i < n; ++i) {
      if (!result.ok()) {
        batch[i].promise.set_value(MarkModelError(result.status()));
      } else {
        const float* row = result->data() + static_cast<size_t>(dim) * i;
        batch[i].promise.set_value(std::vector<float>(row, row + dim));
      }
    }
  }
}

}  // namespace photosearch
