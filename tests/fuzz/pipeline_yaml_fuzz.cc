// The pipeline YAML (`pipeline run --config`): parse, then plan both modes and
// hash. Checks: a config that parses plans or is refused with a reason;
// parsing the same text twice gives the same config hash.
#include "fuzz_target.h"
#include "pipeline/pipeline_config.h"

using photosearch::fuzz::FuzzCheck;

PHOTOSEARCH_FUZZ_TARGET(pipeline_yaml) {
  auto config = photosearch::ParsePipelineConfig(std::string(data), "fuzz.yaml");
  if (!config.ok()) {
    FuzzCheck(!config.status().message().empty(), "error without a message");
    return;
  }
  for (const char* mode : {"images", "rollup"}) {
    auto plan = photosearch::PlanPipeline(*config, mode);
    if (!plan.ok()) FuzzCheck(!plan.status().message().empty(), "plan error without a message");
  }
  // Parsing the same text again gives the same config (no uninitialised field).
  auto again = photosearch::ParsePipelineConfig(std::string(data), "fuzz.yaml");
  FuzzCheck(again.ok() && photosearch::PipelineConfigHash(*again) ==
                              photosearch::PipelineConfigHash(*config),
            "parsing is not deterministic");
}
