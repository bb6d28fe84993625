// What detection adds to a query: median latency at batch 1, on --threads
// intra-op threads, of
//   detect (torch)   Detector::Detect on a decoded photo (letterbox, forward, decode, NMS)
//   detect (opencv)  the same on OpenCV DNN (ONNX)
//   embed            the default embedder: Preprocess + EmbedBatch(1) on a decoded photo
//   chain            bytes -> decode -> detect (torch) -> primary crop -> preprocess -> embed
// printed with their ratios to `embed`. Cases alternate within each round so
// that drift on a shared machine hits all of them.
//
//   bench_detect [--photos DIR] [--rounds 5] [--iterations 5] [--threads 2] [--no-opencv 1]
//                [--detector DIR] [--no-fuse 1]
//
// --no-opencv 1 leaves OpenCV DNN out (its TBB workers share the cores with
// libtorch's OpenMP threads in this process). --detector takes another
// manifest, e.g. the bundled network at another input size (copy
// models/yolox_nano and change input.width/height). --no-fuse 1 loads the
// TorchScript detector without optimize_for_inference.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "base/files.h"
#include "base/stopwatch.h"
#include "image/decode.h"
#include "model/detect_policy.h"
#include "model/detector.h"
#include "model/embedder.h"
#include "model/manifest.h"
#include "model/preprocess.h"
#include "model/region_embedder.h"
#include "pipeline/folder_indexer.h"
#include "stats.h"
#include "support/test_env.h"

using namespace photosearch;
using bench::Percentile;

namespace {

int Fail(const std::string& message) {
  std::fprintf(stderr, "bench_detect: %s\n", message.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string photos = testing::AssetsDir() + "/photos/scenes";
  int rounds = 5, iterations = 5, threads = 2;
  bool with_opencv = true, fuse = true;
  std::string detector_dir = testing::SourceDir() + "/models/yolox_nano";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--photos")
      photos = argv[i + 1];
    else if (flag == "--rounds")
      rounds = std::atoi(argv[i + 1]);
    else if (flag == "--iterations")
      iterations = std::atoi(argv[i + 1]);
    else if (flag == "--threads")
      threads = std::atoi(argv[i + 1]);
    else if (flag == "--no-opencv")
      with_opencv = std::atoi(argv[i + 1]) == 0;
    else if (flag == "--detector")
      detector_dir = argv[i + 1];
    else if (flag == "--no-fuse")
      fuse = std::atoi(argv[i + 1]) == 0;
    else
      return Fail("unknown flag " + flag);
  }
  int64_t ignored = 0;
  auto list = ListPhotos(photos, &ignored);
  if (!list.ok() || list->empty()) return Fail("no photos under " + photos);
  if (list->size() > 20) list->resize(20);

  DetectorOptions torch_options;
  torch_options.runtime = "torch";
  torch_options.threads = threads;
  torch_options.fuse = fuse;
  auto torch_detector = Detector::Load(detector_dir, torch_options);
  if (!torch_detector.ok()) return Fail(std::string(torch_detector.status().message()));
  absl::StatusOr<std::unique_ptr<Detector>> opencv_detector;
  if (with_opencv) {
    DetectorOptions opencv_options;
    opencv_options.runtime = "opencv";
    opencv_options.threads = threads;
    opencv_options.fuse = false;
    opencv_detector = Detector::Load(detector_dir, opencv_options);
    if (!opencv_detector.ok()) return Fail(std::string(opencv_detector.status().message()));
  }
  auto embed_manifest = LoadModelManifest(testing::DefaultModel());
  if (!embed_manifest.ok()) return Fail(std::string(embed_manifest.status().message()));
  auto embedder = LoadEmbedder(*embed_manifest, {threads, {1}, 0});
  if (!embedder.ok()) return Fail(std::string(embedder.status().message()));
  (*embedder)->ConfigureCallingThread();
  const ModelManifest& em = *embed_manifest;

  // The chain decodes once for both models, as EmbedRegions does.
  DecodeOptions decode;
  decode.min_side = RegionDecodeMinSide((*torch_detector)->manifest());
  std::vector<std::string> bytes;
  std::vector<Image> images;
  for (const std::string& p : *list) {
    auto b = ReadFile(photos + "/" + p);
    if (!b.ok()) return Fail(std::string(b.status().message()));
    auto image = DecodeImage(*b, decode);
    if (!image.ok()) return Fail(p + ": " + std::string(image.status().message()));
    bytes.push_back(std::move(*b));
    images.push_back(std::move(*image));
  }
  const DetectorManifest& dm = (*torch_detector)->manifest();
  std::printf(
      "%zu photos from %s, %d thread(s), %d rounds x %d iterations per photo; detector %s at "
      "%dx%d%s\n",
      images.size(), photos.c_str(), threads, rounds, iterations, dm.id.c_str(), dm.input_width,
      dm.input_height, fuse ? "" : ", torch unfused");

  std::vector<float> tensor(InputTensorSize(em));
  auto embed = [&](const Image& image) {
    if (!Preprocess(image, em, tensor.data()).ok()) std::abort();
    if (!(*embedder)->EmbedBatch(tensor.data(), 1).ok()) std::abort();
  };
  int crops_of_objects = 0;
  const CropOptions crop_options = CropOptionsFor(dm);  // as EmbedRegions cuts
  enum { kTorch, kOpenCv, kEmbed, kChain, kDecode, kCases };
  const char* names[kCases] = {"detect (torch)", "detect (opencv)", "embed", "chain",
                               "  of which decode"};
  std::vector<double> samples[kCases];
  for (int round = 0; round < rounds; ++round) {
    for (int c = kTorch; c <= kChain; ++c) {
      if (c == kOpenCv && !with_opencv) continue;
      for (int it = 0; it < iterations; ++it) {
        for (size_t i = 0; i < images.size(); ++i) {
          Stopwatch watch;
          if (c == kTorch || c == kOpenCv) {
            auto boxes = (c == kTorch ? *torch_detector : *opencv_detector)->Detect(images[i]);
            if (!boxes.ok()) return Fail(std::string(boxes.status().message()));
          } else if (c == kEmbed) {
            embed(images[i]);
          } else {
            auto image = DecodeImage(bytes[i], decode);
            if (!image.ok()) return Fail(std::string(image.status().message()));
            samples[kDecode].push_back(watch.ElapsedMs());
            auto boxes = (*torch_detector)->Detect(*image);
            if (!boxes.ok()) return Fail(std::string(boxes.status().message()));
            CropRect crop = CropRegions(DetectPolicy::kPrimary, *boxes, image->width, image->height,
                                        crop_options)[0];
            if (crop.detection >= 0) ++crops_of_objects;
            embed(CropImage(*image, crop));
          }
          samples[c].push_back(watch.ElapsedMs());
        }
      }
    }
  }
  const double embed_ms = Percentile(samples[kEmbed], 0.5);
  std::printf("%-18s %9s %9s %9s\n", "case", "p50 ms", "p90 ms", "/ embed");
  for (int c = 0; c < kCases; ++c) {
    if (samples[c].empty()) continue;
    double p50 = Percentile(samples[c], 0.5);
    std::printf("%-18s %9.2f %9.2f %8.2fx\n", names[c], p50, Percentile(samples[c], 0.9),
                p50 / embed_ms);
  }
  if (with_opencv) {
    std::printf("opencv / torch detect: %.2fx\n",
                Percentile(samples[kOpenCv], 0.5) / Percentile(samples[kTorch], 0.5));
  }
  std::printf("chain cropped to an object in %d of %zu runs\n", crops_of_objects,
              samples[kChain].size());
  return 0;
}
