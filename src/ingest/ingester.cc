#include "ingest/ingester.h"

#include <algorithm>
#include <chrono>
#include <set>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/clock.h"
#include "base/status_macros.h"
#include "model/photo_batch.h"
#include "spdlog/spdlog.h"

namespace photosearch {
namespace {

constexpr int kDeadLetterMaxLen = 100000;  // entries kept in the dead-letter stream (about)
constexpr int kAcksPerCommand = 500;
constexpr int kClaimRoundsPerPass = 10;

// A listing as the handover bookkeeping names it.
std::string ListingKey(const LiveListing& l) {
  return absl::StrCat(l.item_id, "\n", l.listed_at, "\n", l.event_id);
}

}  // namespace

Ingester::Ingester(IngestOptions options, PhotoEmbedder* embedder, Detector* detector,
                   Repository* repository, IngestLog* log, TombstoneFeed* tombstones,
                   LiveShard* live, Directory* directory, MetricsRegistry* metrics)
    : options_(std::move(options)),
      embedder_(embedder),
      detector_(detector),
      repository_(repository),
      log_(log),
      tombstones_(tombstones),
      live_(live),
      directory_(directory),
      tombstone_writer_(&repository->store()),
      handover_(repository, embedder->manifest().id),
      metrics_(metrics) {
  absl::StatusOr<std::unique_ptr<Fetcher>> fetcher = Fetcher::Create(options_.fetch);
  if (fetcher.ok()) fetcher_ = std::move(*fetcher);
  freshness_ = metrics_->GetHistogram(
      "photosearch_ingest_freshness_seconds",
      "From a listing's event entering the stream to it being searchable in the live shard");
  embedded_ = metrics_->GetCounter("photosearch_ingest_embedded_total",
                                   "Listings fetched and embedded by this ingest");
  dead_letters_ = metrics_->GetCounter("photosearch_ingest_dead_letters_total",
                                       "Events sent to the dead-letter stream");
  redis_errors_ = metrics_->GetCounter("photosearch_ingest_redis_errors_total",
                                       "Redis commands that failed (connection, timeout, error)");
  handed_over_ = metrics_->GetCounter("photosearch_ingest_handed_over_total",
                                      "Live listings dropped because a batch shard took them over");
  live_items_ = metrics_->GetGauge("photosearch_live_items", "Listings in the live shard");
}

Ingester::~Ingester() = default;

absl::Status Ingester::Recover() {
  if (!fetcher_) {
    ASSIGN_OR_RETURN(fetcher_, Fetcher::Create(options_.fetch));
  }
  ASSIGN_OR_RETURN(IngestLog::Contents contents, log_->Replay());
  const TombstoneSet& set = tombstones_->set();
  int64_t restored = 0;
  for (const LoggedPut& put : contents.puts) {
    absl::StatusOr<LiveShard::PutResult> r = live_->Put(put.listing, put.vectors, &set);
    if (!r.ok()) return Annotate(r.status(), "replaying the ingest log");
    restored += *r == LiveShard::PutResult::kAdded || *r == LiveShard::PutResult::kReplaced;
  }
  for (const LoggedDelete& del : contents.deletes) live_->Delete(del.item_id, del.deleted_at);
  {
    std::lock_guard<std::mutex> lock(status_mu_);
    status_.replayed = restored;
  }
  metrics_->GetCounter("photosearch_ingest_replayed_total",
                       "Listings restored from the ingest log at start (not embedded again)")
      ->Increment(static_cast<double>(restored));
  live_items_->Set(static_cast<double>(live_->items()));
  spdlog::info("ingest: {} listings restored from the log in {} ({} records, {} deletes to "
               "publish, {} bytes of torn tail cut)",
               restored, log_->dir(), contents.records, contents.deletes.size(), contents.cut_bytes);
  absl::Status published = PublishTombstones();
  if (!published.ok()) spdlog::warn("ingest: {}; retrying", std::string(published.message()));
  return absl::OkStatus();
}

absl::Status Ingester::Connect() {
  redis_.reset();
  ASSIGN_OR_RETURN(redis_, RedisClient::Connect(options_.redis, options_.redis_timeout_ms));
  absl::StatusOr<RedisReply> created = redis_->Command(
      {"XGROUP", "CREATE", options_.stream, options_.group, options_.start_id, "MKSTREAM"});
  if (!created.ok() && !absl::StrContains(created.status().message(), "BUSYGROUP")) {
    return created.status();
  }
  read_pending_ = true;
  return absl::OkStatus();
}

void Ingester::Sleep(int ms, const std::atomic<bool>& stop) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (!stop.load() && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min(ms, 50)));
  }
}

