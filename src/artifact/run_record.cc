#include "artifact/run_record.h"

#include <cstdint>

#include "absl/strings/str_cat.h"
#include "base/clock.h"
#include "base/json_fields.h"
#include "base/status_macros.h"
#include "nlohmann/json.hpp"

namespace photosearch {
namespace {

using json = nlohmann::json;

constexpr char kRunsPrefix[] = "runs/";
constexpr char kRunSuffix[] = ".json";
constexpr uint64_t kMaxRecordBytes = 64 << 20;

// Typed reads of a record: a missing field takes the default, a field of
// the wrong type is an error naming it.
class Reader {
 public:
  explicit Reader(const json& object, std::string where = "")
      : j_(object), where_(std::move(where)) {}

  void Str(const char* key, std::string* out) {
    const json* v = Find(key);
    if (!v) return;
    if (!v->is_string()) return Bad(key, "a string");
    *out = v->get<std::string>();
  }
  void Bool(const char* key, bool* out) {
    const json* v = Find(key);
    if (!v) return;
    if (!v->is_boolean()) return Bad(key, "true or false");
    *out = v->get<bool>();
  }
  void Int(const char* key, int64_t* out) {
    absl::StatusOr<int64_t> v = json_fields::Int(j_, key, *out, 0, INT64_MAX, where_);
    if (!v.ok()) return Fail(v.status());
    *out = *v;
  }
  void Number(const char* key, double* out) {
    absl::StatusOr<double> v = json_fields::Number(j_, key, *out, 0, 1e12, where_);
    if (!v.ok()) return Fail(v.status());
    *out = *v;
  }
  // The object or array at `key`, or null when absent or of the wrong type
  // (an error then).
  const json* Object(const char* key) { return Typed(key, json::value_t::object, "an object"); }
  const json* Array(const char* key) { return Typed(key, json::value_t::array, "an array"); }

  absl::Status status() const { return status_; }
  void Fail(const absl::Status& s) {
    if (status_.ok()) status_ = s;
  }

 private:
  const json* Find(const char* key) {
    if (!j_.is_object()) return nullptr;
    auto it = j_.find(key);
    return it == j_.end() ? nullptr : &*it;
  }
  const json* Typed(const char* key, json::value_t type, const char* what) {
    const json* v = Find(key);
    if (!v) return nullptr;
    if (v->type() != type) {
      Bad(key, what);
      return nullptr;
    }
    return v;
  }
  void Bad(const char* key, const char* what) {
    Fail(absl::InvalidArgumentError(absl::StrCat(where_, key, " must be ", what)));
  }

