// AWS Signature Version 4 for S3 requests (header-based, single chunk): the
// canonical request, the string to sign, the derived signing key and the
// Authorization header. Pure functions of their inputs (no clock, no network),
// checked against AWS's published examples in sigv4_test.cc.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace photosearch {

struct AwsCredentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // optional (temporary credentials)
};

struct SigV4Request {
  std::string method;                                        // "GET", "PUT", ...
  std::string path;                                          // not encoded: "/bucket/a b.jpg"
  std::vector<std::pair<std::string, std::string>> query;    // not encoded
  std::vector<std::pair<std::string, std::string>> headers;  // must hold "host"
  std::string payload_sha256;  // hex digest of the body, or "UNSIGNED-PAYLOAD"
};

// RFC 3986 percent-encoding as S3 wants it: unreserved characters kept, '/'
// kept when `keep_slash`, everything else %XX (upper-case hex).
std::string UriEncode(std::string_view text, bool keep_slash);

std::string CanonicalRequest(const SigV4Request& request);
// "20130524/us-east-1/s3/aws4_request" for amz_date "20130524T000000Z".
std::string CredentialScope(const std::string& amz_date, const std::string& region,
                            const std::string& service);
std::string StringToSign(const std::string& canonical_request, const std::string& amz_date,
                         const std::string& scope);
// The raw 32-byte key: HMAC chain over date, region, service, "aws4_request".
std::string SigningKey(const std::string& secret, const std::string& date,
                       const std::string& region, const std::string& service);

// Adds x-amz-date, x-amz-content-sha256 and (with a session token)
// x-amz-security-token to request->headers, and returns the value of the
// Authorization header. amz_date: "YYYYMMDDTHHMMSSZ" (UTC).
std::string SignRequest(SigV4Request* request, const AwsCredentials& credentials,
                        const std::string& region, const std::string& service,
                        const std::string& amz_date);

}  // namespace photosearch
