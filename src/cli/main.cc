// photosearch: search by photo. main() only parses flags and dispatches.
#include <cstdlib>
#include <iostream>

#include "CLI/CLI.hpp"
#include "base/logging.h"
#include "cli/commands.h"

namespace {

void AddModelFlags(CLI::App* cmd, photosearch::ModelFlags* flags) {
  flags->model = photosearch::DefaultModelPath();
  cmd->add_option(
         "--model", flags->model,
         "model manifest (model.json or its folder); $PHOTOSEARCH_MODEL overrides the default")
      ->capture_default_str();
  cmd->add_option("--replicas", flags->replicas,
                  "model replicas running forward passes in parallel (0 = 1 for serve and search, "
                  "one per core for index)")
      ->check(CLI::Range(0, 64));
  cmd->add_option("--threads", flags->threads,
                  "inference threads per replica (0 = cores / replicas)")
      ->check(CLI::Range(0, 256));
  cmd->add_option("--max-batch", flags->max_batch,
                  "largest batch of photos per forward pass (0 = the fastest per photo, "
                  "measured at start)")
      ->check(CLI::Range(0, 256));
}

// The bounds of a query photo, for the commands that take photos over HTTP.
void AddPhotoLimitFlags(CLI::App* cmd, uint64_t* max_body_bytes, int64_t* max_pixels) {
  cmd->add_option("--max-body-bytes", *max_body_bytes, "largest photo accepted, in bytes")
      ->check(CLI::Range(uint64_t{1024}, uint64_t{256} << 20))
      ->capture_default_str();
  cmd->add_option("--max-pixels", *max_pixels, "largest photo accepted, in pixels")
      ->check(CLI::Range(int64_t{4096}, int64_t{400'000'000}))
      ->capture_default_str();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "photosearch: index photos, then find the most similar ones to a photo.\n\n"
      "  photosearch index  --photos DIR --repo REPO     embed every photo, publish a shard\n"
      "  photosearch search --repo REPO IMAGE            the most similar indexed photos\n"
      "  photosearch serve  --repo REPO --photos DIR     REST API and web page\n"
      "  photosearch index-server --repo REPO --port 7001 --etcd URL   gRPC shard server\n"
      "  photosearch gateway --etcd URL --port 8080      REST API over index servers\n"
      "  photosearch ingest --redis URL --consumer NAME --repo REPO   listing events -> live shard\n"
      "  photosearch artifacts list|show|verify|gc --repo REPO   inspect and prune a repository\n"
      "  photosearch pipeline run --window hour/2026-11-22T05 --catalog C --repo REPO\n"
      "  photosearch detect IMAGE                        the objects in a photo\n"
      "\nREPO is a directory, file:///path or s3://BUCKET/PREFIX (see README: S3 settings).\n"};
  app.require_subcommand(1);
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error or off")
      ->capture_default_str();

  photosearch::IndexFlags index;
  CLI::App* index_cmd = app.add_subcommand(
      "index",
      "Embed every JPEG, PNG and WebP photo under --photos (recursively) and publish them as a\n"
      "new version of a shard in --repo. Item id = path relative to --photos. Photos that\n"
      "cannot be read or decoded are listed with the reason and skipped.");
  AddModelFlags(index_cmd, &index.model);
  index_cmd->add_option("--photos", index.photos, "folder of photos to index")
      ->required()
      ->check(CLI::ExistingDirectory);
  index_cmd
      ->add_option("--repo", index.repo, "artifact repository (a directory; created if missing)")
      ->required();
  index_cmd
      ->add_option(
          "--index", index.index,
          "auto (exact below 20k photos, HNSW above), faiss:<factory> "
          "(faiss:Flat, faiss:IVF1024,PQ32np), or hnsw[:M=16,ef_construction=200,ef_search=64]")
      ->capture_default_str();
  index_cmd
      ->add_option("--decode-threads", index.decode_threads,
                   "threads reading and decoding photos (0 = one per core)")
      ->check(CLI::Range(0, 64));
  index_cmd
      ->add_option("--detect", index.detect,
                   "regions embedded per photo: whole (no detection), primary (the most salient "
                   "detected object, padded; the whole photo if none), all (the whole photo and "
                   "each object: several vectors per item)")
      ->check(CLI::IsMember({"whole", "primary", "all"}))
      ->capture_default_str();
  index_cmd->add_option("--detector", index.detector,
                        "object detector manifest (default: models/yolox_nano; "
                        "$PHOTOSEARCH_DETECTOR overrides)");
  index_cmd->add_option("--work-dir", index.work_dir,
                        "where the shard is built before publishing (default: system temp)");

