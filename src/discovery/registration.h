// Registration: one shard served by one index server, as index servers
// announce it in discovery (etcd) and gateways read it back.
//
// In etcd, a registration lives at
//   <prefix><model>/<window>/part-<p>-of-<P>/<host:port>
// (RegistrationKey) with RegistrationJson as its value, attached to the index
// server's lease, so it vanishes when the server stops (revokes) or dies (the
// lease expires).
//
// Everything read from etcd is untrusted: ParseRegistration bounds and
// validates every field, and refuses a value that is not what
// RegistrationJson writes.
//
// Thread-safety: plain data and pure functions.
// Errors: kInvalidArgument, with a message naming the bad field.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace photosearch {

// The default etcd key prefix of shard registrations.
constexpr char kDefaultPrefix[] = "/photosearch/v1/shards/";

// Limits of a registration's fields (and of its JSON value).
inline constexpr size_t kMaxAddressBytes = 255;
inline constexpr size_t kMaxModelBytes = 256;
inline constexpr size_t kMaxRegistrationJsonBytes = 64 * 1024;
inline constexpr int kMaxPartitions = 99999;  // as ParseShardName

// One shard served by one index server, as registered in discovery.
struct Registration {
  std::string address;  // "host:port" of the index server's gRPC endpoint
  std::string model;    // model id
  std::string window;   // "all", "hour/...", "day/...", "month/..."
  int partition = 0, partitions = 1;
  int64_t version = 0;
  int64_t items = 0;

  // "<window>/part-<p>-of-<P>", as ShardManager names shards.
  std::string ShardName() const;
  bool operator==(const Registration&) const = default;
};

// prefix + model + "/" + window + "/part-<p>-of-<P>/" + address.
std::string RegistrationKey(std::string_view prefix, const Registration& r);

// {"address":..,"model":..,"window":..,"partition":p,"partitions":P,
//  "version":v,"items":n}
std::string RegistrationJson(const Registration& r);

// Parses a value read from etcd. Refuses (kInvalidArgument) a value over
// kMaxRegistrationJsonBytes, JSON that is not an object or is nested deeper
// than a few levels, a missing or mistyped field, and a registration that
// ValidateRegistration refuses. Fields it does not know are ignored (a newer
// writer may add some).
absl::StatusOr<Registration> ParseRegistration(std::string_view json);

// Checks every field: address (ValidateHostPort), model (1..kMaxModelBytes of
// letters, digits, '-', '_', '.', '@', as model manifests' ids), window
// (ValidateWindow: "all" or hour/day/month), partition (0 <= p < P <=
// kMaxPartitions), version >= 0 and items >= 0.
absl::Status ValidateRegistration(const Registration& r);

// A model id: 1..kMaxModelBytes of letters, digits, '-', '_', '.', '@'.
absl::Status ValidateModelId(std::string_view model);

// "host:port": at most kMaxAddressBytes, port a decimal 1..65535, host a DNS
// name or IPv4 address (letters, digits, '-', '.', '_') or a bracketed IPv6
// address ("[::1]:7001").
absl::Status ValidateHostPort(std::string_view address);

}  // namespace photosearch
