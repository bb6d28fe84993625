#include "server/index_server.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include <chrono>
#include <cmath>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "base/stopwatch.h"
#include "photosearch/v1/index_service.grpc.pb.h"
#include "spdlog/spdlog.h"

namespace photosearch {
namespace {

namespace pb = ::photosearch::v1;

grpc::Status Invalid(const std::string& message) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, message);
}

class Service final : public pb::IndexService::Service {
 public:
  Service(ShardSource* shards, int dimension, MetricsRegistry* metrics, IndexServerLimits limits)
      : shards_(shards),
        dimension_(dimension),
        limits_(limits),
        latency_(metrics->GetHistogram("photosearch_index_server_request_duration_seconds",
                                       "Index server Search time", {{"method", "Search"}})),
        invalid_(metrics->GetCounter("photosearch_index_server_invalid_requests_total",
                                     "Search requests refused as invalid")) {}

  grpc::Status Search(grpc::ServerContext*, const pb::SearchRequest* request,
                      pb::SearchResponse* response) override {
    Stopwatch watch;
    grpc::Status status = DoSearch(*request, response);
    if (status.error_code() == grpc::StatusCode::INVALID_ARGUMENT) invalid_->Increment();
    latency_->Observe(watch.ElapsedSeconds());
    return status;
  }

  grpc::Status Info(grpc::ServerContext*, const pb::InfoRequest*,
                    pb::InfoResponse* response) override {
    response->set_model(shards_->model_id());
    response->set_dimension(dimension_);
    for (const auto& [name, s] : *shards_->View()) {
      pb::ShardInfo* info = response->add_shards();
      info->set_window(s->key.window);
      info->set_partition(s->key.partition);
      info->set_partitions(s->key.partitions);
      info->set_version(s->manifest.version);
      info->set_items(s->items());
      info->set_model(s->manifest.model_id);
      info->set_bytes(s->bytes);
      info->set_index(s->manifest.index);
      info->set_loaded_at(s->loaded_at);
    }
    return grpc::Status::OK;
  }

 private:
  grpc::Status DoSearch(const pb::SearchRequest& request, pb::SearchResponse* response) {
    if (request.model() != shards_->model_id()) {
      return Invalid(absl::StrCat("model '", absl::CHexEscape(request.model().substr(0, 256)),
                                  "' is not the served model '", shards_->model_id(), "'"));
    }
    if (request.dimension() != dimension_) {
      return Invalid(absl::StrCat("dimension ", request.dimension(), " is not the served ",
                                  dimension_));
    }
    const int64_t values = request.vectors_size();
    if (values == 0 || values % dimension_ != 0) {
      return Invalid(absl::StrCat(values, " values are not a whole number of ", dimension_,
                                  "-d vectors"));
    }
    const int64_t nq = values / dimension_;
    if (nq > limits_.max_queries) {
      return Invalid(absl::StrCat(nq, " query vectors, at most ", limits_.max_queries));
    }
    for (int64_t i = 0; i < values; ++i) {
      if (!std::isfinite(request.vectors(i))) {
        return Invalid(absl::StrCat("vectors[", i, "] is not a finite number"));
      }
    }
    if (request.k() < 1 || request.k() > limits_.max_k) {
      return Invalid(absl::StrCat("k must be between 1 and ", limits_.max_k, ", got ", request.k()));
    }
    const auto& params = request.params();
    if (params.ef_search() < 0 || params.ef_search() > limits_.max_ef_search ||
        params.nprobe() < 0 || params.nprobe() > limits_.max_nprobe) {
      return Invalid(absl::StrCat("ef_search must be 0..", limits_.max_ef_search,
                                  " and nprobe 0..", limits_.max_nprobe));
    }
    if (request.shards_size() == 0 || request.shards_size() > limits_.max_shards) {
      return Invalid(absl::StrCat("name 1..", limits_.max_shards, " shards, got ",
                                  request.shards_size()));
    }
    // One view for the whole request: a swap during it does not mix versions.
    std::shared_ptr<const ShardSet> view = shards_->View();
    // Names not served here (a registration just out of date, a window that
    // aged out) are left out of the answer, so the gateway retries only
    // those; a request for nothing served here is invalid.
    std::vector<const LoadedShard*> chosen;
    std::string unknown;
    for (const std::string& name : request.shards()) {
      auto it = view->find(name);
      if (it == view->end()) {
        if (unknown.empty()) unknown = name.substr(0, 128);
        continue;
      }
      chosen.push_back(it->second.get());
    }
    if (chosen.empty()) {
      return Invalid(absl::StrCat("shard '", absl::CHexEscape(unknown), "' is not served here"));
    }
    SearchParams search_params;
    search_params.ef_search = params.ef_search();
    search_params.nprobe = params.nprobe();
    for (const LoadedShard* shard : chosen) {
      auto hits = shard->Search(request.vectors().data(), nq, request.k(), search_params);
      if (!hits.ok()) {
        return grpc::Status(grpc::StatusCode::INTERNAL,
                            absl::StrCat(shard->name(), ": ", hits.status().message()));
      }
      pb::ShardHits* out = response->add_shards();
      out->set_shard(shard->name());
      for (const auto& query_hits : *hits) {
        pb::QueryHits* q = out->add_queries();
        for (const Hit& hit : query_hits) {
          pb::Hit* h = q->add_hits();
          h->set_item_id(hit.item_id);
          h->set_score(hit.score);
        }
      }
    }
    return grpc::Status::OK;
  }

  ShardSource* const shards_;
  const int dimension_;
  const IndexServerLimits limits_;
  Histogram* const latency_;
  Counter* const invalid_;
};

}  // namespace

struct IndexServer::Impl {
  Impl(ShardSource* shards, int dimension, MetricsRegistry* metrics, IndexServerLimits limits)
      : service(shards, dimension, metrics, limits), max_message_bytes(limits.max_message_bytes) {}
  Service service;
  const int max_message_bytes;
  std::unique_ptr<grpc::Server> server;
};

IndexServer::IndexServer(ShardSource* shards, int dimension, MetricsRegistry* metrics,
                         IndexServerLimits limits)
    : impl_(std::make_unique<Impl>(shards, dimension, metrics, limits)) {}

IndexServer::~IndexServer() {
  if (impl_->server) Shutdown(0);
}

absl::StatusOr<int> IndexServer::Start(const std::string& host, int port) {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  int bound = 0;
  builder.AddListeningPort(absl::StrCat(host, ":", port), grpc::InsecureServerCredentials(),
                           &bound);
  builder.SetMaxReceiveMessageSize(impl_->max_message_bytes);
  builder.SetMaxSendMessageSize(impl_->max_message_bytes);
  builder.RegisterService(&impl_->service);
  impl_->server = builder.BuildAndStart();
  if (!impl_->server || bound == 0) {
    impl_->server.reset();
    return absl::UnavailableError(absl::StrCat("cannot listen on ", host, ":", port));
  }
  if (auto* health = impl_->server->GetHealthCheckService()) {
    health->SetServingStatus("photosearch.v1.IndexService", true);
  }
  return bound;
}

void IndexServer::Wait() {
  if (impl_->server) impl_->server->Wait();
}

void IndexServer::Shutdown(int grace_ms) {
  if (!impl_->server) return;
  if (auto* health = impl_->server->GetHealthCheckService()) health->SetServingStatus(false);
  impl_->server->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(grace_ms));
}

}  // namespace photosearch
