#include "pipeline/dag.h"

#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"
#include "base/stopwatch.h"

namespace photosearch {

absl::Status CheckDag(const std::vector<DagStep>& steps) {
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < steps.size(); ++i) {
    if (steps[i].name.empty()) return absl::InvalidArgumentError("a step has no name");
    if (!index.emplace(steps[i].name, i).second) {
      return absl::InvalidArgumentError(absl::StrCat("two steps are named '", steps[i].name, "'"));
    }
  }
  for (const DagStep& step : steps) {
    for (const std::string& need : step.needs) {
      if (!index.count(need)) {
        return absl::InvalidArgumentError(
            absl::StrCat("step '", step.name, "' needs '", need, "', which is not a step"));
      }
    }
  }
  // Depth-first search; a grey node met again closes a cycle.
  enum Color { kWhite, kGrey, kBlack };
  std::vector<Color> color(steps.size(), kWhite);
  std::vector<std::string> path;
  std::function<absl::Status(size_t)> visit = [&](size_t i) -> absl::Status {
    color[i] = kGrey;
    path.push_back(steps[i].name);
    for (const std::string& need : steps[i].needs) {
      const size_t j = index[need];
      if (color[j] == kGrey) {
        path.push_back(need);
        return absl::InvalidArgumentError(
            absl::StrCat("the steps form a cycle: ", absl::StrJoin(path, " -> ")));
      }
      if (color[j] == kWhite) RETURN_IF_ERROR(visit(j));
    }
    path.pop_back();
    color[i] = kBlack;
    return absl::OkStatus();
  };
  for (size_t i = 0; i < steps.size(); ++i) {
    if (color[i] == kWhite) RETURN_IF_ERROR(visit(i));
  }
  return absl::OkStatus();
}

DagRun RunDag(const std::vector<DagStep>& steps, const std::atomic<bool>* cancelled) {
  DagRun run;
  const size_t n = steps.size();
  run.steps.resize(n);
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < n; ++i) {
    index[steps[i].name] = i;
    run.steps[i].name = steps[i].name;
    run.steps[i].state = "not run";
  }
  Stopwatch clock;
  std::mutex mu;
  std::condition_variable changed;
  // Guarded by mu.
  std::vector<int> state(n, 0);  // 0 waiting, 1 running, 2 succeeded, 3 ended otherwise
  size_t running = 0;
  bool stop = false;
  std::vector<std::thread> threads;

  auto ready = [&](size_t i) {
    for (const std::string& need : steps[i].needs) {
      if (state[index[need]] != 2) return false;
    }
    return true;
  };
  std::unique_lock<std::mutex> lock(mu);
  while (true) {
    if (cancelled && cancelled->load()) stop = true;
    if (!stop) {
      for (size_t i = 0; i < n; ++i) {
        if (state[i] != 0 || !ready(i)) continue;
        state[i] = 1;
        ++running;
        run.steps[i].started_seconds = clock.ElapsedSeconds();
        threads.emplace_back([&, i] {
          Stopwatch own;
          absl::Status status;
          if (steps[i].run) status = steps[i].run();
          std::lock_guard<std::mutex> guard(mu);
          DagStepResult& result = run.steps[i];
          result.seconds = own.ElapsedSeconds();
          result.status = status;
          result.state = status.ok()                 ? "succeeded"
                         : absl::IsCancelled(status) ? "cancelled"
                                                     : "failed";
          state[i] = status.ok() ? 2 : 3;
          if (!status.ok()) {
            stop = true;
            if (run.status.ok()) run.status = Annotate(status, steps[i].name);
          }
          --running;
          changed.notify_all();
        });
      }
    }
    if (running == 0) break;
    // Wake now and then to notice `cancelled`, which nobody notifies.
    changed.wait_for(lock, std::chrono::milliseconds(100));
  }
  lock.unlock();
  for (std::thread& t : threads) t.join();
  if (run.status.ok() && cancelled && cancelled->load()) {
    for (const DagStepResult& r : run.steps) {
      if (r.state == "not run") {
        run.status = absl::CancelledError("stopped by a signal before step '" + r.name + "'");
        break;
      }
    }
  }
  return run;
}

}  // namespace photosearch