  photosearch::SearchFlags search;
  CLI::App* search_cmd = app.add_subcommand(
      "search",
      "Print the k indexed photos most similar to IMAGE, with scores (cosine similarity).");
  AddModelFlags(search_cmd, &search.model);
  search_cmd->add_option("--repo", search.repo, "artifact repository to search")->required();
  search_cmd->add_option("image", search.image, "query photo (JPEG, PNG or WebP)")
      ->required()
      ->check(CLI::ExistingFile);
  search_cmd->add_option("-k,--k", search.k, "number of results")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  search_cmd->add_option("--ef", search.ef, "HNSW search breadth (0 = the shard's default)")
      ->check(CLI::Range(0, 4096));
  search_cmd->add_flag("--json", search.json, "print the response as JSON, as the REST API does");
  search_cmd
      ->add_option("--detect", search.detect,
                   "search with: whole (the photo), primary (its most salient object), all "
                   "(the photo and each object, with results per object)")
      ->check(CLI::IsMember({"whole", "primary", "all"}))
      ->capture_default_str();
  search_cmd->add_option("--detector", search.detector,
                         "object detector manifest (default: models/yolox_nano)");
  search_cmd->add_option("--from", search.from,
                         "only windows from this time (RFC 3339 or YYYY-MM-DD, UTC)");
  search_cmd->add_option("--to", search.to,
                         "only windows up to this time (a date: its end; RFC 3339 or YYYY-MM-DD)");

  photosearch::ServeFlags serve;
  CLI::App* serve_cmd = app.add_subcommand(
      "serve",
      "Serve the shards of --repo over HTTP: POST /v1/search (a photo or a vector), the web page\n"
      "at /, GET /v1/shards, /healthz, /readyz, /metrics. New shard versions published to --repo\n"
      "are picked up every --poll-seconds without a restart.");
  AddModelFlags(serve_cmd, &serve.model);
  serve_cmd->add_option("--repo", serve.repo, "artifact repository to serve")->required();
  serve_cmd
      ->add_option("--photos", serve.photos,
                   "folder the photos were indexed from; the web page shows them as thumbnails")
      ->check(CLI::ExistingDirectory);
  serve_cmd->add_option("--host", serve.host, "address to listen on")->capture_default_str();
  serve_cmd->add_option("--detector", serve.detector,
                        "object detector for ?detect=primary|all (default: models/yolox_nano; "
                        "none: no detection)");
  serve_cmd->add_option("--port", serve.port, "port to listen on (0 = any free port)")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  serve_cmd
      ->add_option("--poll-seconds", serve.poll_seconds,
                   "how often to look for new shard versions (0 = never)")
      ->check(CLI::Range(0, 86400))
      ->capture_default_str();
  AddPhotoLimitFlags(serve_cmd, &serve.max_body_bytes, &serve.max_pixels);

