#include "ingest/ingest_log.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <unordered_map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/files.h"
#include "base/little_endian.h"
#include "base/status_macros.h"
#include "spdlog/spdlog.h"

namespace photosearch {
namespace {

namespace fs = std::filesystem;

constexpr uint8_t kPutRecord = 1;
constexpr uint8_t kDeleteRecord = 2;
constexpr uint32_t kMaxRecordBytes = 64 << 20;
constexpr uint32_t kMaxString = 1 << 16;
constexpr uint32_t kMaxVectors = 1024;
constexpr char kDeletesFile[] = "deletes.log";

absl::Status Errno(const std::string& what) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(errno)));
}

void PutString(std::string* out, std::string_view s) {
  AppendLe<uint32_t>(out, static_cast<uint32_t>(s.size()));
  out->append(s);
}

class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  template <typename T>
  bool Get(T* value) {
    return ReadLe(&data_, value);
  }
  bool GetString(std::string* s) {
    uint32_t n = 0;
    if (!Get(&n) || n > kMaxString || n > data_.size()) return false;
    s->assign(data_.substr(0, n));
    data_.remove_prefix(n);
    return true;
  }
  bool GetFloats(size_t n, std::vector<float>* out) {
    if (data_.size() / sizeof(float) < n) return false;
    out->resize(n);
    std::memcpy(out->data(), data_.data(), n * sizeof(float));
    data_.remove_prefix(n * sizeof(float));
    return true;
  }
  bool done() const { return data_.empty(); }

 private:
  std::string_view data_;
};

std::string Frame(const std::string& payload) {
  std::string out;
  AppendLe<uint32_t>(&out, static_cast<uint32_t>(payload.size()));
  AppendLe<uint32_t>(&out, static_cast<uint32_t>(
                          crc32(0, reinterpret_cast<const Bytef*>(payload.data()), payload.size())));
  return out + payload;
}

absl::Status WriteAll(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("writing " + path);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

absl::Status SyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Errno("opening " + dir);
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return Errno("fsync " + dir);
  return absl::OkStatus();
}

// Writes `data` to `path` durably and atomically (temporary name, fsync,
// rename, fsync of the folder).
absl::Status ReplaceFile(const std::string& dir, const std::string& path, std::string_view data) {
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Errno("creating " + tmp);
  absl::Status written = WriteAll(fd, data, tmp);
  if (written.ok() && ::fdatasync(fd) != 0) written = Errno("fsync " + tmp);
  ::close(fd);
  if (!written.ok()) return written;
  if (::rename(tmp.c_str(), path.c_str()) != 0) return Errno("renaming " + tmp);
  return SyncDir(dir);
}

// "puts-2026-11-22T05.3.log" -> hour, generation.
bool ParsePutsName(const std::string& name, std::string* hour, int64_t* generation) {
  constexpr std::string_view kPrefix = "puts-", kSuffix = ".log";
  if (name.size() < kPrefix.size() + 13 + 2 + kSuffix.size() || name.rfind(kPrefix, 0) != 0 ||
      name.substr(name.size() - kSuffix.size()) != kSuffix) {
    return false;
  }
  *hour = name.substr(kPrefix.size(), 13);
  const std::string gen = name.substr(kPrefix.size() + 14, name.size() - kPrefix.size() - 14 -
                                                               kSuffix.size());
  if (name[kPrefix.size() + 13] != '.') return false;
  auto [end, ec] = std::from_chars(gen.data(), gen.data() + gen.size(), *generation);
  return ec == std::errc() && end == gen.data() + gen.size() && *generation >= 0;
}

}  // namespace

std::string EncodeLogRecord(const LoggedPut& put) {
  std::string p;
  AppendLe<uint8_t>(&p, kPutRecord);
  PutString(&p, put.listing.event_id);
  PutString(&p, put.listing.item_id);
  AppendLe<int64_t>(&p, put.listing.listed_at);
  AppendLe<int64_t>(&p, put.listing.event_ms);
  PutString(&p, put.listing.image_url);
  AppendLe<uint32_t>(&p, static_cast<uint32_t>(put.vectors.size()));
  AppendLe<uint32_t>(&p, static_cast<uint32_t>(put.vectors.empty() ? 0 : put.vectors[0].size()));
  for (const std::vector<float>& v : put.vectors) {
    p.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
  }
  return Frame(p);
}

std::string EncodeLogRecord(const LoggedDelete& del) {
  std::string p;
  AppendLe<uint8_t>(&p, kDeleteRecord);
  PutString(&p, del.event_id);
  PutString(&p, del.item_id);
  AppendLe<int64_t>(&p, del.deleted_at);
  AppendLe<int64_t>(&p, del.event_ms);
  return Frame(p);
}

