// The subcommands of the photosearch binary. main() parses flags into these
// structs and calls one Run* function; each returns the process exit code.
#pragma once

#include <set>
#include <string>
#include <vector>

namespace photosearch {

// Options every command that embeds photos shares.
struct ModelFlags {
  std::string model;  // path to model.json (or its folder)
  int replicas = 0;   // model replicas; 0 = the command's default
  int threads = 0;    // intra-op threads per replica; 0 = cores / replicas
  int max_batch = 0;  // largest forward-pass batch; 0 = calibrated at start
};

struct IndexFlags {
  ModelFlags model;
  std::string detect = "whole";  // whole | primary | all
  std::string detector;          // detector manifest; "" = the default
  std::string photos;
  std::string repo;
  std::string index = "auto";
  int decode_threads = 0;
  std::string work_dir;
};

struct SearchFlags {
  ModelFlags model;
  std::string detect = "whole";
  std::string detector;
  std::string repo;
  std::string image;
  int k = 10;
  int ef = 0;
  std::string from, to;  // time range (RFC 3339 or YYYY-MM-DD)
  bool json = false;
};

struct ServeFlags {
  ModelFlags model;
  std::string detector;  // detector manifest; "" = the default; "none" = no detection
  std::string repo;
  std::string photos;
  std::string host = "127.0.0.1";
  int port = 8080;
  int poll_seconds = 10;
  uint64_t max_body_bytes = 20ull << 20;
  int64_t max_pixels = 50'000'000;
};

struct IndexServerFlags {
  ModelFlags model;  // only the manifest is read: the model id and dimension
  std::string repo;
  std::string host = "127.0.0.1";
  int port = 7001;
  std::vector<std::string> select;  // window globs; empty = every window
  std::string partition;            // "p/P"; "" = every partition
  std::string retention;            // "48h"; "" = keep every window
  std::string etcd;                 // http://host:port; "" = no registration
  std::string advertise;            // host:port; "" = host:port listened on
  int lease_ttl = 10;
  std::string max_memory;  // "2G"; "" = no limit
  int poll_seconds = 10;
  int http_port = -1;  // /metrics and /healthz; -1 = none, 0 = any free port
};

struct GatewayFlags {
  ModelFlags model;
  std::string detector;  // "" = the default; "none" = no detection
  std::string etcd;      // discovery through etcd ...
  std::string shards;    // ... or a static list of index servers (YAML)
  std::string photos;
  std::string host = "127.0.0.1";
  int port = 8080;
  int deadline_ms = 1000;
  double overfetch = 1.5;
  int health_ms = 1000;
  uint64_t max_body_bytes = 20ull << 20;
  int64_t max_pixels = 50'000'000;
};

struct IngestFlags {
  ModelFlags model;
  std::string redis = "redis://127.0.0.1:6379";
  std::string stream = "listings";
  std::string group = "photosearch";
  std::string consumer;
  std::string dead_letter;  // "" = <stream>:dead
  std::string start_id = "0";
  std::string repo;
  std::string host = "127.0.0.1";
  int port = 7101;
  std::string advertise;
  std::string etcd;
  int lease_ttl = 10;
  std::string file_root;
  std::string cache_dir;
  std::string wal;  // "" = ./photosearch-ingest/<consumer>
  int http_port = -1;
  int batch = 32;
  int claim_idle_ms = 30000;
  int handover_delay_ms = -1;  // -1: 5 s with --etcd, 30 s without
  int tombstone_poll_ms = 500;
  std::string detect = "whole";
  std::string detector;
  int fetch_concurrency = 8;
};

struct ArtifactsFlags {
  std::string action;  // list | show | verify | gc
  std::string repo;
  std::string artifact;  // optional: <kind>s/<model>/<window>/part-p-of-P[/<version>]
  std::string kind = "all";
  int keep = 0;  // gc: versions to keep per artifact
  bool dry_run = false;
};

struct PipelineFlags {
  ModelFlags model;
  std::string action;           // run | runs | rerun
  std::string config;           // pipeline.yaml; "" = the default pipeline
  std::set<std::string> given;  // flags given on the command line (they override the config)
  std::string repo;
  std::string catalog;
  std::string catalog_query;
  std::string window;
  std::string partition = "0/1";
  std::string run_id;  // rerun
  bool from_images = false;
  double max_failed = 0.05;
  std::string index = "auto";
  int concurrency = 8;
  std::string cache_dir;
  uint64_t cache_gb = 10;
  std::string file_root;
  std::string detect = "whole";  // embed step's regions
  std::string detector;          // "" = the default detector
};

struct DetectFlags {
  std::string model;    // detector manifest (model.json or its folder)
  std::string runtime;  // "" = the manifest's; torch | opencv
  std::string image;
  int threads = 0;  // intra-op threads; 0 = one per core
  bool json = false;
};

// The model used when --model is not given: $PHOTOSEARCH_MODEL, else the
// bundled models/mobilenetv2/model.json.
std::string DefaultModelPath();

// The detector used by `detect` when --model is not given: $PHOTOSEARCH_DETECTOR,
// else the bundled models/yolox_nano/model.json.
std::string DefaultDetectorPath();

int RunIndex(const IndexFlags& flags);
int RunSearch(const SearchFlags& flags);
int RunServe(const ServeFlags& flags);
int RunIndexServer(const IndexServerFlags& flags);
int RunGateway(const GatewayFlags& flags);
int RunIngest(const IngestFlags& flags);
int RunArtifacts(const ArtifactsFlags& flags);
int RunPipelineCommand(PipelineFlags flags);
int RunDetect(const DetectFlags& flags);

}  // namespace photosearch