void Ingester::Run(const std::atomic<bool>& stop) {
  int backoff_ms = options_.backoff_min_ms;
  std::string last_error;
  std::unique_ptr<Work> inflight;
  auto finish_inflight = [&]() -> absl::Status {
    if (!inflight) return absl::OkStatus();
    std::unique_ptr<Work> work = std::move(inflight);
    return Finish(std::move(work));
  };
  auto failed = [&](const absl::Status& status) {
    redis_errors_->Increment();
    std::string error(status.message());
    if (error != last_error) spdlog::warn("ingest: {}; retrying with backoff", error);
    last_error = error;
    {
      std::lock_guard<std::mutex> lock(status_mu_);
      status_.redis_connected = redis_ && !redis_->broken();
      status_.redis_error = error;
    }
    Sleep(backoff_ms, stop);
    backoff_ms = std::min(backoff_ms * 2, options_.backoff_max_ms);
  };
  while (!stop.load()) {
    if (!redis_ || redis_->broken()) {
      if (absl::Status connected = Connect(); !connected.ok()) {
        failed(connected);
        continue;
      }
      spdlog::info("ingest: reading {} as {}/{} from {}", options_.stream, options_.group,
                   options_.consumer, options_.redis.Redacted());
      std::lock_guard<std::mutex> lock(status_mu_);
      status_.redis_connected = true;
      status_.redis_error.clear();
    }
    const std::string count = std::to_string(options_.batch);
    absl::Status done;
    const bool claim_due = NowUnixMillis() - last_claim_ms_ >= options_.claim_every_ms;
    if (inflight && (read_pending_ || claim_due)) {
      // Pending and claimed entries are processed alone, never beside a batch
      // that may hold them too.
      done = finish_inflight();
      if (!done.ok()) read_pending_ = true;
    } else if (read_pending_) {
      // Entries delivered to this consumer but never acked (a crash, a
      // failure): read them again first.
      absl::StatusOr<RedisReply> reply =
          redis_->Command({"XREADGROUP", "GROUP", options_.group, options_.consumer, "COUNT", count,
                           "STREAMS", options_.stream, "0"});
      absl::StatusOr<std::vector<StreamEntry>> entries =
          reply.ok() ? ParseReadReply(*reply) : reply.status();
      if (entries.ok() && entries->empty()) read_pending_ = false;
      done = entries.ok() ? Process(std::move(*entries)) : entries.status();
    } else if (claim_due) {
      last_claim_ms_ = NowUnixMillis();
      std::string cursor = "0-0";
      for (int round = 0; round < kClaimRoundsPerPass && done.ok(); ++round) {
        absl::StatusOr<RedisReply> reply = redis_->Command(
            {"XAUTOCLAIM", options_.stream, options_.group, options_.consumer,
             std::to_string(options_.claim_idle_ms), cursor, "COUNT", count});
        absl::StatusOr<std::vector<StreamEntry>> entries =
            reply.ok() ? ParseAutoClaimReply(*reply, &cursor) : reply.status();
        if (entries.ok() && !entries->empty()) {
          spdlog::info("ingest: claimed {} entries another consumer left pending",
                       entries->size());
        }
        done = entries.ok() ? Process(std::move(*entries)) : entries.status();
        if (cursor == "0-0") break;
      }
    } else {
      // New entries, two batches in flight: the next one is read, fetched
      // and queued for the model while the previous one is logged, applied
      // and acknowledged, so the model does not wait for those. Block only
      // when nothing is in flight.
      std::vector<std::string> args = {"XREADGROUP", "GROUP", options_.group, options_.consumer,
                                       "COUNT", count};
      if (!inflight) {
        args.push_back("BLOCK");
        args.push_back(std::to_string(options_.block_ms));
      }
      args.insert(args.end(), {"STREAMS", options_.stream, ">"});
      absl::StatusOr<RedisReply> reply = redis_->Command(args, inflight ? 0 : options_.block_ms);
      absl::StatusOr<std::vector<StreamEntry>> entries =
          reply.ok() ? ParseReadReply(*reply) : reply.status();
      std::unique_ptr<Work> next;
      if (entries.ok() && !entries->empty()) next = Begin(std::move(*entries));
      done = finish_inflight();
      inflight = std::move(next);
      if (done.ok() && !entries.ok()) done = entries.status();
    }
    if (!done.ok()) {
      if (absl::StrContains(done.message(), "NOGROUP")) redis_.reset();  // the stream was deleted
      read_pending_ = true;  // what was not acked comes back first
      failed(done);
      continue;
    }
    backoff_ms = options_.backoff_min_ms;
    if (!last_error.empty()) spdlog::info("ingest: consuming again");
    last_error.clear();
  }
  // Stopping: what is in flight is logged and acknowledged (or comes back).
  if (absl::Status last = finish_inflight(); !last.ok()) {
    spdlog::warn("ingest: {}", std::string(last.message()));
  }
}

