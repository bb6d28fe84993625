// A small executor for a DAG of named steps: the shape of every pipeline run.
//
// A step starts as soon as every step it needs has succeeded, on a thread of
// its own, so independent steps run in parallel. When a step fails, or
// `cancelled` becomes true, no further step starts; the running ones finish;
// the rest are recorded as "not run".
//
// Thread-safety: RunDag may be called concurrently; a step's `run` is called
// once, from its own thread, after every step it needs has returned (their
// writes are visible to it).
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace photosearch {

struct DagStep {
  std::string name;
  std::vector<std::string> needs;  // names of other steps
  std::function<absl::Status()> run;
};

struct DagStepResult {
  std::string name;
  std::string state;  // succeeded | failed | cancelled | not run
  absl::Status status;
  double started_seconds = 0;  // since the run began
  double seconds = 0;          // the step's own time
};

struct DagRun {
  absl::Status status;               // the first failure ("step: message"), else OK
  std::vector<DagStepResult> steps;  // in the order given
};

// OK when names are unique and non-empty, every need names another step, and
// there is no cycle (the error names one).
absl::Status CheckDag(const std::vector<DagStep>& steps);

// Runs the steps (see above). A step whose status is kCancelled is recorded as
// "cancelled". REQUIRES: CheckDag(steps).ok().
DagRun RunDag(const std::vector<DagStep>& steps, const std::atomic<bool>* cancelled = nullptr);

}  // namespace photosearch
