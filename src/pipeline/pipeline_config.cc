#include "pipeline/pipeline_config.h"

#include <cerrno>
#include <cstdlib>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/files.h"
#include "base/json_fields.h"
#include "base/sha256.h"
#include "base/status_macros.h"
#include "base/utf8.h"
#include "nlohmann/json.hpp"
#include "pipeline/dag.h"
#include "yaml-cpp/yaml.h"

namespace photosearch {

const char kDefaultPipelineYaml[] =
    R"(# The default pipeline (photosearch pipeline run without --config).
steps:
  - name: catalog          # the window's listings of this partition
    uses: catalog
    only: images
  - name: model            # loads while the catalog is read
    uses: model
    only: images
  - name: fetch            # downloads stream into embed through the cache
    uses: fetch
    needs: [catalog]
    only: images
  - name: embed
    uses: embed
    needs: [fetch, model]
    only: images
  - name: rollup           # days from hours, months from days
    uses: rollup
    only: rollup
  - name: publish-features # uploads while the shard builds
    uses: publish-features
    needs: [embed, rollup]
  - name: build
    uses: build
    needs: [embed, rollup]
  - name: publish-shard
    uses: publish-shard
    needs: [build, publish-features]
)";

namespace {

constexpr size_t kMaxSteps = 64;

struct Kind {
  const char* uses;
  const char* output;
  std::vector<std::string> inputs;
  std::vector<std::string> params;
};

const std::vector<Kind>& Kinds() {
  static const auto* kinds = new std::vector<Kind>{
      {"catalog", "catalog", {}, {}},
      {"model", "model", {}, {}},
      {"fetch",
       "images",
       {"catalog"},
       {"concurrency", "attempts", "timeout_seconds", "max_mb", "cache_dir", "cache_gb",
        "file_root"}},
      {"embed", "vectors", {"images", "model"}, {"max_failed_fraction", "detect", "detector"}},
      {"rollup", "vectors", {}, {}},
      {"publish-features", "features", {"vectors"}, {}},
      {"build", "index", {"vectors"}, {"index"}},
      {"publish-shard", "shard", {"index", "features"}, {}},
  };
  return *kinds;
}

const Kind* FindKind(const std::string& uses) {
  for (const Kind& k : Kinds()) {
    if (uses == k.uses) return &k;
  }
  return nullptr;
}

std::string KindNames() {
  std::vector<std::string> names;
  for (const Kind& k : Kinds()) names.push_back(k.uses);
  return absl::StrJoin(names, ", ");
}

absl::Status Error(const std::string& origin, const YAML::Node& node, const std::string& what) {
  const YAML::Mark mark = node.Mark();
  if (mark.line >= 0) {
    return absl::InvalidArgumentError(absl::StrCat(origin, ":", mark.line + 1, ": ", what));
  }
  return absl::InvalidArgumentError(absl::StrCat(origin, ": ", what));
}

absl::StatusOr<std::string> Scalar(const std::string& origin, const YAML::Node& node,
                                   const std::string& what) {
  if (!node.IsScalar()) return Error(origin, node, what + " must be a single value");
  return node.Scalar();
}

absl::StatusOr<StepConfig> ParseStep(const std::string& origin, const YAML::Node& node) {
  if (!node.IsMap()) return Error(origin, node, "a step must be a map with name and uses");
  StepConfig step;
  for (const auto& entry : node) {
    const std::string key = entry.first.Scalar();
    const YAML::Node& value = entry.second;
    if (key == "name") {
      ASSIGN_OR_RETURN(step.name, Scalar(origin, value, "name"));
    } else if (key == "uses") {
      ASSIGN_OR_RETURN(step.uses, Scalar(origin, value, "uses"));
    } else if (key == "only") {
      ASSIGN_OR_RETURN(step.only, Scalar(origin, value, "only"));
    } else if (key == "needs") {
      if (value.IsScalar()) {
        step.needs.push_back(value.Scalar());
      } else if (value.IsSequence()) {
        for (const auto& need : value) {
          ASSIGN_OR_RETURN(std::string name, Scalar(origin, need, "a need"));
          step.needs.push_back(name);
        }
      } else if (!value.IsNull()) {
        return Error(origin, value, "needs must be a step name or a list of them");
      }
    } else if (key == "with") {
      if (value.IsNull()) continue;
      if (!value.IsMap()) return Error(origin, value, "with must be a map of parameters");
      for (const auto& param : value) {
        ASSIGN_OR_RETURN(step.with[param.first.Scalar()],
                         Scalar(origin, param.second, "parameter " + param.first.Scalar()));
      }
    } else {
      return Error(origin, entry.first,
                   absl::StrCat("unknown step key '", key,
                                "' (known: name, uses, needs, with, "
                                "only)"));
    }
  }
  if (step.name.empty()) return Error(origin, node, "a step has no name");
  for (char c : step.name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')) {
      return Error(origin, node,
                   absl::StrCat("step name '", step.name, "': use letters, digits, - and _"));
    }
  }
  const Kind* kind = FindKind(step.uses);
  if (!kind) {
    return Error(origin, node,
                 absl::StrCat("step '", step.name, "' uses '", step.uses,
                              "', which is not a step kind (kinds: ", KindNames(), ")"));
  }
  if (!step.only.empty() && step.only != "images" && step.only != "rollup") {
    return Error(origin, node,
                 absl::StrCat("step '", step.name, "': only must be images or rollup, not '",
                              step.only, "'"));
  }
  for (const auto& [param, value] : step.with) {
    if (std::find(kind->params.begin(), kind->params.end(), param) == kind->params.end()) {
      return Error(
          origin, node,
          absl::StrCat("step '", step.name, "' (", step.uses, ") has no parameter '", param, "'",
                       kind->params.empty()
                           ? std::string(" (it takes none)")
                           : absl::StrCat(" (it takes ", absl::StrJoin(kind->params, ", "), ")")));
    }
  }
  return step;
}

}  // namespace

