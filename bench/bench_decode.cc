// Decode and preprocess cost per photo on one thread: what indexing spends
// beside the model. Compares full-size decode with DCT-domain downscaling,
// and DecodeImage (libjpeg API, a decompressor per photo, checks) with raw
// TurboJPEG (tjDecompress2 into a preallocated buffer, one handle reused: the
// fastest way to call the library, and what DecodeImage used before).
//
//   bench_decode [--photos DIR] [--images 300]
#include <turbojpeg.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "base/files.h"
#include "base/stopwatch.h"
#include "image/decode.h"
#include "model/manifest.h"
#include "model/preprocess.h"
#include "pipeline/folder_indexer.h"
#include "support/test_env.h"

using namespace photosearch;

int main(int argc, char** argv) {
  std::string dir = testing::AssetsDir() + "/photos/grocery_store/test";
  size_t images = 300;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--photos")
      dir = argv[i + 1];
    else if (flag == "--images")
      images = std::strtoul(argv[i + 1], nullptr, 10);
  }
  int64_t ignored = 0;
  auto list = ListPhotos(dir, &ignored);
  if (!list.ok() || list->empty()) return 1;
  if (list->size() > images) list->resize(images);
  std::vector<std::string> bytes;
  for (const auto& p : *list) bytes.push_back(*ReadFile(dir + "/" + p));
  auto m = LoadModelManifest(testing::DefaultModel());
  if (!m.ok()) return 1;
  const int rounds = 3;
  double full_ms = 0;
  for (int min_side : {0, DecodeMinSide(*m)}) {
    DecodeOptions options;
    options.min_side = min_side;
    int width = 0;
    Stopwatch watch;
    for (int r = 0; r < rounds; ++r) {
      for (const auto& b : bytes) width = DecodeImage(b, options)->width;
    }
    double ms = watch.ElapsedMs() / (rounds * bytes.size());
    if (min_side == 0) full_ms = ms;
    std::printf("decode, min_side %4d: %6.3f ms/photo (last width %d)%s\n", min_side, ms, width,
                min_side ? "" : "  [full size]");
    if (min_side) std::printf("DCT downscale speed-up:  %6.2fx\n", full_ms / ms);

    // Raw TurboJPEG at the same scale, in the same run.
    tjhandle handle = tjInitDecompress();
    std::vector<unsigned char> out;
    int failed = 0;
    Stopwatch raw_watch;
    for (int r = 0; r < rounds; ++r) {
      for (const auto& b : bytes) {
        const auto* data = reinterpret_cast<const unsigned char*>(b.data());
        int w = 0, h = 0, sub = 0, cs = 0;
        if (tjDecompressHeader3(handle, data, b.size(), &w, &h, &sub, &cs) != 0) {
          ++failed;
          continue;
        }
        int eighths = 8;
        for (int n = 7; min_side > 0 && n >= 1; --n) {
          if ((w * n + 7) / 8 < min_side || (h * n + 7) / 8 < min_side) break;
          eighths = n;
        }
        w = (w * eighths + 7) / 8, h = (h * eighths + 7) / 8;
        out.resize(size_t(w) * h * 3);
        if (tjDecompress2(handle, data, b.size(), out.data(), w, 0, h, TJPF_RGB, 0) != 0) ++failed;
      }
    }
    double raw_ms = raw_watch.ElapsedMs() / (rounds * bytes.size());
    tjDestroy(handle);
    std::printf(
        "raw TurboJPEG, min_side %4d: %6.3f ms/photo (%d failed); DecodeImage / raw = "
        "%.3f\n",
        min_side, raw_ms, failed, ms / raw_ms);
  }
  DecodeOptions options;
  options.min_side = DecodeMinSide(*m);
  std::vector<Image> decoded;
  for (const auto& b : bytes) decoded.push_back(*DecodeImage(b, options));
  std::vector<float> tensor(InputTensorSize(*m));
  Stopwatch watch;
  for (int r = 0; r < rounds; ++r) {
    for (const auto& image : decoded) (void)Preprocess(image, *m, tensor.data());
  }
  std::printf("preprocess:             %6.3f ms/photo\n",
              watch.ElapsedMs() / (rounds * decoded.size()));
  return 0;
}