// A batch of entries between Begin (parsed, its photos fetched and queued
// for the model) and Finish (collected, logged, applied, acknowledged).
struct Ingester::Work {
  std::vector<StreamEntry> entries;
  std::vector<std::string> acks;
  std::vector<std::pair<size_t, std::string>> dead;  // entry, reason
  std::vector<LoggedDelete> deletes;
  struct ToEmbed {
    size_t entry;
    LiveListing listing;
  };
  std::vector<ToEmbed> to_embed;
  std::vector<std::string> urls;
  std::unique_ptr<PhotoBatch> batch;
  std::thread fetching;

  ~Work() {
    if (fetching.joinable()) fetching.join();
  }
};

void Ingester::Count(const char* result) {
  metrics_->GetCounter("photosearch_ingest_events_total", "Events consumed, by outcome",
                       {{"result", result}})
      ->Increment();
}

std::unique_ptr<Ingester::Work> Ingester::Begin(std::vector<StreamEntry> entries) {
  auto work = std::make_unique<Work>();
  work->entries = std::move(entries);
  const TombstoneSet& set = tombstones_->set();
  for (size_t i = 0; i < work->entries.size(); ++i) {
    absl::StatusOr<ListingEvent> event = ParseListingEvent(work->entries[i]);
    if (!event.ok()) {
      work->dead.emplace_back(i, std::string(event.status().message()));
      continue;
    }
    if (event->op == ListingEvent::Op::kDelete) {
      work->deletes.push_back({event->event_id, event->item_id, event->deleted_at, event->event_ms});
      continue;
    }
    LiveListing listing{event->item_id, event->listed_at, event->event_ms, event->image_url,
                        event->event_id};
    const LiveShard::PutResult check = live_->Check(listing, &set);
    if (check == LiveShard::PutResult::kUnchanged || check == LiveShard::PutResult::kOlder ||
        check == LiveShard::PutResult::kDeleted) {
      // Delivered again, superseded or deleted: nothing to fetch or embed.
      Count(check == LiveShard::PutResult::kUnchanged ? "repeated"
            : check == LiveShard::PutResult::kOlder   ? "older"
                                                      : "deleted");
      work->acks.push_back(event->event_id);
      continue;
    }
    std::string taken;
    {
      std::lock_guard<std::mutex> lock(handover_mu_);
      taken = handover_.TakenOverBy(listing);
    }
    if (!taken.empty()) {  // a batch shard holds it already (a late redelivery)
      Count("in_batch_shard");
      work->acks.push_back(event->event_id);
      continue;
    }
    work->urls.push_back(listing.image_url);
    work->to_embed.push_back({i, std::move(listing)});
  }
  // Fetch on the fetcher's threads, which decode and queue the forward
  // passes; Finish collects. Meanwhile the consumer may begin the next batch.
  if (!work->to_embed.empty()) {
    work->batch = std::make_unique<PhotoBatch>(*embedder_, detector_, options_.detect,
                                               work->to_embed.size());
    Work* w = work.get();
    w->fetching = std::thread([this, w] {
      fetcher_->FetchAll(w->urls, [w](size_t i, absl::StatusOr<std::string> bytes) {
        w->batch->Add(i, std::move(bytes));
      });
      w->batch->Close();
    });
  }
  return work;
}

