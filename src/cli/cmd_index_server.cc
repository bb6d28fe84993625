#include <cstdio>
#include <regex>

#include "absl/strings/str_cat.h"
#include "cli/common.h"
#include "cli/query_stack.h"
#include "cli/side_services.h"
#include "discovery/etcd_registrar.h"
#include "server/index_server.h"
#include "spdlog/spdlog.h"

namespace photosearch {
namespace {

// "1073741824", "512M", "2G" (binary units).
absl::StatusOr<int64_t> ParseBytes(const std::string& text) {
  static const std::regex kBytes(R"((\d{1,15})([KMGT]i?B?)?)", std::regex::icase);
  std::smatch m;
  if (!std::regex_match(text, m, kBytes)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--max-memory '", text.substr(0, 32), "' must be bytes, e.g. 2G or 512M"));
  }
  int64_t n = std::stoll(m[1]);
  const char unit = m[2].matched ? static_cast<char>(std::toupper(m[2].str()[0])) : ' ';
  const int shift = unit == 'K' ? 10 : unit == 'M' ? 20 : unit == 'G' ? 30 : unit == 'T' ? 40 : 0;
  if (shift > 0 && n > (int64_t{1} << (62 - shift))) {
    return absl::InvalidArgumentError(absl::StrCat("--max-memory '", text, "' is too large"));
  }
  return n << shift;
}

std::vector<Registration> RegistrationsOf(const ShardManager& shards, const std::string& address) {
  std::vector<Registration> out;
  for (const auto& [name, s] : *shards.View()) {
    Registration r;
    r.address = address;
    r.model = s->manifest.model_id;
    r.window = s->key.window;
    r.partition = s->key.partition;
    r.partitions = s->key.partitions;
    r.version = s->manifest.version;
    r.items = s->manifest.item_count;
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace

int RunIndexServer(const IndexServerFlags& flags) {
  QueryStackOptions options;
  options.command = "index-server";
  options.model = flags.model;
  options.load_model = false;  // it searches vectors; the gateway embeds
  options.repo = flags.repo;
  options.repo_must_exist = true;  // a typo would serve an empty repository forever
  options.poll_seconds = flags.poll_seconds;
  options.selection.windows = flags.select;
  if (!flags.partition.empty()) {
    auto partition = ParsePartition(flags.partition);
    if (!partition.ok()) return Fail("index-server", partition.status());
    options.selection.partition = *partition;
  }
  if (!flags.retention.empty()) {
    auto retention = ParseDurationSeconds(flags.retention);
    if (!retention.ok()) return Fail("index-server", retention.status());
    options.selection.retention_seconds = *retention;
  }
  if (!flags.max_memory.empty()) {
    auto bytes = ParseBytes(flags.max_memory);
    if (!bytes.ok()) return Fail("index-server", bytes.status());
    options.selection.max_memory_bytes = *bytes;
  }
  for (const std::string& glob : flags.select) {
    if (glob.empty() || glob.size() > 64) {
      return Fail("index-server", absl::InvalidArgumentError(absl::StrCat(
                                      "--select '", glob.substr(0, 64), "' must be 1..64 bytes")));
    }
  }
  auto stack = BuildQueryStack(options);
  if (!stack.ok()) return Fail("index-server", stack.status());
  QueryStack& s = **stack;

  IndexServer server(s.shards.get(), s.model.dimension, &s.metrics);
  auto port = server.Start(flags.host, flags.port);
  if (!port.ok()) return Fail("index-server", port.status());
  std::string address = flags.advertise;
  if (address.empty()) {
    if (flags.host == "0.0.0.0" || flags.host == "::") {
      return Fail("index-server", absl::InvalidArgumentError(
                                      "listening on all addresses: give --advertise HOST:PORT, "
                                      "the address the gateway reaches this server at"));
    }
    address = absl::StrCat(flags.host, ":", *port);
  }

  std::unique_ptr<EtcdRegistrar> registrar;
  if (!flags.etcd.empty()) {
    auto started = StartRegistrar(flags.etcd, flags.lease_ttl, RegistrationsOf(*s.shards, address));
    if (!started.ok()) return Fail("index-server", started.status());
    registrar = std::move(*started);
  }

  // Keep the registrations equal to what is served (versions swap, windows age out).
  std::unique_ptr<RegistrationPublisher> publisher;
  if (registrar) {
    publisher = std::make_unique<RegistrationPublisher>(
        registrar.get(), [&] { return RegistrationsOf(*s.shards, address); });
  }
  // Optional HTTP for probes and Prometheus: /metrics, /healthz, /readyz.
  ProbeHttp http(&s.metrics, [&s] {
    return s.shards->View()->empty()
               ? absl::UnavailableError("no shard is loaded (see the log for refused versions)")
               : absl::OkStatus();
  });
  int http_port = -1;
  if (flags.http_port >= 0) {
    auto bound = http.Start(flags.host, flags.http_port);
    if (!bound.ok()) {
      server.Shutdown(0);
      return Fail("index-server", bound.status());
    }
    http_port = *bound;
  }
  StopOnSignal stop([&](int) {
    // Leave discovery first, so the gateway stops sending here, then drain.
    if (registrar) registrar->Stop();
    server.Shutdown(2000);
  });

  int64_t items = 0;
  for (const auto& [name, shard] : *s.shards->View()) items += shard->manifest.item_count;
  std::printf("photosearch index-server: model %s, %zu shard(s), %lld items from %s\n",
              s.model.id.c_str(), s.shards->View()->size(), static_cast<long long>(items),
              s.repository->url().c_str());
  std::printf("photosearch index-server: listening on %s:%d (grpc), advertised as %s%s\n",
              flags.host.c_str(), *port, address.c_str(),
              flags.etcd.empty() ? "" : absl::StrCat(" in ", flags.etcd).c_str());
  if (http_port >= 0) {
    std::printf("photosearch index-server: metrics on http://%s:%d/metrics\n", flags.host.c_str(),
                http_port);
  }
  std::fflush(stdout);
  server.Wait();
  http.Stop();
  if (publisher) publisher->Stop();
  return 0;
}

}  // namespace photosearch
