// S3Store: the Store on an S3-compatible bucket (AWS S3, Ceph RGW, s3rver...),
// signed with AWS Signature V4 over cpp-httplib (HTTP or HTTPS, keep-alive
// connections reused across calls).
//
// URL: s3://BUCKET[/PREFIX]. Settings come from the environment:
//   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, [AWS_SESSION_TOKEN]  credentials
//   AWS_REGION or AWS_DEFAULT_REGION (default us-east-1)
//   AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL: e.g. http://127.0.0.1:9000
//     (default https://s3.REGION.amazonaws.com)
//   PHOTOSEARCH_S3_PATH_STYLE=1|0: http://host/BUCKET/key (default when an
//     endpoint is set) or http://BUCKET.host/key
// Secrets are never logged or put in an error message.
//
// PutIfAbsent sends `If-None-Match: *` (atomic on AWS S3 and Ceph RGW); after a
// HEAD, so that servers which ignore the header still refuse an existing key,
// but on those two concurrent publishers can both win (s3rver is one).
//
// Thread-safety: thread-safe; each call takes an idle connection from a pool.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "artifact/sigv4.h"
#include "artifact/store.h"

namespace photosearch {

struct S3Options {
  std::string endpoint;  // scheme://host[:port]
  std::string region = "us-east-1";
  bool path_style = true;
  AwsCredentials credentials;
  int timeout_seconds = 60;
  int attempts = 4;  // tries per request on 5xx, 429 and connection errors
};

// Reads the environment variables above.
absl::StatusOr<S3Options> S3OptionsFromEnvironment();

// REQUIRES: url starts with "s3://".
absl::StatusOr<std::unique_ptr<Store>> OpenS3Store(const std::string& url,
                                                   const S3Options& options);

}  // namespace photosearch
