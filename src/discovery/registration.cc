#include "discovery/registration.h"

#include <cstdint>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "artifact/window.h"
#include "base/json_fields.h"
#include "base/status_macros.h"
#include "nlohmann/json.hpp"

namespace photosearch {
namespace {

absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// `text` quoted for a message, at most 60 bytes of it (never dumped raw: it
// may come from etcd).
std::string Quote(std::string_view text) {
  std::string shown(text.substr(0, 60));
  for (char& c : shown) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
  }
  return absl::StrCat("\"", shown, text.size() > 60 ? "...\"" : "\"");
}

// object[key] as a string; kInvalidArgument when absent or not a string.
absl::StatusOr<std::string> StringField(const nlohmann::json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end()) return absl::InvalidArgumentError(absl::StrCat(key, " is missing"));
  if (!it->is_string()) {
    return absl::InvalidArgumentError(
        absl::StrCat(key, " must be a string, not ", json_fields::Describe(*it)));
  }
  return it->get<std::string>();
}

bool IsHostChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
}

bool IsModelChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
         c == '@';
}

}  // namespace

std::string Registration::ShardName() const {
  return absl::StrCat(window, "/part-", partition, "-of-", partitions);
}

std::string RegistrationKey(std::string_view prefix, const Registration& r) {
  return absl::StrCat(Sv(prefix), r.model, "/", r.ShardName(), "/", r.address);
}

std::string RegistrationJson(const Registration& r) {
  nlohmann::json j = {
      {"address", r.address},     {"model", r.model},           {"window", r.window},
      {"partition", r.partition}, {"partitions", r.partitions}, {"version", r.version},
      {"items", r.items}};
  return DumpJson(j);
}

absl::Status ValidateHostPort(std::string_view address) {
  auto refuse = [&](std::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("address ", Quote(address), " is not host:port (", Sv(why), ")"));
  };
  if (address.empty()) return refuse("empty");
  if (address.size() > kMaxAddressBytes) {
    return refuse(absl::StrCat("over ", kMaxAddressBytes, " bytes"));
  }
  const size_t colon = address.rfind(':');
  if (colon == std::string_view::npos) return refuse("no port");
  std::string_view host = address.substr(0, colon);
  std::string_view port = address.substr(colon + 1);
  if (port.empty() || port.size() > 5) return refuse("the port must be 1..65535");
  for (char c : port) {
    if (c < '0' || c > '9') return refuse("the port must be 1..65535");
  }
  int port_number = 0;
  if (!absl::SimpleAtoi(Sv(port), &port_number) || port_number < 1 || port_number > 65535) {
    return refuse("the port must be 1..65535");
  }
  if (host.empty()) return refuse("no host");
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return refuse("an IPv6 host must be [addr]");
    for (char c : host.substr(1, host.size() - 2)) {
      if (!(absl::ascii_isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.')) {
        return refuse("bad character in the IPv6 host");
      }
    }
    return absl::OkStatus();
  }
  for (char c : host) {
    if (!IsHostChar(c)) return refuse("the host may hold only letters, digits, '-', '.', '_'");
  }
  return absl::OkStatus();
}

absl::Status ValidateModelId(std::string_view model) {
  if (model.empty() || model.size() > kMaxModelBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("model must be 1..", kMaxModelBytes, " bytes, not ", model.size()));
  }
  for (char c : model) {
    if (!IsModelChar(c)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "model ", Quote(model), " may hold only letters, digits, '-', '_', '.' and '@'"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateRegistration(const Registration& r) {
  RETURN_IF_ERROR(ValidateHostPort(r.address));
  RETURN_IF_ERROR(ValidateModelId(r.model));
  if (absl::Status s = ValidateServedWindow(r.window); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("window ", Quote(r.window), ": ", s.message()));
  }
  if (r.partitions < 1 || r.partitions > kMaxPartitions) {
    return absl::InvalidArgumentError(
        absl::StrCat("partitions must be 1..", kMaxPartitions, ", not ", r.partitions));
  }
  RETURN_IF_ERROR(ValidatePartition(Partition{r.partition, r.partitions}));
  if (r.version < 0) return absl::InvalidArgumentError("version must be >= 0");
  if (r.items < 0) return absl::InvalidArgumentError("items must be >= 0");
  return absl::OkStatus();
}

absl::StatusOr<Registration> ParseRegistration(std::string_view json) {
  auto refuse = [](const absl::Status& s) {
    return absl::InvalidArgumentError(absl::StrCat("registration: ", s.message()));
  };
  if (json.size() > kMaxRegistrationJsonBytes) {
    return refuse(absl::InvalidArgumentError(
        absl::StrCat(json.size(), " bytes, over ", kMaxRegistrationJsonBytes)));
  }
  // A registration is flat; a little room for fields a newer writer adds.
  absl::StatusOr<nlohmann::json> parsed = json_fields::Parse(json, /*max_depth=*/8);
  if (!parsed.ok()) return refuse(parsed.status());
  const nlohmann::json& j = *parsed;
  if (!j.is_object()) {
    return refuse(absl::InvalidArgumentError(
        absl::StrCat("must be a JSON object, not ", json_fields::Describe(j))));
  }
  constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();
  Registration r;
  absl::StatusOr<std::string> address = StringField(j, "address");
  if (!address.ok()) return refuse(address.status());
  r.address = *std::move(address);
  absl::StatusOr<std::string> model = StringField(j, "model");
  if (!model.ok()) return refuse(model.status());
  r.model = *std::move(model);
  absl::StatusOr<std::string> window = StringField(j, "window");
  if (!window.ok()) return refuse(window.status());
  r.window = *std::move(window);
  absl::StatusOr<int64_t> partitions = json_fields::Int(j, "partitions", 1, 1, kMaxPartitions);
  if (!partitions.ok()) return refuse(partitions.status());
  r.partitions = static_cast<int>(*partitions);
  absl::StatusOr<int64_t> partition = json_fields::Int(j, "partition", 0, 0, kMaxPartitions - 1);
  if (!partition.ok()) return refuse(partition.status());
  r.partition = static_cast<int>(*partition);
  absl::StatusOr<int64_t> version = json_fields::Int(j, "version", 0, 0, kInt64Max);
  if (!version.ok()) return refuse(version.status());
  r.version = *version;
  absl::StatusOr<int64_t> items = json_fields::Int(j, "items", 0, 0, kInt64Max);
  if (!items.ok()) return refuse(items.status());
  r.items = *items;
  if (absl::Status s = ValidateRegistration(r); !s.ok()) return refuse(s);
  return r;
}

}  // namespace photosearch