LogRecords DecodeLogRecords(std::string_view data, int dimension) {
  LogRecords out;
  size_t offset = 0;
  while (offset < data.size()) {
    Reader frame(data.substr(offset));
    uint32_t length = 0, crc = 0;
    if (!frame.Get(&length) || !frame.Get(&crc) || length == 0 || length > kMaxRecordBytes ||
        data.size() - offset - 8 < length) {
      break;
    }
    std::string_view payload = data.substr(offset + 8, length);
    if (crc32(0, reinterpret_cast<const Bytef*>(payload.data()), payload.size()) != crc) break;
    Reader r(payload);
    uint8_t type = 0;
    r.Get(&type);
    bool ok = false;
    if (type == kPutRecord) {
      LoggedPut put;
      uint32_t count = 0, dim = 0;
      ok = r.GetString(&put.listing.event_id) && r.GetString(&put.listing.item_id) &&
           r.Get(&put.listing.listed_at) && r.Get(&put.listing.event_ms) &&
           r.GetString(&put.listing.image_url) && r.Get(&count) && r.Get(&dim) && count >= 1 &&
           count <= kMaxVectors && static_cast<int>(dim) == dimension &&
           !put.listing.item_id.empty();
      for (uint32_t i = 0; ok && i < count; ++i) {
        put.vectors.emplace_back();
        ok = r.GetFloats(dim, &put.vectors.back());
      }
      ok = ok && r.done();
      if (ok) out.puts.push_back(std::move(put));
    } else if (type == kDeleteRecord) {
      LoggedDelete del;
      ok = r.GetString(&del.event_id) && r.GetString(&del.item_id) && r.Get(&del.deleted_at) &&
           r.Get(&del.event_ms) && r.done() && !del.item_id.empty();
      if (ok) out.deletes.push_back(std::move(del));
    }
    if (!ok) break;
    offset += 8 + length;
  }
  out.valid_bytes = offset;
  out.damaged = offset < data.size();
  return out;
}

std::string IngestLog::HourOf(int64_t listed_at) {
  const std::time_t t = static_cast<std::time_t>(listed_at);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return absl::StrFormat("%04d-%02d-%02dT%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                         tm.tm_hour);
}

std::string IngestLog::PutsPath(const std::string& hour, int64_t generation) const {
  return absl::StrCat(dir_, "/puts-", hour, ".", generation, ".log");
}

absl::StatusOr<std::unique_ptr<IngestLog>> IngestLog::Open(const std::string& dir, int dimension) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("creating the log folder ", dir, ": ", ec.message()));
  if (::access(dir.c_str(), W_OK) != 0) return Errno("the log folder " + dir + " is not writable");
  return std::unique_ptr<IngestLog>(new IngestLog(dir, dimension));
}

IngestLog::~IngestLog() {
  for (auto& [hour, file] : hours_) {
    if (file.fd >= 0) ::close(file.fd);
  }
  if (deletes_fd_ >= 0) ::close(deletes_fd_);
}

absl::StatusOr<IngestLog::Contents> IngestLog::Replay() {
  std::lock_guard<std::mutex> lock(mu_);
  Contents contents;
  std::map<std::string, std::vector<int64_t>> generations;
  std::error_code ec;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir_, ec)) {
    const std::string name = entry.path().filename().string();
    std::string hour;
    int64_t generation = 0;
    if (name.size() > 4 && name.substr(name.size() - 4) == ".tmp") {
      fs::remove(entry.path(), ec);  // a rewrite that never finished
      continue;
    }
    if (ParsePutsName(name, &hour, &generation)) generations[hour].push_back(generation);
  }
  if (ec) return absl::InternalError(absl::StrCat("listing ", dir_, ": ", ec.message()));
  // The newest listing of each item wins (a later listed_at; at the same
  // time, the later event).
  std::unordered_map<std::string, LoggedPut> newest;
  auto read = [&](const std::string& path, LogRecords* records) -> absl::Status {
    ASSIGN_OR_RETURN(std::string data, ReadFile(path));
    *records = DecodeLogRecords(data, dimension_);
    contents.records += static_cast<int64_t>(records->puts.size() + records->deletes.size());
    if (records->damaged) {
      const int64_t cut = static_cast<int64_t>(data.size() - records->valid_bytes);
      contents.cut_bytes += cut;
      spdlog::warn("ingest log {}: {} bytes after the last whole record cut off (a write the "
                   "crash interrupted)", path, cut);
      if (::truncate(path.c_str(), static_cast<off_t>(records->valid_bytes)) != 0) {
        return Errno("truncating " + path);
      }
    }
    return absl::OkStatus();
  };
  for (auto& [hour, gens] : generations) {
    std::sort(gens.begin(), gens.end());
    for (size_t i = 0; i + 1 < gens.size(); ++i) fs::remove(PutsPath(hour, gens[i]), ec);
    LogRecords records;
    RETURN_IF_ERROR(read(PutsPath(hour, gens.back()), &records));
    hours_[hour].generation = gens.back();
    for (LoggedPut& put : records.puts) {
      auto it = newest.find(put.listing.item_id);
      if (it != newest.end() &&
          std::make_pair(it->second.listing.listed_at, it->second.listing.event_ms) >
              std::make_pair(put.listing.listed_at, put.listing.event_ms)) {
        continue;
      }
      newest[put.listing.item_id] = std::move(put);
    }
  }
  const std::string deletes_path = dir_ + "/" + kDeletesFile;
  if (fs::exists(deletes_path, ec)) {
    LogRecords records;
    RETURN_IF_ERROR(read(deletes_path, &records));
    deletes_ = records.deletes;
    contents.deletes = records.deletes;
  }
  for (auto& [id, put] : newest) contents.puts.push_back(std::move(put));
  return contents;
}

