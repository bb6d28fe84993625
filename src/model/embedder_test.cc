// The two runtimes on the real bundled model: they agree, batches equal single
// runs, dynamic batching merges concurrent requests, vectors are unit length.
#include "model/embedder.h"

#include <cmath>
#include <fstream>
#include <future>
#include <thread>

#include "base/files.h"
#include "base/status_macros.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/batching_embedder.h"
#include "model/photo_batch.h"
#include "model/photo_embedder.h"
#include "model/preprocess.h"
#include "support/test_env.h"

namespace photosearch {
namespace {

const char* kScenes[] = {"astronaut.jpg", "chelsea.jpg", "coffee.jpg", "rocket.jpg"};

std::string ModelFile(const char* name) {
  return testing::SourceDir() + "/models/mobilenetv2/" + name;
}

std::vector<float> SceneTensors(const ModelManifest& m, PhotoEmbedder& decoder) {
  std::vector<float> tensors;
  for (const char* scene : kScenes) {
    auto bytes = ReadFile(testing::AssetsDir() + "/photos/scenes/" + scene);
    EXPECT_TRUE(bytes.ok()) << bytes.status();
    auto input = decoder.Prepare(*bytes);
    EXPECT_TRUE(input.ok()) << input.status();
    tensors.insert(tensors.end(), input->begin(), input->end());
  }
  EXPECT_EQ(tensors.size(), InputTensorSize(m) * 4);
  return tensors;
}

double Dot(const float* a, const float* b, int dim) {
  double sum = 0;
  for (int i = 0; i < dim; ++i) sum += double{a[i]} * b[i];
  return sum;
}

bool CpuHasBf16() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string text((std::istreambuf_iterator<char>(cpuinfo)), std::istreambuf_iterator<char>());
  return text.find("avx512_bf16") != std::string::npos ||
         text.find("amx_bf16") != std::string::npos;
}

class EmbedderTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    PhotoEmbedderOptions options;
    options.embedder.threads = 2;
    auto loaded = PhotoEmbedder::Load(ModelFile("model.json"), options);
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    photo_ = loaded->release();
  }
  static void TearDownTestSuite() { delete photo_; }
  static PhotoEmbedder* photo_;
};
PhotoEmbedder* EmbedderTest::photo_ = nullptr;

TEST_F(EmbedderTest, TorchAndOpenCvAgreeAndBatchesEqualSingles) {
  const ModelManifest& m = photo_->manifest();
  std::vector<float> tensors = SceneTensors(m, *photo_);
  auto onnx_manifest = LoadModelManifest(ModelFile("model-onnx.json"));
  ASSERT_TRUE(onnx_manifest.ok());
  EXPECT_EQ(onnx_manifest->id, m.id);  // same weights, same id
  auto torch = LoadEmbedder(m, {2, {1}, 0});
  auto onnx = LoadEmbedder(*onnx_manifest, {2, {1}, 0});
  ASSERT_TRUE(torch.ok()) << torch.status();
  ASSERT_TRUE(onnx.ok()) << onnx.status();
  auto t4 = (*torch)->EmbedBatch(tensors.data(), 4);
  auto o4 = (*onnx)->EmbedBatch(tensors.data(), 4);
  ASSERT_TRUE(t4.ok()) << t4.status();
  ASSERT_TRUE(o4.ok()) << o4.status();
  ASSERT_EQ(t4->size(), 4u * 1280);
  for (int i = 0; i < 4; ++i) {
    SCOPED_TRACE(kScenes[i]);
    const float* t = t4->data() + i * 1280;
    EXPECT_NEAR(Dot(t, t, 1280), 1.0, 1e-5);                  // L2-normalised
    EXPECT_GT(Dot(t, o4->data() + i * 1280, 1280), 0.99999);  // runtimes agree
    auto single = (*torch)->EmbedBatch(tensors.data() + i * InputTensorSize(m), 1);
    ASSERT_TRUE(single.ok());
    for (int d = 0; d < 1280; ++d) ASSERT_NEAR((*single)[d], t[d], 1e-4);
  }
  // Different photos are not near-duplicates.
  EXPECT_LT(Dot(t4->data(), t4->data() + 1280, 1280), 0.8);
}