  photosearch::IndexServerFlags index_server;
  CLI::App* index_server_cmd = app.add_subcommand(
      "index-server",
      "Serve some shards of --repo over gRPC (photosearch.v1.IndexService and\n"
      "grpc.health.v1.Health) for a gateway: every published shard matching --select,\n"
      "--partition and --retention, watched every --poll-seconds. A new version is loaded\n"
      "beside the served one, checked (model, dimension, a probe query) and swapped in while\n"
      "requests run; the old one is freed when its last request ends. With --etcd the shards\n"
      "are registered under one lease (kept alive; revoked on SIGTERM).");
  index_server_cmd->add_option("--model", index_server.model.model,
                               "model manifest: the shards' model id and dimension (default: the "
                               "bundled model; $PHOTOSEARCH_MODEL overrides)");
  index_server.model.model = photosearch::DefaultModelPath();
  index_server_cmd->add_option("--repo", index_server.repo, "artifact repository to serve from")
      ->required();
  index_server_cmd->add_option("--host", index_server.host, "address to listen on")
      ->capture_default_str();
  index_server_cmd->add_option("--port", index_server.port, "gRPC port (0 = any free port)")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  index_server_cmd->add_option("--select", index_server.select,
                               "window glob to serve, repeatable: hour/*, day/2026-11-*, month/*, "
                               "all, * (default: every window)");
  index_server_cmd->add_option("--partition", index_server.partition,
                               "serve only partition p of windows split in P (p/P, e.g. 0/4)");
  index_server_cmd->add_option("--retention", index_server.retention,
                               "drop windows that ended longer ago than this (e.g. 48h, 30d)");
  index_server_cmd->add_option("--etcd", index_server.etcd,
                               "register the served shards in etcd (http://127.0.0.1:2379)");
  index_server_cmd->add_option("--advertise", index_server.advertise,
                               "HOST:PORT the gateway reaches this server at (default: "
                               "--host:--port)");
  index_server_cmd->add_option("--lease-ttl", index_server.lease_ttl,
                               "seconds the registrations outlive a killed server")
      ->check(CLI::Range(2, 3600))
      ->capture_default_str();
  index_server_cmd->add_option("--max-memory", index_server.max_memory,
                               "refuse shards that would take the served files over this many "
                               "bytes (e.g. 8G; default: no limit)");
  index_server_cmd
      ->add_option("--http-port", index_server.http_port,
                   "also serve GET /metrics (Prometheus) and /healthz over HTTP on this port "
                   "(0 = any free port; default: no HTTP)")
      ->check(CLI::Range(0, 65535));
  index_server_cmd
      ->add_option("--poll-seconds", index_server.poll_seconds,
                   "how often to look for new, changed or expired shards (0 = never)")
      ->check(CLI::Range(0, 86400))
      ->capture_default_str();

  photosearch::GatewayFlags gateway;
  CLI::App* gateway_cmd = app.add_subcommand(
      "gateway",
      "Serve the REST API and web page of `serve` over index servers: discovers them through\n"
      "--etcd (or a static --shards list), plans for every query the coarsest complete windows\n"
      "that cover its from/to range, sends it to one replica of each planned shard under one\n"
      "--deadline-ms, retries once on another replica, and merges the top k. Photos are\n"
      "decoded, detected and embedded here; edge clients may send vectors.");
  AddModelFlags(gateway_cmd, &gateway.model);
  gateway_cmd->add_option("--etcd", gateway.etcd, "discover index servers in etcd (http://127.0.0.1:2379)");
  gateway_cmd->add_option("--shards", gateway.shards,
                          "or a YAML file listing index servers (servers: [host:port, ...])")
      ->check(CLI::ExistingFile);
  gateway_cmd
      ->add_option("--photos", gateway.photos,
                   "folder the photos were indexed from; the web page shows them as thumbnails")
      ->check(CLI::ExistingDirectory);
  gateway_cmd->add_option("--host", gateway.host, "address to listen on")->capture_default_str();
  gateway_cmd->add_option("--port", gateway.port, "port to listen on (0 = any free port)")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  gateway_cmd->add_option("--detector", gateway.detector,
                          "object detector for ?detect=primary|all (default: models/yolox_nano; "
                          "none: no detection)");
  gateway_cmd->add_option("--deadline-ms", gateway.deadline_ms,
                          "time the index servers get per query; shards that miss it are "
                          "reported in missing_shards")
      ->check(CLI::Range(10, 60000))
      ->capture_default_str();
  gateway_cmd->add_option("--overfetch", gateway.overfetch,
                          "each shard is asked for ceil(k x this) hits before the merge")
      ->check(CLI::Range(1.0, 10.0))
      ->capture_default_str();
  gateway_cmd->add_option("--health-ms", gateway.health_ms,
                          "how often every index server is health-checked")
      ->check(CLI::Range(100, 60000))
      ->capture_default_str();
  AddPhotoLimitFlags(gateway_cmd, &gateway.max_body_bytes, &gateway.max_pixels);

