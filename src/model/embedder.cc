#include "model/embedder.h"

#include <cmath>
#include <fstream>
#include <string>
#include <thread>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "base/stopwatch.h"
#include "model/preprocess.h"

namespace photosearch {
namespace {

// True if the CPU can run BF16 matrix code at speed (AVX512-BF16 or AMX-BF16).
bool CpuHasFastBf16() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("flags", 0) == 0) {
      return line.find(" avx512_bf16") != std::string::npos ||
             line.find(" amx_bf16") != std::string::npos;
    }
  }
  return false;
}

constexpr char kModelErrorUrl[] = "photosearch/model-error";

}  // namespace

absl::Status MarkModelError(absl::Status status) {
  if (!status.ok()) status.SetPayload(kModelErrorUrl, absl::Cord("1"));
  return status;
}

bool IsModelError(const absl::Status& status) {
  return !status.ok() && status.GetPayload(kModelErrorUrl).has_value();
}

bool NormalizeRows(float* vectors, int64_t n, int dim) {
  for (int64_t r = 0; r < n; ++r) {
    float* row = vectors + r * dim;
    double sum = 0;
    for (int d = 0; d < dim; ++d) sum += double{row[d]} * row[d];
    if (!std::isfinite(sum)) return false;
    if (sum == 0) continue;
    float inv = static_cast<float>(1.0 / std::sqrt(sum));
    for (int d = 0; d < dim; ++d) row[d] *= inv;
  }
  return true;
}

absl::StatusOr<std::vector<float>> Embedder::EmbedBatch(const float* input, int n) {
  if (n < 1) return absl::InvalidArgumentError("EmbedBatch: empty batch");
  auto out = Forward(input, n);
  if (!out.ok()) return out.status();
  if (out->size() != static_cast<size_t>(n) * manifest_.dimension) {
    return absl::InternalError(absl::StrCat("model ", manifest_.id, " returned ", out->size(),
                                            " floats for ", n, " inputs of dimension ",
                                            manifest_.dimension));
  }
  if (manifest_.l2_normalize && !NormalizeRows(out->data(), n, manifest_.dimension)) {
    return absl::InternalError(absl::StrCat("model ", manifest_.id, " produced NaN or Inf"));
  }
  return out;
}

absl::StatusOr<std::unique_ptr<Embedder>> LoadEmbedder(const ModelManifest& manifest,
                                                       const EmbedderOptions& options) {
  if (manifest.precision == "bf16" && !CpuHasFastBf16()) {
    return absl::FailedPreconditionError(
        absl::StrCat("model ", manifest.id,
                     " is bf16, but this CPU has neither AVX512-BF16 nor AMX-BF16; "
                     "use the fp32 model (and an index built with it)"));
  }
  EmbedderOptions resolved = options;
  if (resolved.threads <= 0) {
    resolved.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  }
  absl::StatusOr<std::unique_ptr<Embedder>> embedder = manifest.runtime == "torchscript"
                                                           ? LoadTorchEmbedder(manifest, resolved)
                                                           : LoadOpenCvEmbedder(manifest, resolved);
  if (!embedder.ok()) return embedder.status();
  Embedder& e = **embedder;
  e.ConfigureCallingThread();
  std::vector<float> zeros;
  auto run = [&](int batch) -> absl::StatusOr<double> {
    zeros.resize(InputTensorSize(manifest) * batch, 0.f);
    Stopwatch watch;
    auto out = e.EmbedBatch(zeros.data(), batch);
    if (!out.ok()) {
      return Annotate(out.status(), absl::StrCat("warming up ", manifest.id, " at batch ", batch));
    }
    return watch.ElapsedMs();
  };
  for (int batch : resolved.warmup_batch_sizes) {
    if (batch < 1) continue;
    if (auto warm = run(batch); !warm.ok()) return warm.status();
  }
  if (resolved.calibrate_max_batch > 1) {
    double best_ms_per_image = 0;
    for (int batch = 1; batch <= resolved.calibrate_max_batch; batch *= 2) {
      // The first run at a shape pays for its specialisation; time the next two.
      if (auto first = run(batch); !first.ok()) return first.status();
      double ms = 1e300;
      for (int repeat = 0; repeat < 2; ++repeat) {
        auto timed = run(batch);
        if (!timed.ok()) return timed.status();
        ms = std::min(ms, *timed);
      }
      double per_image = ms / batch;
      if (batch == 1 || per_image < best_ms_per_image * 0.97) {  // a bigger batch must clearly win
        best_ms_per_image = per_image;
        e.preferred_batch_ = batch;
      } else if (per_image > best_ms_per_image * 1.5) {
        break;  // past a cliff; larger batches will not recover
      }
    }
    // Warm the sizes below the preferred one that dynamic batching will use.
    for (int batch = 1; batch <= e.preferred_batch_; ++batch) {
      if (auto warm = run(batch); !warm.ok()) return warm.status();
    }
  }
  return embedder;
}

}  // namespace photosearch
