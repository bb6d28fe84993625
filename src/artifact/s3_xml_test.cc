#include "artifact/s3_xml.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace photosearch {
namespace {

TEST(S3Xml, ReadsAListingPage) {
  S3ListPage page = ParseListObjectsPage(
      "<ListBucketResult><IsTruncated>true</IsTruncated><Contents><Key>a/1</Key></Contents>"
      "<Contents><Key>a/b&amp;c &lt;d&gt;</Key></Contents></ListBucketResult>");
  EXPECT_THAT(page.keys, ::testing::ElementsAre("a/1", "a/b&c <d>"));
  EXPECT_TRUE(page.truncated);
  EXPECT_FALSE(ParseListObjectsPage("<IsTruncated>false</IsTruncated>").truncated);
  EXPECT_TRUE(ParseListObjectsPage("<Key>unclosed").keys.empty());
}

TEST(S3Xml, ErrorBodiesAreBoundedAndPrintable) {
  S3ErrorBody error = ParseS3Error("<Error><Code>NoSuchKey</Code><Message>gone</Message></Error>");
  EXPECT_EQ(error.code, "NoSuchKey");
  EXPECT_EQ(error.message, "gone");
  // A server's words reach error messages and logs: no escape sequences or
  // newlines, and not megabytes.
  error = ParseS3Error("<Error><Code>A\x1b[31mB\nC</Code><Message>" + std::string(5000, 'x') +
                       "</Message></Error>");
  EXPECT_EQ(error.code, "A?[31mB?C");
  EXPECT_EQ(error.message.size(), 203u);
  EXPECT_TRUE(ParseS3Error("not xml").code.empty());
}

}  // namespace
}  // namespace photosearch
