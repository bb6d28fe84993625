#include <filesystem>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "artifact/store.h"
#include "base/files.h"
#include "base/status_macros.h"

namespace photosearch {
namespace {

namespace fs = std::filesystem;

absl::Status FsError(const std::error_code& ec, const char* what, const fs::path& path) {
  std::string message = absl::StrCat(what, " ", path.string(), ": ", ec.message());
  if (ec == std::errc::no_such_file_or_directory) return absl::NotFoundError(message);
  return absl::InternalError(message);
}

class LocalStore : public Store {
 public:
  explicit LocalStore(fs::path root) : root_(std::move(root)) {}

  std::string url() const override { return root_.string(); }

  absl::Status Put(const std::string& key, std::string_view data) override {
    RETURN_IF_ERROR(ValidateKey(key));
    return WriteFileAtomic(PathOf(key).string(), data);
  }

  absl::Status PutFile(const std::string& key, const std::string& local_path) override {
    RETURN_IF_ERROR(ValidateKey(key));
    fs::path target = PathOf(key);
    std::error_code ec;
    fs::create_directories(target.parent_path(), ec);
    if (ec) return FsError(ec, "creating", target.parent_path());
    // Copy to a temporary name beside the target, then rename: atomic.
    fs::path tmp = target;
    tmp += absl::StrCat(".tmp.", ::getpid());
    fs::copy_file(local_path, tmp, fs::copy_options::overwrite_existing, ec);
    if (ec) return FsError(ec, "copying to", tmp);
    fs::rename(tmp, target, ec);
    if (ec) {
      fs::remove(tmp, ec);
      return FsError(ec, "renaming into", target);
    }
    return absl::OkStatus();
  }

  absl::Status PutIfAbsent(const std::string& key, std::string_view data) override {
    RETURN_IF_ERROR(ValidateKey(key));
    return WriteFileExclusive(PathOf(key).string(), data);
  }

  absl::StatusOr<std::string> Get(const std::string& key, uint64_t max_bytes) override {
    RETURN_IF_ERROR(ValidateKey(key));
    return ReadFile(PathOf(key).string(), max_bytes);
  }

  absl::StatusOr<std::string> GetFile(const std::string& key, const std::string&) override {
    RETURN_IF_ERROR(ValidateKey(key));
    fs::path path = PathOf(key);
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) {
      return absl::NotFoundError(absl::StrCat("no object ", key, " in ", url()));
    }
    return path.string();
  }

  absl::StatusOr<std::vector<std::string>> List(const std::string& prefix) override {
    if (!prefix.empty())
      RETURN_IF_ERROR(
          ValidateKey(prefix.back() == '/' ? prefix.substr(0, prefix.size() - 1) : prefix));
    // Walk the deepest directory the prefix names, then filter by the prefix.
    std::string dir_part =
        prefix.substr(0, prefix.rfind('/') == std::string::npos ? 0 : prefix.rfind('/'));
    fs::path start = dir_part.empty() ? root_ : root_ / dir_part;
    std::vector<std::string> keys;
    std::error_code ec;
    if (!fs::is_directory(start, ec)) return keys;
    for (auto it = fs::recursive_directory_iterator(start, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      const bool regular = it->is_regular_file(ec);
      if (ec == std::errc::no_such_file_or_directory) {
        ec.clear();  // removed since it was listed: a concurrent writer's temp file
        continue;
      }
      if (ec) break;
      if (!regular) continue;
      // Lexically: fs::relative would stat the file, which may be gone by now.
      std::string key = it->path().lexically_relative(root_).generic_string();
      if (absl::StrContains(key, ".tmp.")) continue;  // an unfinished write
      if (absl::StartsWith(key, prefix)) keys.push_back(std::move(key));
    }
    if (ec) return FsError(ec, "listing", start);
    std::sort(keys.begin(), keys.end());
    return keys;
  }

  absl::Status Delete(const std::string& key) override {
    RETURN_IF_ERROR(ValidateKey(key));
    std::error_code ec;
    if (!fs::remove(PathOf(key), ec) && !ec) {
      return absl::NotFoundError(absl::StrCat("no object ", key, " in ", url()));
    }
    if (ec) return FsError(ec, "deleting", PathOf(key));
    return absl::OkStatus();
  }

 private:
  fs::path PathOf(const std::string& key) const { return root_ / key; }

  const fs::path root_;
};

}  // namespace

std::unique_ptr<Store> NewLocalStore(const std::string& root) {
  return std::make_unique<LocalStore>(fs::path(root));
}

}  // namespace photosearch
