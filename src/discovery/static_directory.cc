#include "discovery/static_directory.h"

#include <algorithm>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/files.h"
#include "base/utf8.h"
#include "yaml-cpp/yaml.h"

namespace photosearch {
namespace {

constexpr uint64_t kMaxFileBytes = 256 * 1024;

class StaticDirectory final : public Directory {
 public:
  explicit StaticDirectory(DirectoryView view) : view_(std::move(view)) {}
  DirectoryView View() const override { return view_; }

 private:
  const DirectoryView view_;
};

// "path:line: what" (the line when yaml-cpp knows it).
absl::Status Refuse(const std::string& path, const YAML::Node& node, const std::string& what) {
  const YAML::Mark mark = node.Mark();
  if (mark.line >= 0) {
    return absl::InvalidArgumentError(absl::StrCat(path, ":", mark.line + 1, ": ", what));
  }
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", what));
}

// A scalar for a message: quoted, at most 60 bytes.
std::string Quote(const std::string& text) {
  std::string shown = text.substr(0, 60);
  for (char& c : shown) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  return absl::StrCat("\"", shown, text.size() > 60 ? "...\"" : "\"");
}

absl::StatusOr<std::vector<std::string>> ParseServers(const std::string& path,
                                                      const std::string& text) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ":", e.mark.line + 1, ": not valid YAML: ", e.msg));
  }
  if (!root.IsMap()) {
    return Refuse(path, root, "must be a map with a servers list (servers: [host:port, ...])");
  }
  YAML::Node servers;
  for (const auto& entry : root) {
    const std::string key = entry.first.IsScalar() ? entry.first.Scalar() : "?";
    if (key != "servers") {
      return Refuse(path, entry.first,
                    absl::StrCat("unknown key ", Quote(key), " (known: servers)"));
    }
    servers = entry.second;
  }
  if (!servers.IsDefined()) return Refuse(path, root, "no servers list");
  if (!servers.IsSequence()) return Refuse(path, servers, "servers must be a list of host:port");
  if (servers.size() < 1 || servers.size() > kMaxStaticServers) {
    return Refuse(path, servers,
                  absl::StrCat("servers must list 1..", kMaxStaticServers, " host:port, not ",
                               servers.size()));
  }
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (size_t i = 0; i < servers.size(); ++i) {
    const YAML::Node& node = servers[i];
    const std::string name = absl::StrCat("servers[", i, "]");
    if (!node.IsScalar()) {
      return Refuse(path, node, absl::StrCat(name, " must be host:port, not a list or map"));
    }
    const std::string address = node.Scalar();
    if (absl::Status s = ValidateHostPort(address); !s.ok()) {
      return Refuse(path, node, absl::StrCat(name, " ", Quote(address), ": ", s.message()));
    }
    if (!seen.insert(address).second) {
      return Refuse(path, node, absl::StrCat(name, " ", Quote(address), " is listed twice"));
    }
    out.push_back(address);
  }
  return out;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Directory>> LoadStaticDirectory(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path, kMaxFileBytes);
  if (!text.ok()) {
    if (absl::IsResourceExhausted(text.status())) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": over ", kMaxFileBytes, " bytes; not a servers list"));
    }
    return absl::Status(text.status().code(),
                        absl::StrCat("servers list ", path, ": ", text.status().message()));
  }
  if (size_t bad = FindInvalidUtf8(*text); bad != std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": not UTF-8 text (byte ", bad, " is not part of a character)"));
  }
  absl::StatusOr<std::vector<std::string>> servers;
  try {
    servers = ParseServers(path, *text);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(path, ":", e.mark.line + 1, ": ", e.msg));
  }
  if (!servers.ok()) return servers.status();
  DirectoryView view;
  view.servers = *std::move(servers);
  std::sort(view.servers.begin(), view.servers.end());
  view.generation = 1;
  return std::unique_ptr<Directory>(std::make_unique<StaticDirectory>(std::move(view)));
}

}  // namespace photosearch