  const json& j_;
  const std::string where_;
  absl::Status status_;
};

}  // namespace

std::string RunRecordKey(const std::string& run_id) {
  return absl::StrCat(kRunsPrefix, run_id, kRunSuffix);
}

absl::Status ValidateRunId(std::string_view run_id) {
  bool ok = !run_id.empty() && run_id.size() <= 200 && run_id != "." && run_id != "..";
  for (char c : run_id) {
    ok &= (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
          c == '_' || c == '-';
  }
  if (!ok) {
    return absl::InvalidArgumentError(
        "a run id is 1..200 letters, digits, '.', '_' or '-' (see `pipeline runs`)");
  }
  return absl::OkStatus();
}

std::string RunRecordJson(const PipelineRun& run) {
  json j;
  j["run_id"] = run.run_id;
  j["status"] = run.status;
  if (!run.error.empty()) j["error"] = run.error;
  j["window"] = run.window;
  j["partition"] = run.partition;
  j["model"] = run.model;
  j["catalog"] = run.catalog;
  j["from_images"] = run.from_images;
  j["mode"] = run.mode;
  j["config"] = run.config;
  j["config_sha256"] = run.config_sha256;
  j["finished_at"] = run.finished_at.empty() ? NowRfc3339() : run.finished_at;
  j["counts"] = {{"catalog_items", run.catalog_items}, {"embedded", run.embedded},
                 {"reused_features", run.reused_features}, {"from_rollup", run.from_rollup},
                 {"tombstoned", run.tombstoned}, {"failed", run.failure_count}};
  j["inputs"] = run.inputs;
  j["fetch"] = {{"downloads", run.downloads},
                {"cache_hits", run.cache_hits},
                {"retries", run.retries},
                {"bytes", run.bytes_downloaded}};
  j["outputs"] = {{"features_version", run.features_version},
                  {"features_reused", run.features_reused},
                  {"shard_version", run.shard_version},
                  {"shard_reused", run.shard_reused}};
  json f = json::array();
  for (const auto& [id, reason] : run.failures) f.push_back({{"item_id", id}, {"reason", reason}});
  j["failures"] = f;
  json s = json::array();
  for (const PipelineStepRecord& step : run.steps) {
    json one = {{"step", step.name},
                {"uses", step.uses},
                {"state", step.state},
                {"started_seconds", step.started_seconds},
                {"seconds", step.seconds}};
    if (!step.error.empty()) one["error"] = step.error;
    if (!step.note.empty()) one["note"] = step.note;
    s.push_back(one);
  }
  j["steps"] = s;
  return DumpJson(j, 2) + "\n";
}

absl::StatusOr<PipelineRun> ParseRunRecord(std::string_view text) {
  absl::StatusOr<json> parsed = json_fields::Parse(text);
  if (!parsed.ok()) return absl::DataLossError(absl::StrCat("run record: ", parsed.status().message()));
  if (!parsed->is_object()) return absl::DataLossError("run record: not a JSON object");
  PipelineRun run;
  Reader r(*parsed);
  r.Str("run_id", &run.run_id);
  r.Str("status", &run.status);
  r.Str("error", &run.error);
  r.Str("window", &run.window);
  r.Str("partition", &run.partition);
  r.Str("model", &run.model);
  r.Str("catalog", &run.catalog);
  r.Bool("from_images", &run.from_images);
  r.Str("mode", &run.mode);
  r.Str("config", &run.config);
  r.Str("config_sha256", &run.config_sha256);
  r.Str("finished_at", &run.finished_at);
  if (const json* counts = r.Object("counts")) {
    Reader c(*counts, "counts.");
    c.Int("catalog_items", &run.catalog_items);
    c.Int("embedded", &run.embedded);
    c.Int("reused_features", &run.reused_features);
    c.Int("from_rollup", &run.from_rollup);
    c.Int("tombstoned", &run.tombstoned);
    c.Int("failed", &run.failure_count);
    r.Fail(c.status());
  }
  if (const json* inputs = r.Object("inputs")) {
    for (const auto& [key, value] : inputs->items()) {
      if (!value.is_string()) {
        r.Fail(absl::InvalidArgumentError("inputs." + key.substr(0, 64) + " must be a string"));
        break;
      }
      run.inputs[key] = value.get<std::string>();
    }
  }
  if (const json* fetch = r.Object("fetch")) {
    Reader f(*fetch, "fetch.");
    f.Int("downloads", &run.downloads);
    f.Int("cache_hits", &run.cache_hits);
    f.Int("retries", &run.retries);
    f.Int("bytes", &run.bytes_downloaded);
    r.Fail(f.status());
  }
  if (const json* outputs = r.Object("outputs")) {
    Reader o(*outputs, "outputs.");
    o.Int("features_version", &run.features_version);
    o.Bool("features_reused", &run.features_reused);
    o.Int("shard_version", &run.shard_version);
    o.Bool("shard_reused", &run.shard_reused);
    r.Fail(o.status());
  }
  if (const json* failures = r.Array("failures")) {
    for (const json& one : *failures) {
      if (!one.is_object()) {
        r.Fail(absl::InvalidArgumentError("failures[] must hold objects"));
        break;
      }
      Reader f(one, "failures[].");
      std::string id, reason;
      f.Str("item_id", &id);
      f.Str("reason", &reason);
      r.Fail(f.status());
      run.failures.emplace_back(std::move(id), std::move(reason));
    }
  }
  if (const json* steps = r.Array("steps")) {
    for (const json& one : *steps) {
      if (!one.is_object()) {
        r.Fail(absl::InvalidArgumentError("steps[] must hold objects"));
        break;
      }
      Reader s(one, "steps[].");
      PipelineStepRecord step;
      s.Str("step", &step.name);
      s.Str("uses", &step.uses);
      s.Str("state", &step.state);
      s.Str("error", &step.error);
      s.Str("note", &step.note);
      s.Number("started_seconds", &step.started_seconds);
      s.Number("seconds", &step.seconds);
      r.Fail(s.status());
      run.steps.push_back(std::move(step));
    }
  }
  if (!r.status().ok()) {
    return absl::DataLossError(absl::StrCat("run record: ", r.status().message()));
  }
  return run;
}

absl::Status WriteRunRecord(Store& store, const PipelineRun& run) {
  RETURN_IF_ERROR(ValidateRunId(run.run_id));
  return store.Put(RunRecordKey(run.run_id), RunRecordJson(run));
}

absl::StatusOr<PipelineRun> ReadRunRecord(Store& store, const std::string& run_id) {
  RETURN_IF_ERROR(ValidateRunId(run_id));
  ASSIGN_OR_RETURN(std::string text, store.Get(RunRecordKey(run_id), kMaxRecordBytes));
  absl::StatusOr<PipelineRun> run = ParseRunRecord(text);
  if (!run.ok()) return Annotate(run.status(), RunRecordKey(run_id));
  return run;
}

absl::StatusOr<std::vector<std::string>> ListRunIds(Store& store) {
  ASSIGN_OR_RETURN(std::vector<std::string> keys, store.List(kRunsPrefix));
  std::vector<std::string> ids;
  for (const std::string& key : keys) {
    std::string_view id(key);
    id.remove_prefix(sizeof(kRunsPrefix) - 1);
    const std::string_view suffix(kRunSuffix);
    if (id.size() < suffix.size() || id.substr(id.size() - suffix.size()) != suffix) continue;
    id.remove_suffix(sizeof(kRunSuffix) - 1);
    if (ValidateRunId(id).ok()) ids.emplace_back(id);
  }
  return ids;
}

}  // namespace photosearch
