#include "absl/strings/str_cat.h"
#include "cli/common.h"
#include "cli/query_stack.h"

namespace photosearch {

int RunServe(const ServeFlags& flags) {
  QueryStackOptions options;
  options.command = "serve";
  options.model = flags.model;
  options.limits.max_bytes = flags.max_body_bytes;
  options.limits.max_pixels = flags.max_pixels;
  options.detector = flags.detector;  // ?detect=primary|all (queries default to the whole photo)
  options.repo = flags.repo;
  options.poll_seconds = flags.poll_seconds;
  auto stack = BuildQueryStack(options);
  if (!stack.ok()) return Fail("serve", stack.status());
  QueryStack& s = **stack;
  int64_t items = 0;
  const std::vector<ShardState> shards = s.backend->Shards();
  for (const ShardState& shard : shards) items += shard.items;
  return ServeHttp("serve", s, {flags.host, flags.port, flags.photos, flags.max_body_bytes},
                   absl::StrCat("model ", s.model.id, ", ", shards.size(), " shard(s), ", items,
                                " items from ", s.repository->url()));
}

}  // namespace photosearch
