#include "base/json_fields.h"

#include <cmath>

#include "absl/strings/str_cat.h"

namespace photosearch::json_fields {
namespace {

absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// At most 40 characters of `value` as JSON, for messages.
std::string Shown(const nlohmann::json& value) {
  std::string text = DumpJson(value);
  return text.size() > 40 ? text.substr(0, 40) + "..." : text;
}

}  // namespace

absl::StatusOr<int64_t> IntValue(const nlohmann::json& value, int64_t min, int64_t max,
                                 std::string_view name) {
  auto refuse = [&] {
    return absl::InvalidArgumentError(
        absl::StrCat(Sv(name), " must be an integer in ", min, "..", max, ", not ", Shown(value)));
  };
  if (value.is_number_unsigned()) {
    uint64_t v = value.get<uint64_t>();
    if (max < 0 || v > static_cast<uint64_t>(max)) return refuse();
    int64_t s = static_cast<int64_t>(v);
    if (s < min) return refuse();
    return s;
  }
  if (value.is_number_integer()) {
    int64_t v = value.get<int64_t>();
    if (v < min || v > max) return refuse();
    return v;
  }
  if (value.is_number_float()) {
    double v = value.get<double>();
    // Checked as a double before any cast (2^63 itself does not fit int64).
    if (!std::isfinite(v) || v != std::floor(v) || v >= 0x1p63 || v < -0x1p63) return refuse();
    const int64_t i = static_cast<int64_t>(v);
    if (i < min || i > max) return refuse();
    return i;
  }
  return refuse();
}

absl::StatusOr<double> NumberValue(const nlohmann::json& value, double min, double max,
                                   std::string_view name) {
  if (!value.is_number() || !std::isfinite(value.get<double>()) || value.get<double>() < min ||
      value.get<double>() > max) {
    return absl::InvalidArgumentError(
        absl::StrCat(Sv(name), " must be a number in ", min, "..", max, ", not ", Shown(value)));
  }
  return value.get<double>();
}

absl::StatusOr<int64_t> Int(const nlohmann::json& object, const char* key, int64_t fallback,
                            int64_t min, int64_t max, std::string_view where) {
  if (!object.is_object() || !object.contains(key)) return fallback;
  return IntValue(object.at(key), min, max, absl::StrCat(Sv(where), key));
}

absl::StatusOr<double> Number(const nlohmann::json& object, const char* key, double fallback,
                              double min, double max, std::string_view where) {
  if (!object.is_object() || !object.contains(key)) return fallback;
  return NumberValue(object.at(key), min, max, absl::StrCat(Sv(where), key));
}

}  // namespace photosearch::json_fields

namespace photosearch {

std::string DumpJson(const nlohmann::json& j, int indent) {
  return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace photosearch
