#include "gateway/fanout.h"

#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>

#include "absl/strings/str_cat.h"
#include "base/stopwatch.h"

namespace photosearch {
namespace {

// Shared by FanOut and the callbacks of its calls, which may outlive it.
struct FanOutState {
  ShardQuery query;
  std::vector<ShardTarget> targets;
  FanOutObserver* observer = nullptr;  // REQUIRES: outlives the deadline only

  std::mutex mu;
  std::condition_variable cv;
  bool returned = false;  // FanOut gave up waiting: ignore what still arrives
  int pending = 0;        // calls not answered yet
  std::vector<std::optional<ShardHits>> hits;  // by target
  std::vector<std::vector<const Replica*>> tried;
  std::vector<std::string> errors;  // by target
  std::vector<std::function<void()>> cancels;
};

using Group = std::pair<std::shared_ptr<Replica>, std::vector<int>>;  // replica, target indices

// The replica of target `t` with the fewest calls in flight among those not
// tried yet; null if none is left.
std::shared_ptr<Replica> ChooseReplica(const FanOutState& s, int t) {
  std::shared_ptr<Replica> best;
  for (const auto& r : s.targets[t].replicas) {
    bool tried = false;
    for (const Replica* done : s.tried[t]) tried |= done == r.get();
    if (tried) continue;
    if (!best || r->in_flight.load() < best->in_flight.load()) best = r;
  }
  return best;
}

void Launch(const std::shared_ptr<FanOutState>& s, std::vector<Group> groups);

void OnDone(const std::shared_ptr<FanOutState>& s, const std::shared_ptr<Replica>& replica,
            const std::vector<int>& targets, double seconds,
            absl::StatusOr<std::vector<ShardHits>> answer) {
  replica->in_flight.fetch_sub(1);
  std::vector<Group> retries;
  {
    std::lock_guard<std::mutex> lock(s->mu);
    if (s->returned) return;
    if (s->observer) s->observer->OnCall(replica->address(), seconds, answer.ok());
    std::vector<int> failed;
    std::string why;
    if (answer.ok()) {
      for (int t : targets) {
        bool found = false;
        for (ShardHits& h : *answer) {
          if (h.id == s->targets[t].id) {
            s->hits[t] = std::move(h);
            found = true;
            break;
          }
        }
        if (!found) failed.push_back(t);
      }
      why = absl::StrCat(replica->address(), " did not answer for the shard");
    } else {
      failed = targets;
      why = absl::StrCat(replica->address(), ": ", answer.status().message());
    }
    const bool time_left = std::chrono::steady_clock::now() < s->query.deadline;
    std::map<std::shared_ptr<Replica>, std::vector<int>> regroup;
    for (int t : failed) {
      s->errors[t] = why;
      if (!time_left || s->tried[t].size() >= 2) continue;  // one retry per shard
      if (auto other = ChooseReplica(*s, t)) {
        s->tried[t].push_back(other.get());
        regroup[other].push_back(t);
      }
    }
    for (auto& [r, ts] : regroup) {
      if (s->observer) s->observer->OnRetry(r->address());
      retries.emplace_back(r, std::move(ts));
    }
    s->pending += static_cast<int>(retries.size());
    --s->pending;
  }
  s->cv.notify_all();
  if (!retries.empty()) Launch(s, std::move(retries));
}

void Launch(const std::shared_ptr<FanOutState>& s, std::vector<Group> groups) {
  for (auto& [replica, targets] : groups) {
    std::vector<ShardId> ids;
    for (int t : targets) ids.push_back(s->targets[t].id);
    replica->in_flight.fetch_add(1);
    Stopwatch watch;
    auto cancel = replica->Start(
        s->query, ids,
        [s, replica, targets = targets, watch](absl::StatusOr<std::vector<ShardHits>> answer) {
          OnDone(s, replica, targets, watch.ElapsedSeconds(), std::move(answer));
        });
    if (cancel) {
      std::lock_guard<std::mutex> lock(s->mu);
      s->cancels.push_back(std::move(cancel));
    }
  }
}

}  // namespace

ShardAnswer FanOut(const std::vector<ShardTarget>& targets, const ShardQuery& query,
                   FanOutObserver* observer) {
  auto s = std::make_shared<FanOutState>();
  s->query = query;
  s->targets = targets;
  s->observer = observer;
  const size_t n = targets.size();
  s->hits.resize(n);
  s->tried.resize(n);
  s->errors.resize(n);
  std::vector<Group> groups;
  {
    std::lock_guard<std::mutex> lock(s->mu);
    std::map<std::shared_ptr<Replica>, std::vector<int>> by_replica;
    for (size_t t = 0; t < n; ++t) {
      auto replica = ChooseReplica(*s, static_cast<int>(t));
      if (!replica) {
        s->errors[t] = "no replica";
        continue;
      }
      s->tried[t].push_back(replica.get());
      by_replica[replica].push_back(static_cast<int>(t));
    }
    for (auto& [r, ts] : by_replica) groups.emplace_back(r, std::move(ts));
    s->pending = static_cast<int>(groups.size());
  }
  Launch(s, std::move(groups));

  ShardAnswer answer;
  std::vector<std::function<void()>> cancels;
  {
    std::unique_lock<std::mutex> lock(s->mu);
    s->cv.wait_until(lock, query.deadline, [&] { return s->pending == 0; });
    s->returned = true;
    if (s->pending > 0) cancels.swap(s->cancels);
    const int nq = query.nq();
    std::vector<std::vector<std::vector<SearchResult>>> per_query(nq);
    for (size_t t = 0; t < n; ++t) {
      if (!s->hits[t]) {
        answer.missing.push_back(targets[t].id);
        if (answer.first_error.empty()) {
          answer.first_error = s->errors[t].empty()
                                   ? absl::StrCat(targets[t].id.Name(), ": no answer in time")
                                   : absl::StrCat(targets[t].id.Name(), ": ", s->errors[t]);
        }
        continue;
      }
      ++answer.answered;
      for (int q = 0; q < nq && q < static_cast<int>(s->hits[t]->per_query.size()); ++q) {
        per_query[q].push_back(std::move(s->hits[t]->per_query[q]));
      }
    }
    answer.per_query.reserve(nq);
    for (auto& lists : per_query) answer.per_query.push_back(MergeTopK(std::move(lists), query.k));
  }
  for (auto& cancel : cancels) cancel();  // outside the lock: a cancel may call back
  return answer;
}

}  // namespace photosearch