TEST_F(EmbedderTest, Bf16IsCloseToFp32OrRefusedWithAReason) {
  auto manifest = LoadModelManifest(ModelFile("model-bf16.json"));
  ASSERT_TRUE(manifest.ok());
  auto bf16 = LoadEmbedder(*manifest, {2, {1}, 0});
  if (!CpuHasBf16()) {
    ASSERT_FALSE(bf16.ok());
    EXPECT_EQ(bf16.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(std::string(bf16.status().message()), ::testing::HasSubstr("BF16"));
    return;
  }
  ASSERT_TRUE(bf16.ok()) << bf16.status();
  std::vector<float> tensors = SceneTensors(photo_->manifest(), *photo_);
  auto fp32 = LoadEmbedder(photo_->manifest(), {2, {1}, 0});
  auto a = (*fp32)->EmbedBatch(tensors.data(), 4);
  auto b = (*bf16)->EmbedBatch(tensors.data(), 4);
  ASSERT_TRUE(a.ok() && b.ok());
  for (int i = 0; i < 4; ++i)
    EXPECT_GT(Dot(a->data() + i * 1280, b->data() + i * 1280, 1280), 0.999);
}

TEST_F(EmbedderTest, ConcurrentRequestsShareBatches) {
  const ModelManifest& m = photo_->manifest();
  std::vector<float> tensors = SceneTensors(m, *photo_);
  auto direct = LoadEmbedder(m, {2, {1}, 0});
  ASSERT_TRUE(direct.ok());
  auto expected = (*direct)->EmbedBatch(tensors.data(), 4);
  ASSERT_TRUE(expected.ok());

  std::vector<std::unique_ptr<Embedder>> replicas;
  replicas.push_back(std::move(*direct));
  BatchingEmbedder batcher(std::move(replicas), {/*max_batch=*/8, /*max_queue=*/64});
  const int kRequests = 64;
  std::vector<std::future<BatchingEmbedder::Result>> futures;
  for (int r = 0; r < kRequests; ++r) {
    const float* t = tensors.data() + (r % 4) * InputTensorSize(m);
    futures.push_back(batcher.Submit(std::vector<float>(t, t + InputTensorSize(m))));
  }
  for (int r = 0; r < kRequests; ++r) {
    auto v = futures[r].get();
    ASSERT_TRUE(v.ok()) << v.status();
    const float* want = expected->data() + (r % 4) * 1280;
    EXPECT_GT(Dot(v->data(), want, 1280), 0.9999) << r;
  }
  EXPECT_EQ(batcher.items_embedded(), static_cast<uint64_t>(kRequests));
  // Requests queued while a batch ran were merged: far fewer passes than requests.
  EXPECT_LE(batcher.batches_run(), static_cast<uint64_t>(kRequests / 2));
  // A wrongly sized input is refused, not run.
  auto bad = batcher.Submit(std::vector<float>(7)).get();
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);

  // Tasks run on the worker thread, in queue order between batches, and the
  // embeddings queued around them are still answered.
  std::thread::id worker;
  std::vector<std::future<BatchingEmbedder::Result>> around;
  for (int r = 0; r < 8; ++r) {
    around.push_back(
        batcher.Submit(std::vector<float>(tensors.data(), tensors.data() + InputTensorSize(m))));
  }
  std::future<void> task = batcher.RunOnWorker([&] { worker = std::this_thread::get_id(); });
  for (int r = 0; r < 8; ++r) {
    around.push_back(
        batcher.Submit(std::vector<float>(tensors.data(), tensors.data() + InputTensorSize(m))));
  }
  task.wait();
  EXPECT_NE(worker, std::thread::id());
  EXPECT_NE(worker, std::this_thread::get_id());
  for (auto& f : around) EXPECT_TRUE(f.get().ok());
  EXPECT_EQ(batcher.items_embedded(), static_cast<uint64_t>(kRequests + 16));
}

