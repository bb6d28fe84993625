#include "base/status_macros.h"

#include "absl/strings/cord.h"

#include <string>

namespace photosearch {

absl::Status Annotate(const absl::Status& status, std::string_view context) {
  if (status.ok()) return status;
  std::string message(context);
  message += ": ";
  message += std::string(status.message());
  absl::Status out(status.code(), message);
  // Marks such as model/embedder.h's model error travel with the status.
  status.ForEachPayload(
      [&out](absl::string_view url, const absl::Cord& payload) { out.SetPayload(url, payload); });
  return out;
}

}  // namespace photosearch
