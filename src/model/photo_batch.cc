#include "model/photo_batch.h"

#include "model/embedder.h"
#include "model/region_embedder.h"

namespace photosearch {
namespace {

EmbeddedPhoto Failed(absl::Status status) {
  EmbeddedPhoto out;
  out.model_failed = IsModelError(status);
  out.status = std::move(status);
  return out;
}

}  // namespace

PhotoBatch::PhotoBatch(PhotoEmbedder& embedder, Detector* detector, DetectPolicy policy, size_t n)
    : embedder_(embedder), detector_(detector), policy_(policy), slots_(n) {}

PhotoBatch::~PhotoBatch() {
  // A forward pass still queued writes into its promise, not into this
  // object; waiting keeps the model's queue from holding work nobody takes.
  for (Slot& slot : slots_) {
    if (slot.vector.valid()) slot.vector.wait();
  }
}

void PhotoBatch::Add(size_t i, absl::StatusOr<std::string> bytes) {
  Slot& slot = slots_[i];
  if (!bytes.ok()) {
    slot.done = Failed(bytes.status());
  } else if (policy_ != DetectPolicy::kWhole) {
    absl::StatusOr<RegionEmbedding> regions = EmbedRegions(embedder_, detector_, *bytes, policy_);
    if (!regions.ok()) {
      slot.done = Failed(regions.status());
    } else {
      for (Region& region : regions->regions) slot.done.vectors.push_back(std::move(region.vector));
    }
  } else {
    absl::StatusOr<std::vector<float>> input = embedder_.Prepare(*bytes);
    if (!input.ok()) {
      slot.done = Failed(input.status());
    } else {
      slot.vector = embedder_.Submit(std::move(*input));  // blocks while the queue is full
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    slot.ready = true;
  }
  added_.fetch_add(1);
  added_cv_.notify_all();
}

void PhotoBatch::Close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
  }
  added_cv_.notify_all();
}

EmbeddedPhoto PhotoBatch::Take(size_t i) {
  Slot& slot = slots_[i];
  {
    std::unique_lock<std::mutex> lock(mu_);
    added_cv_.wait(lock, [&] { return slot.ready || closed_; });
    if (!slot.ready) return Failed(absl::CancelledError("the photo never came (stopped early)"));
  }
  if (!slot.vector.valid()) return std::move(slot.done);
  BatchingEmbedder::Result vector = slot.vector.get();
  if (!vector.ok()) return Failed(vector.status());
  EmbeddedPhoto out;
  out.vectors.push_back(std::move(*vector));
  return out;
}

}  // namespace photosearch