TEST_F(EmbedderTest, PhotoPathReportsDecodeErrors) {
  PhotoTimings timings;
  auto v = photo_->EmbedPhoto("definitely not a photo", &timings);
  EXPECT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument);
  auto bytes = ReadFile(testing::AssetsDir() + "/photos/scenes/coffee.jpg");
  ASSERT_TRUE(bytes.ok());
  auto good = photo_->EmbedPhoto(*bytes, &timings);
  ASSERT_TRUE(good.ok()) << good.status();
  EXPECT_EQ(good->size(), 1280u);
  EXPECT_GT(timings.embed_ms, 0);
}

// One PhotoBatch from several threads, in any order: a corrupt photo fails
// alone (not as a model error), the photos around it get exactly the vectors
// EmbedPhoto gives them, and Close ends the wait for photos that never come.
TEST_F(EmbedderTest, PhotoBatchKeepsOrderAndFailsPhotosAlone) {
  std::vector<std::string> photos;
  for (const char* scene : kScenes) {
    photos.push_back(*ReadFile(testing::AssetsDir() + "/photos/scenes/" + scene));
  }
  PhotoBatch batch(*photo_, nullptr, DetectPolicy::kWhole, 7);
  std::vector<std::thread> adders;
  // 0..3 the scenes, 4 corrupt (a cut JPEG), 5 a read error, 6 never added.
  adders.emplace_back([&] { batch.Add(4, photos[0].substr(0, photos[0].size() / 3)); });
  adders.emplace_back([&] { batch.Add(5, absl::NotFoundError("no such file")); });
  for (int i = 3; i >= 0; --i) adders.emplace_back([&, i] { batch.Add(i, photos[i]); });
  for (auto& t : adders) t.join();
  batch.Close();
  EXPECT_EQ(batch.added(), 6u);
  for (int i = 0; i < 4; ++i) {
    EmbeddedPhoto got = batch.Take(i);
    ASSERT_TRUE(got.status.ok()) << got.status;
    ASSERT_EQ(got.vectors.size(), 1u);
    auto alone = photo_->EmbedPhoto(photos[i], nullptr);
    ASSERT_TRUE(alone.ok());
    EXPECT_GT(Dot(got.vectors[0].data(), alone->data(), 1280), 0.9999) << kScenes[i];
  }
  EmbeddedPhoto corrupt = batch.Take(4);
  EXPECT_FALSE(corrupt.status.ok());
  EXPECT_FALSE(corrupt.model_failed);
  EXPECT_EQ(batch.Take(5).status.code(), absl::StatusCode::kNotFound);
  EmbeddedPhoto missing = batch.Take(6);
  EXPECT_EQ(missing.status.code(), absl::StatusCode::kCancelled);
  EXPECT_TRUE(IsModelError(MarkModelError(absl::InternalError("forward failed"))));
  EXPECT_FALSE(IsModelError(absl::InternalError("forward failed")));
  EXPECT_TRUE(IsModelError(Annotate(MarkModelError(absl::InternalError("x")), "embedding")));
}

TEST(Embedder, CalibrationPicksABatchSize) {
  auto m = LoadModelManifest(ModelFile("model.json"));
  ASSERT_TRUE(m.ok());
  EmbedderOptions options;
  options.threads = 1;
  options.calibrate_max_batch = 8;
  auto e = LoadEmbedder(*m, options);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_GE((*e)->preferred_batch(), 1);
  EXPECT_LE((*e)->preferred_batch(), 8);
}

TEST(Embedder, NormalizeRows) {
  std::vector<float> v = {3, 4, 0, 0};
  ASSERT_TRUE(NormalizeRows(v.data(), 2, 2));
  EXPECT_FLOAT_EQ(v[0], 0.6f);
  EXPECT_FLOAT_EQ(v[1], 0.8f);
  EXPECT_EQ(v[2], 0);  // zero rows stay zero
  std::vector<float> bad = {NAN, 1};
  EXPECT_FALSE(NormalizeRows(bad.data(), 1, 2));
}

}  // namespace
}  // namespace photosearch