absl::StatusOr<int> IngestLog::OpenHour(const std::string& hour) {
  HourFile& file = hours_[hour];
  if (file.fd >= 0) return file.fd;
  const std::string path = PutsPath(hour, file.generation);
  const bool existed = fs::exists(path);
  file.fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (file.fd < 0) return Errno("opening " + path);
  if (!existed) RETURN_IF_ERROR(SyncDir(dir_));  // the new name is durable too
  return file.fd;
}

absl::Status IngestLog::Append(const std::vector<LoggedPut>& puts,
                               const std::vector<LoggedDelete>& deletes) {
  std::lock_guard<std::mutex> lock(mu_);
  std::map<std::string, std::string> by_hour;
  for (const LoggedPut& put : puts) by_hour[HourOf(put.listing.listed_at)] += EncodeLogRecord(put);
  for (const auto& [hour, bytes] : by_hour) {
    ASSIGN_OR_RETURN(int fd, OpenHour(hour));
    RETURN_IF_ERROR(WriteAll(fd, bytes, PutsPath(hour, hours_[hour].generation)));
    if (::fdatasync(fd) != 0) return Errno("fsync of the ingest log");
  }
  if (!deletes.empty()) {
    const std::string path = dir_ + "/" + kDeletesFile;
    if (deletes_fd_ < 0) {
      const bool existed = fs::exists(path);
      deletes_fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      if (deletes_fd_ < 0) return Errno("opening " + path);
      if (!existed) RETURN_IF_ERROR(SyncDir(dir_));
    }
    std::string bytes;
    for (const LoggedDelete& del : deletes) bytes += EncodeLogRecord(del);
    RETURN_IF_ERROR(WriteAll(deletes_fd_, bytes, path));
    if (::fdatasync(deletes_fd_) != 0) return Errno("fsync of " + path);
    deletes_.insert(deletes_.end(), deletes.begin(), deletes.end());
  }
  return absl::OkStatus();
}

absl::Status IngestLog::RewriteDeletes(const std::vector<LoggedDelete>& keep) {
  if (deletes_fd_ >= 0) {
    ::close(deletes_fd_);
    deletes_fd_ = -1;
  }
  std::string bytes;
  for (const LoggedDelete& del : keep) bytes += EncodeLogRecord(del);
  RETURN_IF_ERROR(ReplaceFile(dir_, dir_ + "/" + kDeletesFile, bytes));
  deletes_ = keep;
  return absl::OkStatus();
}

absl::Status IngestLog::MarkPublished(size_t count) {
  std::lock_guard<std::mutex> lock(mu_);
  count = std::min(count, deletes_.size());
  if (count == 0) return absl::OkStatus();
  return RewriteDeletes(std::vector<LoggedDelete>(deletes_.begin() + count, deletes_.end()));
}

absl::Status IngestLog::Retain(const std::string& hour,
                               const std::function<bool(const LoggedPut&)>& keep) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = hours_.find(hour);
  if (it == hours_.end()) return absl::OkStatus();
  HourFile& file = it->second;
  const std::string old_path = PutsPath(hour, file.generation);
  ASSIGN_OR_RETURN(std::string data, ReadFile(old_path));
  LogRecords records = DecodeLogRecords(data, dimension_);
  std::string kept;
  for (const LoggedPut& put : records.puts) {
    if (keep(put)) kept += EncodeLogRecord(put);
  }
  if (file.fd >= 0) {
    ::close(file.fd);
    file.fd = -1;
  }
  if (!kept.empty()) {
    // The next generation first (durably), then the old one goes.
    RETURN_IF_ERROR(ReplaceFile(dir_, PutsPath(hour, file.generation + 1), kept));
    ++file.generation;
  }
  if (::unlink(old_path.c_str()) != 0 && errno != ENOENT) return Errno("removing " + old_path);
  RETURN_IF_ERROR(SyncDir(dir_));
  if (kept.empty()) hours_.erase(it);
  return absl::OkStatus();
}

int64_t IngestLog::bytes() const {
  std::error_code ec;
  int64_t total = 0;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir_, ec)) {
    if (entry.is_regular_file(ec)) total += static_cast<int64_t>(entry.file_size(ec));
  }
  return total;
}

std::vector<LoggedDelete> IngestLog::pending_deletes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return deletes_;
}

std::vector<std::string> IngestLog::hours() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  for (const auto& [hour, file] : hours_) out.push_back(hour);
  return out;
}

}  // namespace photosearch