  photosearch::ArtifactsFlags artifacts;
  CLI::App* artifacts_cmd = app.add_subcommand(
      "artifacts", "Inspect and maintain an artifact repository (a directory or s3://).");
  artifacts_cmd->require_subcommand(1);
  struct Action {
    const char* name;
    const char* help;
  };
  for (const Action& action :
       {Action{"list", "one line per artifact: versions, and the newest one's items and index"},
        Action{"show", "print the manifest of ARTIFACT (its newest version, or /VERSION)"},
        Action{"verify",
               "check sizes and sha256 of every file of every version (or of ARTIFACT); exit 1 "
               "if any is corrupt"},
        Action{"gc",
               "remove all but the --keep newest versions of each artifact (or of ARTIFACT)"}}) {
    CLI::App* cmd = artifacts_cmd->add_subcommand(action.name, action.help);
    cmd->add_option("--repo", artifacts.repo, "artifact repository")->required();
    cmd->callback([&artifacts, name = std::string(action.name)] { artifacts.action = name; });
    if (std::string(action.name) == "list") {
      cmd->add_option("--kind", artifacts.kind, "shard, feature or all")
          ->check(CLI::IsMember({"shard", "feature", "all"}))
          ->capture_default_str();
      continue;
    }
    auto* artifact = cmd->add_option(
        "artifact", artifacts.artifact,
        "<kind>s/<model>/<window>/part-<p>-of-<P>[/<version>], as `artifacts list` prints it");
    if (std::string(action.name) == "show") artifact->required();
    if (std::string(action.name) == "gc") {
      cmd->add_option("--keep", artifacts.keep, "versions to keep per artifact (at least 1)")
          ->required()
          ->check(CLI::Range(1, 1000000));
      cmd->add_flag("--dry-run", artifacts.dry_run, "print what would be removed, remove nothing");
    }
  }

  photosearch::IngestFlags ingest;
  CLI::App* ingest_cmd = app.add_subcommand(
      "ingest",
      "Consume listing events from a Redis stream into a live shard, searchable within\n"
      "seconds, served over gRPC like an index server (tier live, registered in etcd with\n"
      "--etcd). Events (redis-cli):\n"
      "  XADD listings * op put item_id ID image_url URL listed_at 2026-11-22T05:30:00Z [attrs JSON]\n"
      "  XADD listings * op delete item_id ID [deleted_at RFC3339]\n"
      "Each put is fetched (http(s), s3://, file:// under --file-root), embedded and written to\n"
      "the log (--wal, fsynced) before it is acknowledged; a restart replays the log, embedding\n"
      "nothing again. Deletes become tombstones in --repo, applied by every server. Bad events\n"
      "go to the dead-letter stream with the reason. Listings leave the live shard once a batch\n"
      "shard built after their event serves them (docs/INGEST.md).");
  AddModelFlags(ingest_cmd, &ingest.model);
  ingest_cmd->add_option("--redis", ingest.redis, "redis://[[user]:password@]host[:port][/db]")
      ->capture_default_str();
  ingest_cmd->add_option("--stream", ingest.stream, "the stream of listing events")
      ->capture_default_str();
  ingest_cmd->add_option("--group", ingest.group, "consumer group (created if absent)")
      ->capture_default_str();
  ingest_cmd->add_option("--consumer", ingest.consumer,
                         "this process's consumer name, unique in the group (also its live shard: "
                         "live/NAME)")
      ->required();
  ingest_cmd->add_option("--dead-letter", ingest.dead_letter,
                         "stream for bad events (default: <stream>:dead)");
  ingest_cmd->add_option("--start-id", ingest.start_id,
                         "where a group created now starts: 0 = the whole stream, $ = new events")
      ->capture_default_str();
  ingest_cmd->add_option("--repo", ingest.repo,
                         "artifact repository: tombstones are written here, batch shards read")
      ->required();
  ingest_cmd->add_option("--host", ingest.host, "address to listen on")->capture_default_str();
  ingest_cmd->add_option("--port", ingest.port, "gRPC port of the live shard (0 = any free port)")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  ingest_cmd->add_option("--advertise", ingest.advertise,
                         "HOST:PORT the gateway reaches this process at (default: --host:--port)");
  ingest_cmd->add_option("--etcd", ingest.etcd,
                         "register the live shard in etcd and hand over by what is registered "
                         "(without it: by what the repository holds)");
  ingest_cmd->add_option("--lease-ttl", ingest.lease_ttl, "seconds a registration outlives a kill")
      ->check(CLI::Range(2, 3600))
      ->capture_default_str();
  ingest_cmd->add_option("--file-root", ingest.file_root,
                         "allow file:// image URLs under this folder (default: refused)");
  ingest_cmd->add_option("--cache-dir", ingest.cache_dir,
                         "fetched photos cache (default: the pipelines' under the temp folder)");
  ingest_cmd->add_option("--wal", ingest.wal,
                         "folder of the write-ahead log (default: ./photosearch-ingest/CONSUMER)");
  ingest_cmd
      ->add_option("--http-port", ingest.http_port,
                   "serve /metrics, /healthz, /readyz and /v1/live over HTTP on this port (0 = any)")
      ->check(CLI::Range(0, 65535));
  ingest_cmd->add_option("--batch", ingest.batch, "events read and embedded together")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  ingest_cmd
      ->add_option("--claim-idle-ms", ingest.claim_idle_ms,
                   "take over another consumer's events pending longer than this")
      ->check(CLI::Range(100, 86'400'000))
      ->capture_default_str();
  ingest_cmd
      ->add_option("--handover-delay-ms", ingest.handover_delay_ms,
                   "drop a listing only after batch shards hold it this long (default 5000 with "
                   "--etcd, 30000 without: index servers poll the repository)")
      ->check(CLI::Range(0, 86'400'000));
  ingest_cmd
      ->add_option("--tombstone-poll-ms", ingest.tombstone_poll_ms,
                   "how often other processes' deletes are read from --repo")
      ->check(CLI::Range(50, 60000))
      ->capture_default_str();
  ingest_cmd->add_option("--detect", ingest.detect, "regions embedded: whole, primary or all")
      ->check(CLI::IsMember({"whole", "primary", "all"}))
      ->capture_default_str();
  ingest_cmd->add_option("--detector", ingest.detector, "detector manifest for --detect primary|all");
  ingest_cmd->add_option("--concurrency", ingest.fetch_concurrency, "photos fetched at once")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();

