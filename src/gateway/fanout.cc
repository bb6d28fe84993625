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
  FanOutObserver* observer = nullptr;  // used only until FanOut returns

  std::mutex mu;
  std::condition_variable cv;
  bool returned = false;  // FanOut stopped waiting: ignore what still arrives
  int answered = 0;       // targets with hits
  std::vector<std::optional<ShardHits>> hits;  // by target
  std::vector<std::vector<const Replica*>> tried;
  std::vector<std::string> errors;  // by target
  std::vector<std::function<void()>> cancels;
  int next_call = 0;
  std::map<int, std::pair<std::string, Stopwatch>> running;  // call -> replica, since

  bool Finished() const { return answered == static_cast<int>(targets.size()) || running.empty(); }
};

using Group = std::pair<std::shared_ptr<Replica>, std::vector<int>>;  // replica, target indices

// The replica of target `t` with the fewest calls in flight among those not
// tried yet (ties rotate, so that sequential queries spread); null if none.
std::shared_ptr<Replica> ChooseReplica(const FanOutState& s, int t) {
  static std::atomic<unsigned> rotation{0};
  std::vector<std::shared_ptr<Replica>> best;
  int fewest = 0;
  for (const auto& r : s.targets[t].replicas) {
    bool tried = false;
    for (const Replica* done : s.tried[t]) tried |= done == r.get();
    if (tried) continue;
    const int load = r->in_flight.load();
    if (best.empty() || load < fewest) {
      best.clear();
      fewest = load;
    }
    if (load == fewest) best.push_back(r);
  }
  if (best.empty()) return nullptr;
  return best[rotation.fetch_add(1) % best.size()];
}

// Targets in `candidates` without hits, on another replica each (grouped by
// replica); marks the replicas tried. REQUIRES: s.mu held.
std::vector<Group> Reroute(FanOutState& s, const std::vector<int>& candidates) {
  std::map<std::shared_ptr<Replica>, std::vector<int>> regroup;
  for (int t : candidates) {
    if (s.hits[t] || s.tried[t].size() >= 2) continue;  // answered, or retried once already
    if (auto other = ChooseReplica(s, t)) {
      s.tried[t].push_back(other.get());
      regroup[other].push_back(t);
    }
  }
  std::vector<Group> groups;
  for (auto& [r, ts] : regroup) {
    if (s.observer) s.observer->OnRetry(r->address());
    groups.emplace_back(r, std::move(ts));
  }
  return groups;
}

void Launch(const std::shared_ptr<FanOutState>& s, std::vector<Group> groups);

void OnDone(const std::shared_ptr<FanOutState>& s, const std::shared_ptr<Replica>& replica,
            int call, const std::vector<int>& targets,
            absl::StatusOr<std::vector<ShardHits>> answer) {
  replica->in_flight.fetch_sub(1);
  std::vector<Group> retries;
  {
    std::lock_guard<std::mutex> lock(s->mu);
    if (s->returned) return;
    auto running = s->running.find(call);
    if (s->observer) {
      s->observer->OnCall(replica->address(), running->second.second.ElapsedSeconds(), answer.ok());
    }
    s->running.erase(running);
    std::vector<int> failed;
    std::string why;
    if (answer.ok()) {
      for (int t : targets) {
        bool found = false;
        for (ShardHits& h : *answer) {
          if (h.id == s->targets[t].id) {
            if (!s->hits[t]) {  // a hedged call may have answered first
              s->hits[t] = std::move(h);
              ++s->answered;
            }
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
    for (int t : failed) {
      if (!s->hits[t]) s->errors[t] = why;
    }
    if (std::chrono::steady_clock::now() < s->query.deadline) retries = Reroute(*s, failed);
  }
  s->cv.notify_all();
  if (!retries.empty()) Launch(s, std::move(retries));
}

void Launch(const std::shared_ptr<FanOutState>& s, std::vector<Group> groups) {
  for (auto& [replica, targets] : groups) {
    std::vector<ShardId> ids;
    for (int t : targets) ids.push_back(s->targets[t].id);
    int call = 0;
    {
      std::lock_guard<std::mutex> lock(s->mu);
      call = s->next_call++;
      s->running.emplace(call, std::make_pair(replica->address(), Stopwatch()));
    }
    replica->in_flight.fetch_add(1);
    auto cancel = replica->Start(
        s->query, ids,
        [s, replica, call, targets = targets](absl::StatusOr<std::vector<ShardHits>> answer) {
          OnDone(s, replica, call, targets, std::move(answer));
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
  }
  Launch(s, std::move(groups));

  // Halfway to the deadline, shards still waiting are asked of another
  // replica too (a hung server fails nothing: it just does not answer), and
  // the first answer wins.
  const auto start = std::chrono::steady_clock::now();
  const auto hedge_at = start + (query.deadline - start) / 2;
  ShardAnswer answer;
  std::vector<std::function<void()>> cancels;
  {
    std::unique_lock<std::mutex> lock(s->mu);
    if (!s->cv.wait_until(lock, hedge_at, [&] { return s->Finished(); })) {
      std::vector<int> waiting;
      for (size_t t = 0; t < n; ++t) waiting.push_back(static_cast<int>(t));
      std::vector<Group> hedges = Reroute(*s, waiting);
      if (!hedges.empty()) {
        lock.unlock();
        Launch(s, std::move(hedges));
        lock.lock();
      }
    }
    s->cv.wait_until(lock, query.deadline, [&] { return s->Finished(); });
    s->returned = true;
    // Calls cut by the deadline count as failed calls of their replicas.
    if (s->observer) {
      for (const auto& [call, running] : s->running) {
        s->observer->OnCall(running.first, running.second.ElapsedSeconds(), false);
      }
    }
    cancels.swap(s->cancels);
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
