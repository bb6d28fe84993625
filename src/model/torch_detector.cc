// The libtorch runtime of Detector. With torch_embedder.cc, the only
// translation units that include torch (torch/script.h costs ~20 s per TU).
#include <ATen/Parallel.h>
#include <torch/script.h>

#include "absl/strings/str_cat.h"
#include "model/detector_runtime.h"

namespace photosearch {
namespace {

class TorchDetectorRuntime : public Detector::Runtime {
 public:
  TorchDetectorRuntime(const DetectorManifest& manifest, torch::jit::Module module, int threads)
      : id_(manifest.id),
        height_(manifest.input_height),
        width_(manifest.input_width),
        module_(std::move(module)),
        threads_(threads) {}

  absl::StatusOr<DetectorOutput> Forward(const float* input) override {
    try {
      // The intra-op thread count is per calling thread (OpenMP); setting it
      // rebuilds pools, so only when it differs.
      if (at::get_num_threads() != threads_) at::set_num_threads(threads_);
      c10::InferenceMode guard;
      torch::Tensor x =
          torch::from_blob(const_cast<float*>(input), {1, 3, height_, width_}, torch::kFloat32);
      torch::jit::IValue result = module_.forward({x});
      torch::Tensor y;
      if (result.isTensor()) {
        y = result.toTensor();
      } else if (result.isTuple() && !result.toTupleRef().elements().empty() &&
                 result.toTupleRef().elements()[0].isTensor()) {
        y = result.toTupleRef().elements()[0].toTensor();
      } else {
        return absl::InternalError(
            absl::StrCat("detector ", id_, ": forward returned neither a tensor nor a tuple"));
      }
      if (y.dim() == 3 && y.size(0) == 1) y = y.squeeze(0);
      if (y.dim() != 2) {
        return absl::InternalError(absl::StrCat("detector ", id_, ": output has ", y.dim(),
                                                " dimensions, expected [1,N,5+C]"));
      }
      y = y.to(torch::kFloat32).contiguous();
      DetectorOutput out;
      out.rows = static_cast<int>(y.size(0));
      out.cols = static_cast<int>(y.size(1));
      const float* data = y.data_ptr<float>();
      out.values.assign(data, data + y.numel());
      return out;
    } catch (const std::exception& e) {
      return absl::InternalError(
          absl::StrCat("libtorch forward of detector ", id_, ": ", e.what()));
    }
  }

 private:
  const std::string id_;
  const int64_t height_;
  const int64_t width_;
  torch::jit::Module module_;
  const int threads_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Detector::Runtime>> LoadTorchDetectorRuntime(
    const DetectorManifest& manifest, const std::string& file, int threads, bool fuse) {
  try {
    at::set_num_threads(threads);
    torch::jit::Module module = torch::jit::load(file, torch::kCPU);
    module.eval();
    // Freezes the module and prepacks convolutions for oneDNN: ~3x faster
    // than the plain module on YOLOX-Nano (SOURCES.md).
    if (fuse) module = torch::jit::optimize_for_inference(module);
    return std::unique_ptr<Detector::Runtime>(
        new TorchDetectorRuntime(manifest, std::move(module), threads));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("loading TorchScript detector ", file, ": ", e.what()));
  }
}

}  // namespace photosearch