  photosearch::PipelineFlags pipeline;
  CLI::App* pipeline_cmd = app.add_subcommand(
      "pipeline",
      "Time-windowed batch indexing: each window (hour, day, month) and partition becomes\n"
      "versioned feature and shard artifacts in --repo; days and months roll up from the\n"
      "features of their hours and days. Every run is recorded in REPO/runs/.");
  pipeline_cmd->require_subcommand(1);
  CLI::App* run_cmd = pipeline_cmd->add_subcommand(
      "run", "index one window (and partition); re-running resumes and never duplicates");
  CLI::App* rerun_cmd =
      pipeline_cmd->add_subcommand("rerun", "run again the window of a recorded run");
  CLI::App* runs_cmd = pipeline_cmd->add_subcommand("runs", "list the recorded runs");
  for (CLI::App* cmd : {run_cmd, rerun_cmd, runs_cmd}) {
    cmd->add_option("--repo", pipeline.repo,
                    "artifact repository (a directory or s3://); overrides the config's repo");
    cmd->add_option("--config", pipeline.config,
                    "pipeline.yaml: the steps to run as a DAG, with catalog, repo, model and "
                    "step parameters (default: catalog -> fetch -> embed -> build -> publish; "
                    "see examples/pipeline.yaml); flags given here override it")
        ->check(CLI::ExistingFile);
    cmd->callback([&pipeline, cmd] {
      pipeline.action = cmd->get_name();
      for (const CLI::Option* option : cmd->get_options()) {
        if (option->count() > 0) pipeline.given.insert(option->get_name());
      }
    });
  }
  rerun_cmd->add_option("run_id", pipeline.run_id, "as `pipeline runs` prints it")->required();
  for (CLI::App* cmd : {run_cmd, rerun_cmd}) {
    AddModelFlags(cmd, &pipeline.model);
    cmd->add_option(
        "--catalog", pipeline.catalog,
        "listings: .jsonl or .csv with item_id, image_url, listed_at (path, file://, s3://), "
        "or a postgresql:// database");
    cmd->add_option("--catalog-query", pipeline.catalog_query,
                    "for postgresql://: a query returning item_id, image_url, listed_at for "
                    "listed_at in [$1, $2) (default: SELECT * FROM listings WHERE ...)");
    cmd->add_option("--cache-dir", pipeline.cache_dir,
                    "downloaded images (default: system temp/photosearch-fetch-cache)");
    cmd->add_option("--cache-gb", pipeline.cache_gb, "size bound of the image cache, GiB")
        ->check(CLI::Range(uint64_t{1}, uint64_t{100000}))
        ->capture_default_str();
    cmd->add_option("--concurrency", pipeline.concurrency, "images downloaded at once")
        ->check(CLI::Range(1, 256))
        ->capture_default_str();
    cmd->add_option("--max-failed", pipeline.max_failed,
                    "largest fraction of a window's images that may fail")
        ->check(CLI::Range(0.0, 1.0))
        ->capture_default_str();
    cmd->add_option("--file-root", pipeline.file_root,
                    "allow file:// image URLs under this folder (default: none allowed)");
    cmd->add_option("--index", pipeline.index, "shard index: auto, faiss:<factory> or hnsw[:...]")
        ->capture_default_str();
    cmd->add_option("--detect", pipeline.detect,
                    "regions embedded per image: whole, primary (its most salient object) or "
                    "all (the image and each object)")
        ->check(CLI::IsMember({"whole", "primary", "all"}))
        ->capture_default_str();
    cmd->add_option("--detector", pipeline.detector,
                    "object detector manifest for --detect (default: models/yolox_nano)");
  }
  run_cmd
      ->add_option("--window", pipeline.window,
                   "hour/YYYY-MM-DDTHH, day/YYYY-MM-DD or month/YYYY-MM (UTC)")
      ->required();
  run_cmd
      ->add_option("--partition", pipeline.partition, "p/P: this run's hash partition of item ids")
      ->capture_default_str();
  run_cmd->add_flag("--from-images", pipeline.from_images,
                    "build a day or month from the catalog's images instead of rolling up");

