#include "gateway/http_server.h"

#include <filesystem>

#include "base/files.h"
#include "gtest/gtest.h"
#include "support/test_env.h"

namespace photosearch {
namespace {

TEST(HttpStatus, MapsCanonicalCodes) {
  EXPECT_EQ(HttpStatusFor(absl::InvalidArgumentError("")), 400);
  EXPECT_EQ(HttpStatusFor(absl::NotFoundError("")), 404);
  EXPECT_EQ(HttpStatusFor(absl::ResourceExhaustedError("")), 413);
  EXPECT_EQ(HttpStatusFor(absl::UnavailableError("")), 503);
  EXPECT_EQ(HttpStatusFor(absl::DeadlineExceededError("")), 504);
  EXPECT_EQ(HttpStatusFor(absl::InternalError("")), 500);
  EXPECT_EQ(HttpStatusFor(absl::DataLossError("")), 500);
}

TEST(ResolvePhotoPath, ServesOnlyPhotosInsideTheFolder) {
  testing::ScratchDir outside;
  testing::ScratchDir root;
  ASSERT_TRUE(WriteFileAtomic(root / "Fruit/apple 1.jpg", "jpeg").ok());
  ASSERT_TRUE(WriteFileAtomic(root / "notes.txt", "text").ok());
  ASSERT_TRUE(WriteFileAtomic(outside / "secret.jpg", "secret").ok());
  std::filesystem::create_symlink(outside / "secret.jpg", root / "link.jpg");

  auto ok = ResolvePhotoPath(root.path(), "Fruit/apple 1.jpg");
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(*ReadFile(*ok), "jpeg");
  for (const std::string& bad : std::vector<std::string>{
           "", "../secret.jpg", "Fruit/../../secret.jpg", "/etc/passwd", "Fruit//apple 1.jpg",
           "./Fruit/apple 1.jpg", "notes.txt", "link.jpg", "missing.jpg", "Fruit\\apple 1.jpg",
           std::string("Fruit/apple 1.jpg\0.png", 22)}) {
    EXPECT_EQ(ResolvePhotoPath(root.path(), bad).status().code(), absl::StatusCode::kNotFound)
        << bad;
  }
  EXPECT_FALSE(ResolvePhotoPath("", "Fruit/apple 1.jpg").ok());
}

}  // namespace
}  // namespace photosearch
