#include "base/files.h"

#include <filesystem>

#include "base/sha256.h"
#include "base/status_macros.h"
#include "gtest/gtest.h"
#include "support/test_env.h"

namespace photosearch {
namespace {

TEST(Files, AtomicWriteThenRead) {
  testing::ScratchDir dir;
  std::string path = dir / "a/b/c.bin";  // parents are created
  ASSERT_TRUE(WriteFileAtomic(path, "hello").ok());
  ASSERT_TRUE(WriteFileAtomic(path, "replaced").ok());
  auto data = ReadFile(path);
  ASSERT_TRUE(data.ok());
  EXPECT_EQ(*data, "replaced");
  // No temporary file is left behind.
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir / "a/b")) {
    (void)entry;
    ++files;
  }
  EXPECT_EQ(files, 1);
}

TEST(Files, ReadRefusesMissingAndOversized) {
  testing::ScratchDir dir;
  EXPECT_EQ(ReadFile(dir / "missing").status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(WriteFileAtomic(dir / "big", std::string(1000, 'x')).ok());
  EXPECT_EQ(ReadFile(dir / "big", 999).status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(ReadFile(dir / "big", 1000).ok());
}

TEST(Files, ExclusiveWriteNeverReplaces) {
  testing::ScratchDir dir;
  ASSERT_TRUE(WriteFileExclusive(dir / "claim", "first").ok());
  absl::Status second = WriteFileExclusive(dir / "claim", "second");
  EXPECT_EQ(second.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(*ReadFile(dir / "claim"), "first");
}

TEST(Sha256, KnownVectors) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  testing::ScratchDir dir;
  std::string big(3 << 20, 'z');  // spans several read chunks
  ASSERT_TRUE(WriteFileAtomic(dir / "f", big).ok());
  uint64_t size = 0;
  EXPECT_EQ(Sha256FileHex(dir / "f", &size), Sha256Hex(big));
  EXPECT_EQ(size, big.size());
  EXPECT_EQ(Sha256FileHex(dir / "missing"), "");
}

TEST(StatusMacros, AnnotateKeepsCode) {
  absl::Status s = Annotate(absl::NotFoundError("no file"), "loading shard 3");
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(s.message(), "loading shard 3: no file");
  EXPECT_TRUE(Annotate(absl::OkStatus(), "x").ok());
}

}  // namespace
}  // namespace photosearch