  photosearch::DetectFlags detect;
  detect.model = photosearch::DefaultDetectorPath();
  CLI::App* detect_cmd = app.add_subcommand(
      "detect",
      "Print the objects the detector finds in IMAGE: one line per box (class, score, x0 y0 x1 y1\n"
      "in the photo's pixels), or JSON. The box --detect primary would crop is marked \"primary\"\n"
      "(it may be a low-scoring box of no sure class, listed for that reason).");
  detect_cmd->add_option("image", detect.image, "photo (JPEG, PNG or WebP)")
      ->required()
      ->check(CLI::ExistingFile);
  detect_cmd
      ->add_option("--model", detect.model,
                   "detector manifest (model.json or its folder); $PHOTOSEARCH_DETECTOR overrides "
                   "the default")
      ->capture_default_str();
  detect_cmd
      ->add_option("--runtime", detect.runtime,
                   "torch or opencv (default: the manifest's, torch for the bundled detector)")
      ->check(CLI::IsMember({"torch", "opencv", "torchscript", "opencv-dnn"}));
  detect_cmd->add_option("--threads", detect.threads, "inference threads (0 = one per core)")
      ->check(CLI::Range(0, 256));
  detect_cmd->add_flag("--json", detect.json, "print the boxes as JSON");

  if (argc > 1 && argv[1][0] != '-') {
    bool known = false;
    for (const CLI::App* sub : app.get_subcommands({})) known = known || sub->get_name() == argv[1];
    if (!known) {
      std::cerr << "photosearch: unknown command '" << argv[1]
                << "' (commands: index, search, serve, index-server, gateway, ingest, artifacts, "
                   "pipeline, "
                   "detect; see "
                   "photosearch --help)"
                << std::endl;
      return 2;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help
    // One readable line, exit code 2 (usage error).
    std::cerr << "photosearch: " << e.what() << " (see photosearch --help)" << std::endl;
    return 2;
  }
  if (auto status = photosearch::InitLogging(log_level); !status.ok()) {
    std::cerr << "photosearch: " << status.message() << "\n";
    return 2;
  }
  if (*index_cmd) return photosearch::RunIndex(index);
  if (*search_cmd) return photosearch::RunSearch(search);
  if (*serve_cmd) return photosearch::RunServe(serve);
  if (*index_server_cmd) return photosearch::RunIndexServer(index_server);
  if (*gateway_cmd) return photosearch::RunGateway(gateway);
  if (*ingest_cmd) return photosearch::RunIngest(ingest);
  if (*artifacts_cmd) return photosearch::RunArtifacts(artifacts);
  if (*pipeline_cmd) return photosearch::RunPipelineCommand(pipeline);
  if (*detect_cmd) return photosearch::RunDetect(detect);
  return 2;
}
