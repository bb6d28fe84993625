#include "gateway/remote_backend.h"

#include <grpcpp/grpcpp.h>

#include <set>

#include "absl/strings/str_cat.h"
#include "gateway/fanout.h"
#include "photosearch/v1/index_service.grpc.pb.h"
#include "spdlog/spdlog.h"

namespace photosearch {
namespace {

namespace pb = ::photosearch::v1;

// Health checks that may time out in a row before a server counts as down.
constexpr int kSlowChecksTolerated = 2;

std::chrono::system_clock::time_point SystemDeadline(std::chrono::steady_clock::time_point d) {
  return std::chrono::system_clock::now() +
         std::chrono::duration_cast<std::chrono::system_clock::duration>(
             d - std::chrono::steady_clock::now());
}

absl::Status FromGrpc(const grpc::Status& s, const std::string& address) {
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      absl::StrCat(address, ": ", s.error_message().substr(0, 300)));
}

class MetricsObserver : public FanOutObserver {
 public:
  explicit MetricsObserver(MetricsRegistry* metrics) : metrics_(metrics) {}
  void OnCall(const std::string& address, double seconds, bool ok) override {
    metrics_
        ->GetHistogram("photosearch_backend_request_duration_seconds",
                       "Time of a Search call to an index server", {{"server", address}})
        ->Observe(seconds);
    if (!ok) {
      metrics_
          ->GetCounter("photosearch_backend_errors_total", "Failed Search calls to an index server",
                       {{"server", address}})
          ->Increment();
    }
  }
  void OnRetry(const std::string& address) override {
    metrics_
        ->GetCounter("photosearch_backend_retries_total",
                     "Search calls retried on another replica, by the replica retried on",
                     {{"server", address}})
        ->Increment();
  }

 private:
  MetricsRegistry* const metrics_;
};

}  // namespace

struct RemoteBackend::Server : public Replica {
  explicit Server(std::string addr) : address_(std::move(addr)) {
    grpc::ChannelArguments args;
    // Reconnect quickly after an index server restarts (the default backoff
    // grows to two minutes).
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 200);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
    args.SetMaxReceiveMessageSize(64 << 20);
    channel = grpc::CreateCustomChannel(address_, grpc::InsecureChannelCredentials(), args);
    stub = pb::IndexService::NewStub(channel);
  }

  const std::string& address() const override { return address_; }

  std::function<void()> Start(const ShardQuery& query, const std::vector<ShardId>& shards,
                              Done done) override {
    struct Call {
      grpc::ClientContext context;
      pb::SearchRequest request;
      pb::SearchResponse response;
    };
    auto call = std::make_shared<Call>();
    call->context.set_deadline(SystemDeadline(query.deadline));
    pb::SearchRequest& r = call->request;
    r.set_model(query.model);
    r.set_dimension(query.dimension);
    r.mutable_vectors()->Add(query.vectors.begin(), query.vectors.end());
    r.set_k(query.shard_k);
    r.mutable_params()->set_ef_search(query.params.ef_search);
    r.mutable_params()->set_nprobe(query.params.nprobe);
    for (const ShardId& id : shards) r.add_shards(id.Name());
    stub->async()->Search(
        &call->context, &call->request, &call->response,
        [this, call, done = std::move(done)](grpc::Status status) {
          if (!status.ok()) {
            if (status.error_code() == grpc::StatusCode::UNAVAILABLE) healthy.store(false);
            done(FromGrpc(status, address_));
            return;
          }
          std::vector<ShardHits> out;
          for (pb::ShardHits& shard : *call->response.mutable_shards()) {
            const std::string& name = shard.shard();
            auto id = ParseShardName(std::string_view(name).substr(0, name.find('@')));
            if (!id.ok()) continue;  // not a shard we asked for: FanOut reports it missing
            ShardHits hits;
            hits.id = *id;
            hits.name = name;
            for (const pb::QueryHits& q : shard.queries()) {
              std::vector<SearchResult> results;
              results.reserve(q.hits_size());
              for (const pb::Hit& h : q.hits()) results.push_back({h.item_id(), h.score(), name});
              hits.per_query.push_back(std::move(results));
            }
            out.push_back(std::move(hits));
          }
          done(std::move(out));
        });
    return [call] { call->context.TryCancel(); };
  }

  const std::string address_;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<pb::IndexService::Stub> stub;
  std::atomic<bool> healthy{false};
  std::vector<ShardState> served;  // from the last Info; CheckServers only
  std::string problem;             // why it is unhealthy, logged when it changes
  int slow_checks = 0;             // health checks in a row that timed out
};

