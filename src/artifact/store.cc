#include "artifact/store.h"

#include <cctype>
#include <filesystem>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "artifact/s3_store.h"
#include "base/files.h"
#include "base/status_macros.h"

namespace photosearch {

namespace fs = std::filesystem;

absl::Status ValidateKey(std::string_view key) {
  if (key.empty() || key.size() > 1024) {
    return absl::InvalidArgumentError("store key must be 1..1024 bytes");
  }
  for (absl::string_view segment : absl::StrSplit(absl::string_view(key.data(), key.size()), '/')) {
    if (segment.empty() || segment == "." || segment == "..") {
      return absl::InvalidArgumentError(
          absl::StrCat("store key '", std::string(key), "' has an empty, '.' or '..' segment"));
    }
    for (char c : segment) {
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '@' ||
            c == '=' || c == '-')) {
        return absl::InvalidArgumentError(absl::StrCat(
            "store key '", std::string(key), "' holds a character outside [A-Za-z0-9._@=-]"));
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Store>> OpenStore(const std::string& url) {
  std::string path = url;
  if (absl::StartsWith(url, "s3://")) {
    ASSIGN_OR_RETURN(S3Options options, S3OptionsFromEnvironment());
    return OpenS3Store(url, options);
  }
  if (absl::StartsWith(url, "file://")) {
    path = url.substr(7);
  } else if (url.find("://") != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "repository '", url, "': unsupported scheme (use a directory path, file:// or s3://)"));
  }
  if (path.empty()) return absl::InvalidArgumentError("repository path is empty");
  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec) {
    return absl::InternalError(
        absl::StrCat("creating repository ", path, ": ", ec.message()));
  }
  if (!fs::is_directory(path, ec)) {
    return absl::InvalidArgumentError(absl::StrCat("repository '", path, "' is not a directory"));
  }
  return NewLocalStore(fs::absolute(path).lexically_normal().string());
}

}  // namespace photosearch
