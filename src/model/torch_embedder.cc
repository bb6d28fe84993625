// The libtorch runtime. The only translation unit that includes torch: keep it
// that way (torch/script.h costs ~15 s and ~740 MiB per TU to compile).
#include <ATen/Parallel.h>
#include <torch/script.h>

#include <mutex>

#include "absl/strings/str_cat.h"
#include "model/embedder.h"
#include "model/preprocess.h"

namespace photosearch {
namespace {

void ConfigureTorchThreads(int threads) {
  static std::once_flag once;
  std::call_once(once, [] {
    // Inter-op parallelism only helps graphs with parallel branches; ours are
    // chains, and an idle inter-op pool would compete with the decoders.
    try {
      at::set_num_interop_threads(1);
    } catch (const std::exception&) {
      // Already set (the pool started); keep what is there.
    }
  });
  at::set_num_threads(threads);
}

class TorchEmbedder : public Embedder {
 public:
  TorchEmbedder(ModelManifest manifest, torch::jit::Module module, int threads)
      : Embedder(std::move(manifest)), module_(std::move(module)), threads_(threads) {}

  void ConfigureCallingThread() override { at::set_num_threads(threads_); }

 protected:
  absl::StatusOr<std::vector<float>> Forward(const float* input, int n) override {
    const ModelManifest& m = manifest();
    try {
      c10::InferenceMode guard;
      torch::Tensor x = torch::from_blob(const_cast<float*>(input),
                                         {n, 3, m.input_height, m.input_width}, torch::kFloat32);
      torch::jit::IValue result = m.output_name == "forward"
                                      ? module_.forward({x})
                                      : module_.get_method(m.output_name)({x});
      torch::Tensor y;
      if (result.isTensor()) {
        y = result.toTensor();
      } else if (result.isTuple() && !result.toTupleRef().elements().empty()) {
        y = result.toTupleRef().elements()[0].toTensor();  // the first output
      } else {
        return absl::InternalError(absl::StrCat("model ", m.id, ": method ", m.output_name,
                                                " returned neither a tensor nor a tuple"));
      }
      y = y.to(torch::kFloat32);
      if (y.dim() == 4) {
        if (m.pooling == "mean") {
          y = y.mean({2, 3});
        } else if (m.pooling == "max") {
          y = y.amax({2, 3});
        } else {
          return absl::InternalError(
              absl::StrCat("model ", m.id, ": 4-D output needs output.pooling mean or max"));
        }
      }
      y = y.reshape({n, -1}).contiguous();
      if (y.size(1) != m.dimension) {
        return absl::InternalError(absl::StrCat("model ", m.id, " output has dimension ", y.size(1),
                                                ", manifest says ", m.dimension));
      }
      const float* data = y.data_ptr<float>();
      return std::vector<float>(data, data + y.numel());
    } catch (const std::exception& e) {
      return absl::InternalError(absl::StrCat("libtorch forward of ", m.id, ": ", e.what()));
    }
  }

 private:
  torch::jit::Module module_;
  const int threads_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Embedder>> LoadTorchEmbedder(const ModelManifest& manifest,
                                                            const EmbedderOptions& options) {
  ConfigureTorchThreads(options.threads);
  try {
    torch::jit::Module module = torch::jit::load(manifest.file, torch::kCPU);
    module.eval();
    std::vector<std::string> keep;
    if (manifest.output_name != "forward") keep.push_back(manifest.output_name);
    if (manifest.precision == "bf16") {
      // optimize_for_inference converts convolutions to FP32 oneDNN layouts;
      // a BF16 graph is only frozen.
      module = torch::jit::freeze(module, keep);
    } else {
      if (!keep.empty()) module = torch::jit::freeze(module, keep);
      module = torch::jit::optimize_for_inference(module, keep);
    }
    return std::unique_ptr<Embedder>(
        new TorchEmbedder(manifest, std::move(module), options.threads));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("loading TorchScript model ", manifest.file, ": ", e.what()));
  }
}

}  // namespace photosearch
