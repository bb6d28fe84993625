#include "model/photo_embedder.h"

#include <thread>

#include "base/status_macros.h"
#include "base/stopwatch.h"
#include "image/decode.h"
#include "model/preprocess.h"

namespace photosearch {

absl::StatusOr<std::unique_ptr<PhotoEmbedder>> PhotoEmbedder::Load(
    const std::string& manifest_path, const PhotoEmbedderOptions& options) {
  ASSIGN_OR_RETURN(ModelManifest manifest, LoadModelManifest(manifest_path));
  std::vector<std::unique_ptr<Embedder>> replicas;
  EmbedderOptions embedder_options = options.embedder;
  // Load, warm up and calibrate on a thread that then exits. OpenMP (libtorch's
  // intra-op pool) keeps a team of threads per thread that ran a parallel
  // region, and once a process has more such threads than cores, libgomp stops
  // spinning between parallel regions: every layer of every forward pass would
  // then pay a futex wake-up (measured: +0.6 to 2 ms per query). The team
  // created here ends with the thread; only the batching workers keep one.
  absl::Status status;
  std::thread loader([&] {
    for (int i = 0; i < std::max(1, options.replicas); ++i) {
      absl::StatusOr<std::unique_ptr<Embedder>> replica = LoadEmbedder(manifest, embedder_options);
      if (!replica.ok()) {
        status = replica.status();
        return;
      }
      if (i == 0 && embedder_options.calibrate_max_batch > 1) {
        // The replicas are alike: warm them at the sizes the first one chose.
        embedder_options.calibrate_max_batch = 0;
        embedder_options.warmup_batch_sizes.clear();
        for (int b = 1; b <= (*replica)->preferred_batch(); ++b) {
          embedder_options.warmup_batch_sizes.push_back(b);
        }
      }
      replicas.push_back(std::move(*replica));
    }
  });
  loader.join();
  RETURN_IF_ERROR(status);
  return std::unique_ptr<PhotoEmbedder>(new PhotoEmbedder(std::move(replicas), options));
}

absl::StatusOr<std::vector<float>> PhotoEmbedder::Prepare(std::string_view bytes) const {
  DecodeOptions decode;
  decode.limits = limits_;
  decode.min_side = DecodeMinSide(manifest());
  ASSIGN_OR_RETURN(Image image, DecodeImage(bytes, decode));
  std::vector<float> input(InputTensorSize(manifest()));
  RETURN_IF_ERROR(Preprocess(image, manifest(), input.data()));
  return input;
}

absl::StatusOr<std::vector<float>> PhotoEmbedder::EmbedPhoto(std::string_view bytes,
                                                             PhotoTimings* timings) {
  Stopwatch watch;
  ASSIGN_OR_RETURN(std::vector<float> input, Prepare(bytes));
  double decode_ms = watch.ElapsedMs();
  watch.Reset();
  BatchingEmbedder::Result vector = batcher_.Embed(std::move(input));
  if (timings) {
    timings->decode_ms = decode_ms;
    timings->embed_ms = watch.ElapsedMs();
  }
  return vector;
}

}  // namespace photosearch
