// PhotoBatch: n photos whose bytes arrive from any threads, in any order,
// embedded by one PhotoEmbedder and handed back by index. The per-photo loop
// that `index` (files read by worker threads), `pipeline run` (images fetched
// on the fetcher's threads) and `ingest` (a batch of listing events) share, so
// that all three cut, embed and fail a photo the same way.
//
// Add(i, bytes) works on the calling thread: with DetectPolicy kWhole it
// decodes and preprocesses the photo and queues its forward pass (decoding of
// one photo overlaps the model's work on others); with detection it runs
// EmbedRegions (decode, detect, crop, embed every crop in one batch). Take(i)
// blocks until photo i was added and its vectors exist.
//
// A photo fails alone (unreadable, not an image, too large: `model_failed`
// false), or the model fails (a forward pass: not a property of the photo;
// IsModelError in model/embedder.h). Callers decide: `index` and `pipeline
// run` stop on a model error, `ingest` retries the event later; none of them
// blames the photo for it.
//
// Thread-safety: Add and Take are thread-safe; Add exactly once and Take at
// most once per index. Ownership: the embedder and detector must outlive the
// batch; the destructor waits for forward passes still queued.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <future>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/detect_policy.h"
#include "model/detector.h"
#include "model/photo_embedder.h"

namespace photosearch {

struct EmbeddedPhoto {
  absl::Status status;        // OK, or why the photo has no vectors
  bool model_failed = false;  // status is the model's error, not the photo's
  // One vector (kWhole), or one per region (kPrimary: one; kAll: the whole
  // photo first, then each object). Empty unless status is OK.
  std::vector<std::vector<float>> vectors;
};

class PhotoBatch {
 public:
  // REQUIRES: detector is non-null unless policy is kWhole.
  PhotoBatch(PhotoEmbedder& embedder, Detector* detector, DetectPolicy policy, size_t n);
  ~PhotoBatch();
  PhotoBatch(const PhotoBatch&) = delete;
  PhotoBatch& operator=(const PhotoBatch&) = delete;

  // Photo i's bytes, or why there are none (it then fails with that status).
  // REQUIRES: i < size(), and Add was not called for i before.
  void Add(size_t i, absl::StatusOr<std::string> bytes);
  // Blocks until photo i is embedded or failed, or the batch is closed
  // without it (kCancelled).
  EmbeddedPhoto Take(size_t i);
  // No more Add calls will come (a producer stopped early): Take of a photo
  // never added fails at once instead of waiting.
  void Close();

  size_t size() const { return slots_.size(); }
  // Photos added so far (for progress).
  size_t added() const { return added_.load(); }

 private:
  struct Slot {
    std::future<BatchingEmbedder::Result> vector;  // kWhole
    EmbeddedPhoto done;                            // set when not pending on `vector`
    bool ready = false;                            // guarded by mu_
  };

  // Constant after construction.
  PhotoEmbedder& embedder_;
  Detector* const detector_;
  const DetectPolicy policy_;

  std::vector<Slot> slots_;  // each written by its Add, read by its Take
  std::atomic<size_t> added_{0};
  std::mutex mu_;
  std::condition_variable added_cv_;
  bool closed_ = false;  // guarded by mu_
};

}  // namespace photosearch
