// The from/to parameters of a search and the planner over shard names (the
// names come from discovery). Input: "from\nto\nshard\nshard...". Checks: a
// parsed range is ordered and bounded; the plan holds only available shards,
// sorted, once each, and its gaps are ordered, disjoint and inside the range.
#include <algorithm>
#include <set>

#include "absl/strings/str_split.h"
#include "fuzz_target.h"
#include "gateway/planner.h"

using photosearch::fuzz::FuzzCheck;

PHOTOSEARCH_FUZZ_TARGET(time_range) {
  std::vector<std::string> lines = absl::StrSplit(absl::string_view(data.data(), data.size()), '\n');
  if (lines.size() < 2 || lines.size() > 2000) return;
  auto range = photosearch::ParseTimeRange(lines[0], lines[1]);
  if (!range.ok()) {
    FuzzCheck(!range.status().message().empty(), "error without a message");
    FuzzCheck(range.status().message().size() < 512, "unbounded error message");
    return;
  }
  if (range->has_value()) {
    FuzzCheck((*range)->from < (*range)->to, "from is not before to");
  }
  std::vector<photosearch::ShardId> available;
  for (size_t i = 2; i < lines.size(); ++i) {
    auto id = photosearch::ParseShardName(lines[i]);
    if (id.ok()) {
      FuzzCheck(id->Name() == lines[i], "name does not round trip");
      available.push_back(*id);
    }
  }
  photosearch::QueryPlan plan = photosearch::PlanQuery(available, *range);
  std::set<photosearch::ShardId> offered(available.begin(), available.end());
  for (size_t i = 0; i < plan.shards.size(); ++i) {
    FuzzCheck(offered.count(plan.shards[i]) == 1, "planned a shard that is not served");
    if (i > 0) FuzzCheck(plan.shards[i - 1] < plan.shards[i], "plan not sorted or repeated");
  }
  for (size_t i = 0; i < plan.gaps.size(); ++i) {
    FuzzCheck(plan.gaps[i].from < plan.gaps[i].to, "empty gap");
    FuzzCheck(range->has_value(), "gaps without a range");
    if (range->has_value()) {
      FuzzCheck(plan.gaps[i].from >= (*range)->from && plan.gaps[i].to <= (*range)->to,
                "gap outside the range");
    }
    if (i > 0) FuzzCheck(plan.gaps[i - 1].to < plan.gaps[i].from, "gaps overlap or touch");
  }
}