absl::StatusOr<PipelineConfig> ParsePipelineConfig(const std::string& yaml_text,
                                                   const std::string& origin) {
  // YAML is UTF-8 text; its strings end up in run records, logs and the
  // config's hash.
  if (size_t bad = FindInvalidUtf8(yaml_text); bad != std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat(origin, ": not UTF-8 text (byte ", bad, " is not part of a character)"));
  }
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(origin, ":", e.mark.line + 1, ": not valid YAML: ", e.msg));
  }
  if (!root.IsMap()) return Error(origin, root, "the config must be a map with a steps list");
  PipelineConfig config;
  config.origin = origin;
  bool have_steps = false;
  try {
    for (const auto& entry : root) {
      const std::string key = entry.first.Scalar();
      const YAML::Node& value = entry.second;
      if (key == "catalog") {
        ASSIGN_OR_RETURN(config.catalog, Scalar(origin, value, key));
      } else if (key == "catalog_query") {
        ASSIGN_OR_RETURN(config.catalog_query, Scalar(origin, value, key));
      } else if (key == "repo") {
        ASSIGN_OR_RETURN(config.repo, Scalar(origin, value, key));
      } else if (key == "model") {
        ASSIGN_OR_RETURN(config.model, Scalar(origin, value, key));
      } else if (key == "steps") {
        have_steps = true;
        if (!value.IsSequence()) return Error(origin, value, "steps must be a list");
        if (value.size() > kMaxSteps) {
          return Error(origin, value, absl::StrCat("more than ", kMaxSteps, " steps"));
        }
        for (const auto& node : value) {
          ASSIGN_OR_RETURN(StepConfig step, ParseStep(origin, node));
          config.steps.push_back(std::move(step));
        }
      } else {
        return Error(origin, entry.first,
                     absl::StrCat("unknown key '", key,
                                  "' (known: catalog, catalog_query, repo, model, steps)"));
      }
    }
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(origin, ":", e.mark.line + 1, ": ", e.msg));
  }
  if (!have_steps || config.steps.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(origin, ": no steps"));
  }
  std::vector<DagStep> shape;
  for (const StepConfig& step : config.steps) shape.push_back({step.name, step.needs, nullptr});
  if (absl::Status status = CheckDag(shape); !status.ok()) return Annotate(status, origin);
  return config;
}

absl::StatusOr<PipelineConfig> LoadPipelineConfig(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  if (text.size() > (1 << 20)) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": over 1 MiB; not a pipeline config"));
  }
  return ParsePipelineConfig(text, path);
}

const PipelineConfig& DefaultPipelineConfig() {
  static const auto* config = [] {
    absl::StatusOr<PipelineConfig> parsed = ParsePipelineConfig(kDefaultPipelineYaml, "default");
    if (!parsed.ok()) std::abort();  // a bug in kDefaultPipelineYaml; the unit test says which
    return new PipelineConfig(std::move(*parsed));
  }();
  return *config;
}

