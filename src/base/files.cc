#include "base/files.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "absl/strings/str_cat.h"

namespace photosearch {
namespace {

namespace fs = std::filesystem;

absl::Status ErrnoStatus(int err, const char* what, const std::string& path) {
  std::string message = absl::StrCat(what, " ", path, ": ", std::strerror(err));
  if (err == ENOENT) return absl::NotFoundError(message);
  if (err == EEXIST) return absl::AlreadyExistsError(message);
  if (err == EACCES || err == EPERM) return absl::PermissionDeniedError(message);
  if (err == ENOSPC) return absl::ResourceExhaustedError(message);
  return absl::InternalError(message);
}

std::string TempNameFor(const std::string& path) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  return absl::StrCat(path, ".tmp.", getpid(), ".", rng() % 1000000000);
}

// Writes and fsyncs a fresh temporary file beside `path`; returns its name.
absl::StatusOr<std::string> WriteTemp(const std::string& path, std::string_view data) {
  std::error_code ec;
  fs::path parent = fs::path(path).parent_path();
  if (!parent.empty()) {
    fs::create_directories(parent, ec);
    if (ec)
      return absl::InternalError(absl::StrCat("creating ", parent.string(), ": ", ec.message()));
  }
  std::string tmp = TempNameFor(path);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoStatus(errno, "creating", tmp);
  const char* p = data.data();
  size_t left = data.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return ErrnoStatus(err, "writing", tmp);
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return ErrnoStatus(err, "syncing", tmp);
  }
  return tmp;
}

}  // namespace

absl::StatusOr<std::string> ReadFile(const std::string& path, uint64_t max_bytes) {
  std::error_code ec;
  auto size = fs::file_size(path, ec);
  if (ec) {
    if (ec == std::errc::no_such_file_or_directory) {
      return absl::NotFoundError(absl::StrCat("no such file: ", path));
    }
    return absl::InternalError(absl::StrCat("reading ", path, ": ", ec.message()));
  }
  if (size > max_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat(path, " is ", size, " bytes, over the limit of ", max_bytes));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InternalError(absl::StrCat("cannot open ", path));
  std::string data(size, '\0');
  in.read(data.data(), static_cast<std::streamsize>(size));
  if (static_cast<uint64_t>(in.gcount()) != size) {
    return absl::InternalError(absl::StrCat("short read of ", path));
  }
  return data;
}

absl::Status WriteFileAtomic(const std::string& path, std::string_view data) {
  auto tmp = WriteTemp(path, data);
  if (!tmp.ok()) return tmp.status();
  if (::rename(tmp->c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp->c_str());
    return ErrnoStatus(err, "renaming into", path);
  }
  return absl::OkStatus();
}

absl::Status WriteFileExclusive(const std::string& path, std::string_view data) {
  auto tmp = WriteTemp(path, data);
  if (!tmp.ok()) return tmp.status();
  int rc = ::link(tmp->c_str(), path.c_str());
  int err = errno;
  ::unlink(tmp->c_str());
  if (rc != 0) return ErrnoStatus(err, "creating", path);
  return absl::OkStatus();
}

TempDir::TempDir(const std::string& base, const std::string& tag) {
  static std::atomic<int> counter{0};
  std::filesystem::path root =
      base.empty() ? std::filesystem::temp_directory_path() : std::filesystem::path(base);
  path_ = (root / absl::StrCat("photosearch-", tag, "-", ::getpid(), "-", counter++)).string();
  std::error_code ec;
  std::filesystem::create_directories(path_, ec);
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

}  // namespace photosearch