absl::Status Ingester::Finish(std::unique_ptr<Work> work) {
  const TombstoneSet& set = tombstones_->set();
  std::vector<std::string>& acks = work->acks;
  std::vector<std::pair<size_t, std::string>>& dead = work->dead;
  std::vector<LoggedPut> puts;
  absl::Status model_error;
  for (size_t i = 0; i < work->to_embed.size(); ++i) {
    EmbeddedPhoto photo = work->batch->Take(i);
    Work::ToEmbed& e = work->to_embed[i];
    if (photo.model_failed) {
      if (model_error.ok()) model_error = photo.status;
    } else if (!photo.status.ok()) {
      dead.emplace_back(e.entry, absl::StrCat("photo ", e.listing.image_url.substr(0, 256), ": ",
                                              photo.status.message()));
    } else {
      puts.push_back({std::move(e.listing), std::move(photo.vectors)});
    }
  }
  if (work->fetching.joinable()) work->fetching.join();
  // The model failed, not the events: ack none, read them again later.
  if (!model_error.ok()) return Annotate(model_error, "embedding");

  // Durable first; only then visible and acknowledged.
  RETURN_IF_ERROR(log_->Append(puts, work->deletes));
  const int64_t now_ms = NowUnixMillis();
  for (const LoggedPut& put : puts) {
    absl::StatusOr<LiveShard::PutResult> r = live_->Put(put.listing, put.vectors, &set);
    if (!r.ok()) return Annotate(r.status(), "adding to the live shard");
    embedded_->Increment();
    Count(*r == LiveShard::PutResult::kAdded      ? "added"
          : *r == LiveShard::PutResult::kReplaced ? "replaced"
                                                  : "repeated");
    freshness_->Observe(std::max<int64_t>(0, now_ms - put.listing.event_ms) / 1000.0);
    acks.push_back(put.listing.event_id);
  }
  for (const LoggedDelete& del : work->deletes) {
    live_->Delete(del.item_id, del.deleted_at);
    Count("delete");
    acks.push_back(del.event_id);
  }
  if (!work->deletes.empty()) {
    absl::Status published = PublishTombstones();  // retried with the next batch if it fails
    if (!published.ok()) spdlog::warn("ingest: {}; retrying", std::string(published.message()));
  }
  live_items_->Set(static_cast<double>(live_->items()));
  if (!redis_ || redis_->broken()) RETURN_IF_ERROR(Connect());

  // Bad events: to the dead-letter stream with their reason, then acked.
  const std::string dead_stream =
      options_.dead_letter.empty() ? options_.stream + ":dead" : options_.dead_letter;
  for (const auto& [i, reason] : dead) {
    const StreamEntry& entry = work->entries[i];
    std::vector<std::string> args = {"XADD", dead_stream, "MAXLEN", "~",
                                     std::to_string(kDeadLetterMaxLen), "*", "dead_event_id",
                                     entry.id, "dead_reason", reason, "dead_consumer",
                                     options_.consumer};
    for (const auto& [name, value] : entry.fields) {
      args.push_back(name);
      args.push_back(value);
    }
    RETURN_IF_ERROR(redis_->Command(args).status());
    spdlog::warn("ingest: event {} to {}: {}", entry.id, dead_stream, reason);
    dead_letters_->Increment();
    Count("dead_letter");
    acks.push_back(entry.id);
  }
  for (size_t from = 0; from < acks.size(); from += kAcksPerCommand) {
    std::vector<std::string> args = {"XACK", options_.stream, options_.group};
    for (size_t i = from; i < std::min(acks.size(), from + kAcksPerCommand); ++i) {
      args.push_back(acks[i]);
    }
    RETURN_IF_ERROR(redis_->Command(args).status());
  }
  std::lock_guard<std::mutex> lock(status_mu_);
  status_.embedded += static_cast<int64_t>(puts.size());
  status_.acked += static_cast<int64_t>(acks.size());
  status_.dead_letters += static_cast<int64_t>(dead.size());
  return absl::OkStatus();
}

absl::Status Ingester::Process(std::vector<StreamEntry> entries) {
  if (entries.empty()) return absl::OkStatus();
  return Finish(Begin(std::move(entries)));
}