absl::StatusOr<std::vector<PlannedStep>> PlanPipeline(const PipelineConfig& config,
                                                      const std::string& mode) {
  std::map<std::string, const StepConfig*> running;
  for (const StepConfig& step : config.steps) {
    if (step.only.empty() || step.only == mode) running[step.name] = &step;
  }
  std::vector<PlannedStep> plan;
  std::map<std::string, size_t> position;
  std::map<std::string, int> publishers;
  for (const StepConfig& step : config.steps) {
    if (!running.count(step.name)) continue;
    const Kind& kind = *FindKind(step.uses);
    PlannedStep planned;
    planned.config = step;
    planned.output = kind.output;
    for (const std::string& need : step.needs) {
      if (!running.count(need)) continue;  // a step of the other mode
      planned.needs.push_back(need);
      const std::string type = FindKind(running[need]->uses)->output;
      if (std::find(kind.inputs.begin(), kind.inputs.end(), type) == kind.inputs.end()) continue;
      if (!planned.input_from.emplace(type, need).second) {
        return absl::InvalidArgumentError(absl::StrCat(
            config.origin, ": step '", step.name, "' takes one ", type, " input, but needs both '",
            planned.input_from[type], "' and '", need, "'"));
      }
    }
    for (const std::string& type : kind.inputs) {
      if (!planned.input_from.count(type)) {
        return absl::InvalidArgumentError(
            absl::StrCat(config.origin, ": step '", step.name, "' (", step.uses,
                         ") needs a step that makes ", type, " when building from ",
                         mode == "images" ? "images" : "rollups", ", and has none"));
      }
    }
    if (step.uses.rfind("publish-", 0) == 0 && ++publishers[step.uses] > 1) {
      return absl::InvalidArgumentError(
          absl::StrCat(config.origin, ": more than one ", step.uses,
                       " step (a window has one artifact of each kind per partition)"));
    }
    position[step.name] = plan.size();
    plan.push_back(std::move(planned));
  }
  if (plan.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(config.origin, ": no step runs when building from ", mode));
  }
  for (const PlannedStep& step : plan) {
    for (const auto& [type, from] : step.input_from) plan[position[from]].has_consumers = true;
  }
  return plan;
}

std::string PipelineConfigHash(const PipelineConfig& config) {
  nlohmann::json j;
  j["catalog"] = config.catalog;
  j["catalog_query"] = config.catalog_query;
  j["repo"] = config.repo;
  j["model"] = config.model;
  nlohmann::json steps = nlohmann::json::array();
  for (const StepConfig& step : config.steps) {
    steps.push_back({{"name", step.name},
                     {"uses", step.uses},
                     {"needs", step.needs},
                     {"only", step.only},
                     {"with", step.with}});
  }
  j["steps"] = steps;
  return Sha256Hex(DumpJson(j));
}

void OverrideStepParam(PipelineConfig* config, const std::string& uses, const std::string& key,
                       const std::string& value) {
  for (StepConfig& step : config->steps) {
    if (step.uses == uses) step.with[key] = value;
  }
}

namespace {

// The step's `key` read by `parse` (a strtoll or strtod) as a whole string
// within [min, max]; `default_value` when absent; else "want <what> in [...]".
template <typename T, typename Parse>
absl::StatusOr<T> NumberParam(const StepConfig& step, const std::string& key, T default_value,
                              T min, T max, const char* what, Parse parse) {
  auto it = step.with.find(key);
  if (it == step.with.end()) return default_value;
  errno = 0;
  char* end = nullptr;
  const T v = parse(it->second.c_str(), &end);
  if (errno != 0 || end == it->second.c_str() || *end != '\0' || !(v >= min && v <= max)) {
    return absl::InvalidArgumentError(absl::StrCat("step '", step.name, "': ", key, " is '",
                                                   it->second, "', want ", what, " in [", min, ", ",
                                                   max, "]"));
  }
  return v;
}

}  // namespace

absl::StatusOr<int64_t> IntParam(const StepConfig& step, const std::string& key,
                                 int64_t default_value, int64_t min, int64_t max) {
  return NumberParam<int64_t>(
      step, key, default_value, min, max, "an integer",
      [](const char* s, char** end) -> int64_t { return std::strtoll(s, end, 10); });
}

absl::StatusOr<double> DoubleParam(const StepConfig& step, const std::string& key,
                                   double default_value, double min, double max) {
  return NumberParam<double>(step, key, default_value, min, max, "a number",
                             [](const char* s, char** end) { return std::strtod(s, end); });
}

std::string StringParam(const StepConfig& step, const std::string& key,
                        const std::string& default_value) {
  auto it = step.with.find(key);
  return it == step.with.end() ? default_value : it->second;
}

}  // namespace photosearch