struct RemoteBackend::Topology {
  struct Entry {
    ShardState state;
    std::vector<std::shared_ptr<Server>> replicas;
  };
  std::map<ShardId, Entry> shards;
  size_t servers = 0;
  bool stale = false;
  std::string stale_reason;

  static bool AnyHealthy(const Entry& e) {
    for (const auto& r : e.replicas) {
      if (r->healthy.load()) return true;
    }
    return false;
  }
};

RemoteBackend::RemoteBackend(Directory* directory, MetricsRegistry* metrics,
                             RemoteBackendOptions options)
    : directory_(directory),
      metrics_(metrics),
      options_(std::move(options)),
      partial_answers_(metrics->GetCounter("photosearch_partial_answers_total",
                                           "Queries answered without every planned shard")),
      topology_(std::make_shared<const Topology>()) {}

RemoteBackend::~RemoteBackend() {
  {
    std::lock_guard<std::mutex> lock(stop_mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (checker_.joinable()) checker_.join();
}

void RemoteBackend::Start() {
  CheckServers();
  checker_ = std::thread([this] {
    std::unique_lock<std::mutex> lock(stop_mu_);
    while (!stop_cv_.wait_for(lock, std::chrono::milliseconds(options_.health_interval_ms),
                              [this] { return stopping_; })) {
      lock.unlock();
      CheckServers();
      lock.lock();
    }
  });
}

void RemoteBackend::CheckServers() {
  std::lock_guard<std::mutex> lock(servers_mu_);
  DirectoryView view = directory_->View();
  std::set<std::string> addresses(view.servers.begin(), view.servers.end());
  std::map<std::string, std::vector<const Registration*>> registered;
  for (const Registration& r : view.registrations) {
    if (r.model != options_.model) continue;
    addresses.insert(r.address);
    registered[r.address].push_back(&r);
  }
  for (auto it = servers_.begin(); it != servers_.end();) {
    it = addresses.count(it->first) ? std::next(it) : servers_.erase(it);
  }
  for (const std::string& address : addresses) {
    if (!servers_.count(address)) servers_[address] = std::make_shared<Server>(address);
  }

  // Info from every server at once, each under the health timeout.
  struct Check {
    grpc::ClientContext context;
    pb::InfoRequest request;
    pb::InfoResponse response;
    grpc::Status status;
  };
  std::map<std::string, std::unique_ptr<Check>> checks;
  std::mutex mu;
  std::condition_variable cv;
  size_t pending = servers_.size();
  for (auto& [address, server] : servers_) {
    auto& check = checks[address] = std::make_unique<Check>();
    check->context.set_deadline(std::chrono::system_clock::now() +
                                std::chrono::milliseconds(options_.health_timeout_ms));
    Check* c = check.get();
    server->stub->async()->Info(&c->context, &c->request, &c->response,
                                [c, &mu, &cv, &pending](grpc::Status status) {
                                  std::lock_guard<std::mutex> l(mu);
                                  c->status = std::move(status);
                                  if (--pending == 0) cv.notify_all();
                                });
  }
  {
    std::unique_lock<std::mutex> l(mu);
    cv.wait(l, [&] { return pending == 0; });  // every call ends by its deadline
  }

  auto topology = std::make_shared<Topology>();
  topology->servers = servers_.size();
  topology->stale = view.stale;
  topology->stale_reason = view.stale_reason;
  for (auto& [address, server] : servers_) {
    const Check& c = *checks[address];
    std::string problem;
    // A check that only ran late (a busy server) marks the server down after
    // kSlowChecksTolerated in a row; a refused connection or an error at once.
    const bool slow = c.status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
    server->slow_checks = slow ? server->slow_checks + 1 : 0;
    if (slow && server->slow_checks <= kSlowChecksTolerated && server->healthy.load()) {
      problem = server->problem;  // unchanged until it happens again
    } else if (!c.status.ok()) {
      problem = absl::StrCat("health check failed: ", c.status.error_message().substr(0, 200));
    } else if (c.response.model() != options_.model || c.response.dimension() != options_.dimension) {
      problem = absl::StrCat("serves model ", c.response.model().substr(0, 256), " (",
                             c.response.dimension(), "-d), not ", options_.model);
    }
    if (problem != server->problem) {
      if (problem.empty()) {
        spdlog::info("index server {} is healthy", address);
      } else {
        spdlog::warn("index server {}: {}", address, problem);
      }
      server->problem = problem;
    }
    server->healthy.store(problem.empty());
    if (problem.empty()) {
      server->served.clear();
      for (const pb::ShardInfo& s : c.response.shards()) {
        ShardState state;
        state.id = ShardId{s.window(), s.partition(), s.partitions()};
        state.model = s.model();
        state.version = s.version();
        state.items = s.items();
        state.bytes = s.bytes();
        state.index = s.index();
        state.loaded_at = s.loaded_at();
        server->served.push_back(std::move(state));
      }
    }
    // What it serves: its registrations (etcd), else what it said (a static list).
    std::vector<ShardState> shards;
    if (auto it = registered.find(address); it != registered.end()) {
      for (const Registration* r : it->second) {
        ShardState state;
        state.id = ShardId{r->window, r->partition, r->partitions};
        state.model = r->model;
        state.version = r->version;
        state.items = r->items;
        for (const ShardState& s : server->served) {
          if (s.id == state.id && s.version == state.version) state = s;
        }
        shards.push_back(std::move(state));
      }
    } else {
      shards = server->served;
    }
    for (ShardState& state : shards) {
      auto& entry = topology->shards[state.id];
      if (entry.replicas.empty() || state.version > entry.state.version) entry.state = state;
      entry.replicas.push_back(server);
    }
  }
  topology_.store(std::move(topology));
}

std::vector<ShardId> RemoteBackend::Available() const {
  std::shared_ptr<const Topology> topology = topology_.load();
  std::vector<ShardId> out;
  for (const auto& [id, entry] : topology->shards) {
    if (Topology::AnyHealthy(entry)) out.push_back(id);
  }
  return out;
}

std::vector<ShardId> RemoteBackend::Known() const {
  std::shared_ptr<const Topology> topology = topology_.load();
  std::vector<ShardId> out;
  for (const auto& [id, entry] : topology->shards) out.push_back(id);
  return out;
}

ShardAnswer RemoteBackend::Search(const ShardQuery& query) const {
  std::shared_ptr<const Topology> topology = topology_.load();
  std::vector<ShardTarget> targets;
  ShardAnswer unserved;
  for (const ShardId& id : query.shards) {
    auto it = topology->shards.find(id);
    if (it == topology->shards.end()) {
      unserved.missing.push_back(id);
      continue;
    }
    ShardTarget target{id, {}};
    for (const auto& r : it->second.replicas) {
      if (r->healthy.load()) target.replicas.push_back(r);
    }
    if (target.replicas.empty()) {  // all marked down since planning: try them anyway
      target.replicas.assign(it->second.replicas.begin(), it->second.replicas.end());
    }
    targets.push_back(std::move(target));
  }
  MetricsObserver observer(metrics_);
  ShardAnswer answer = FanOut(targets, query, &observer);
  for (const ShardId& id : unserved.missing) answer.missing.push_back(id);
  if (answer.first_error.empty() && !unserved.missing.empty()) {
    answer.first_error = absl::StrCat(unserved.missing[0].Name(), ": no longer served");
  }
  if (!answer.missing.empty()) partial_answers_->Increment();
  return answer;
}

std::vector<ShardState> RemoteBackend::Shards() const {
  std::shared_ptr<const Topology> topology = topology_.load();
  std::vector<ShardState> out;
  for (const auto& [id, entry] : topology->shards) {
    ShardState state = entry.state;
    state.servers.clear();
    for (const auto& r : entry.replicas) {
      state.servers.push_back(r->address() + (r->healthy.load() ? "" : " (down)"));
    }
    state.state = Topology::AnyHealthy(entry) ? "serving" : "down";
    out.push_back(std::move(state));
  }
  return out;
}

absl::Status RemoteBackend::Ready(std::string* note) const {
  std::shared_ptr<const Topology> topology = topology_.load();
  if (topology->stale) {
    *note = absl::StrCat("stale view: ", topology->stale_reason, "; serving the last view");
  }
  if (topology->servers == 0) {
    return absl::UnavailableError(
        topology->stale ? absl::StrCat("no index server discovered: ", topology->stale_reason)
                        : "no index server discovered yet");
  }
  for (const auto& [id, entry] : topology->shards) {
    if (Topology::AnyHealthy(entry)) return absl::OkStatus();
  }
  return absl::UnavailableError(absl::StrCat("none of the ", topology->servers,
                                             " discovered index server(s) serves a shard of ",
                                             options_.model, " and answers health checks"));
}

}  // namespace photosearch