absl::Status Ingester::PublishTombstones() {
  std::lock_guard<std::mutex> lock(publish_mu_);  // the same deletes are never written twice
  std::vector<LoggedDelete> pending = log_->pending_deletes();
  size_t published = 0;
  while (published < pending.size()) {
    std::vector<Tombstone> batch;
    for (size_t i = published; i < pending.size() && batch.size() < kMaxTombstoneBatch; ++i) {
      batch.push_back({pending[i].item_id, pending[i].deleted_at});
    }
    absl::StatusOr<int64_t> seq = tombstone_writer_.Append(batch);
    if (!seq.ok()) break;
    published += batch.size();
    if (++appended_batches_ % options_.compact_tombstones_every == 0) {
      // Let new readers start from a snapshot instead of batch 1.
      (void)tombstones_->Refresh();
      absl::Status compacted =
          tombstone_writer_.Compact(tombstones_->set(), tombstones_->next_batch() - 1);
      if (!compacted.ok()) spdlog::warn("tombstones: {}", std::string(compacted.message()));
    }
  }
  RETURN_IF_ERROR(log_->MarkPublished(published));
  if (published < pending.size()) {
    return absl::UnavailableError(absl::StrCat(pending.size() - published,
                                               " deletes not yet written to the repository ",
                                               repository_->url()));
  }
  return absl::OkStatus();
}

void Ingester::RunHandover(const std::atomic<bool>& stop) {
  while (!stop.load()) {
    HandoverOnce();
    // Deletes the repository did not take at once are retried here too.
    if (!log_->pending_deletes().empty()) (void)PublishTombstones();
    Sleep(options_.handover_interval_ms, stop);
  }
}

void Ingester::HandoverOnce() {
  std::lock_guard<std::mutex> lock(handover_mu_);
  if (directory_) {
    DirectoryView view = directory_->View();
    if (view.stale) return;  // an old view may name shards that are gone
    handover_.SetServed(view.registrations);
  } else if (absl::Status read = handover_.SetServedFromRepository(); !read.ok()) {
    return;
  }
  const int64_t now = NowUnixMillis();
  std::vector<LiveListing> listings = live_->Listings();
  std::map<std::string, int64_t> since;
  std::map<std::string, std::string> drop;  // listing key -> the shard that took it
  std::set<std::string> hours;  // hours with listings that stay
  for (const LiveListing& l : listings) {
    const std::string key = ListingKey(l);
    std::string by = handover_.TakenOverBy(l);
    if (by.empty()) {
      hours.insert(IngestLog::HourOf(l.listed_at));
      continue;
    }
    auto seen = taken_since_.find(key);
    const int64_t first = seen == taken_since_.end() ? now : seen->second;
    since[key] = first;
    if (now - first >= options_.handover_delay_ms) {
      drop[key] = by;
    } else {
      hours.insert(IngestLog::HourOf(l.listed_at));
    }
  }
  taken_since_ = std::move(since);  // forgets listings no longer held or no longer taken
  std::map<std::string, std::pair<int64_t, std::string>> by_hour;  // hour -> count, a shard
  if (!drop.empty()) {
    std::vector<LiveListing> dropped = live_->Drop([&](const LiveListing& l) {
      return drop.count(ListingKey(l)) > 0;
    });
    for (const LiveListing& l : dropped) {
      auto& [count, shard] = by_hour[IngestLog::HourOf(l.listed_at)];
      ++count;
      shard = drop[ListingKey(l)];
      taken_since_.erase(ListingKey(l));
    }
    handed_over_->Increment(static_cast<double>(dropped.size()));
    std::lock_guard<std::mutex> status_lock(status_mu_);
    status_.handed_over += static_cast<int64_t>(dropped.size());
  }
  // The log keeps only what the live shard holds: hours handed over, and
  // hours whose listings were all deleted, are rewritten (or removed).
  for (const std::string& hour : log_->hours()) {
    if (!by_hour.count(hour) && hours.count(hour)) continue;
    absl::Status kept = log_->Retain(hour, [this](const LoggedPut& put) {
      return live_->Check(put.listing, nullptr) == LiveShard::PutResult::kUnchanged;
    });
    if (!kept.ok()) spdlog::warn("ingest log: {}", std::string(kept.message()));
  }
  for (const auto& [hour, what] : by_hour) {
    spdlog::info("handover: {} listings of hour {} taken over by {}", what.first, hour,
                 what.second);
  }
  live_items_->Set(static_cast<double>(live_->items()));
}

IngestStatus Ingester::Status() const {
  IngestStatus out;
  {
    std::lock_guard<std::mutex> lock(status_mu_);
    out = status_;
  }
  out.live_items = static_cast<int64_t>(live_->items());
  out.live_vectors = live_->vectors();
  out.live_bytes = live_->bytes();
  out.log_bytes = log_->bytes();
  out.pending_tombstones = log_->pending_deletes().size();
  for (const LiveListing& l : live_->Listings()) ++out.hours[IngestLog::HourOf(l.listed_at)];
  return out;
}

}  // namespace photosearch
