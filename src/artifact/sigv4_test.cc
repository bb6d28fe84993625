// AWS Signature V4 against the examples AWS publishes for S3 ("Signature
// Calculations for the Authorization Header: Transferring Payload in a Single
// Chunk"): bucket examplebucket, us-east-1, 2013-05-24T00:00:00Z, the
// documentation's example key pair.
#include "artifact/sigv4.h"

#include "base/sha256.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace photosearch {
namespace {

const AwsCredentials kCredentials{"AKIAIOSFODNN7EXAMPLE",
                                  "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""};
constexpr char kDate[] = "20130524T000000Z";
constexpr char kHost[] = "examplebucket.s3.amazonaws.com";
constexpr char kEmptySha[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

std::string SignatureOf(const std::string& authorization) {
  return authorization.substr(authorization.rfind('=') + 1);
}

TEST(SigV4, GetObjectExample) {
  SigV4Request request{
      "GET", "/test.txt", {}, {{"Host", kHost}, {"Range", "bytes=0-9"}}, kEmptySha};
  std::string authorization = SignRequest(&request, kCredentials, "us-east-1", "s3", kDate);
  EXPECT_EQ(
      CanonicalRequest(request),
      "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
      "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
      "x-amz-date:20130524T000000Z\n\nhost;range;x-amz-content-sha256;x-amz-date\n"
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex(CanonicalRequest(request)),
            "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
  EXPECT_EQ(authorization,
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
            "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST(SigV4, PutObjectExample) {
  const std::string body = "Welcome to Amazon S3.";
  SigV4Request request{"PUT",
                       "/test$file.text",
                       {},
                       {{"Host", kHost},
                        {"Date", "Fri, 24 May 2013 00:00:00 GMT"},
                        {"x-amz-storage-class", "REDUCED_REDUNDANCY"}},
                       Sha256Hex(body)};
  EXPECT_EQ(request.payload_sha256,
            "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
  std::string authorization = SignRequest(&request, kCredentials, "us-east-1", "s3", kDate);
  EXPECT_THAT(CanonicalRequest(request), ::testing::StartsWith("PUT\n/test%24file.text\n\n"));
  EXPECT_THAT(authorization,
              ::testing::HasSubstr(
                  "SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class,"));
  EXPECT_EQ(SignatureOf(authorization),
            "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
}

TEST(SigV4, GetBucketLifecycleExample) {  // a query parameter without a value
  SigV4Request request{"GET", "/", {{"lifecycle", ""}}, {{"Host", kHost}}, kEmptySha};
  std::string authorization = SignRequest(&request, kCredentials, "us-east-1", "s3", kDate);
  EXPECT_THAT(CanonicalRequest(request), ::testing::StartsWith("GET\n/\nlifecycle=\n"));
  EXPECT_EQ(SignatureOf(authorization),
            "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
}

TEST(SigV4, ListObjectsExample) {  // query parameters sorted by name
  SigV4Request request{
      "GET", "/", {{"prefix", "J"}, {"max-keys", "2"}}, {{"Host", kHost}}, kEmptySha};
  std::string authorization = SignRequest(&request, kCredentials, "us-east-1", "s3", kDate);
  EXPECT_THAT(CanonicalRequest(request), ::testing::StartsWith("GET\n/\nmax-keys=2&prefix=J\n"));
  EXPECT_EQ(SignatureOf(authorization),
            "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

TEST(SigV4, EncodingAndSessionToken) {
  EXPECT_EQ(UriEncode("a b/c~d_e.f-g+h=i&j", true), "a%20b/c~d_e.f-g%2Bh%3Di%26j");
  EXPECT_EQ(UriEncode("a/b", false), "a%2Fb");
  EXPECT_EQ(UriEncode("\xC3\xA9", false), "%C3%A9");
  SigV4Request request{"GET", "/b/k", {}, {{"Host", "h"}}, "UNSIGNED-PAYLOAD"};
  AwsCredentials temporary = kCredentials;
  temporary.session_token = "token/with+chars";
  std::string authorization = SignRequest(&request, temporary, "eu-west-1", "s3", kDate);
  EXPECT_THAT(authorization, ::testing::HasSubstr("/20130524/eu-west-1/s3/aws4_request,"));
  EXPECT_THAT(authorization, ::testing::HasSubstr("x-amz-date;x-amz-security-token,"));
  // The key is never in the header.
  EXPECT_THAT(authorization, ::testing::Not(::testing::HasSubstr(kCredentials.secret_access_key)));
}

}  // namespace
}  // namespace photosearch
