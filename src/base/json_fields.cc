#include "base/json_fields.h"

#include <cmath>

#include "absl/strings/str_cat.h"

namespace photosearch::json_fields {
namespace {

absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

std::string Bounded(std::string text, size_t max) {
  return text.size() > max ? text.substr(0, max) + "..." : text;
}

// The parent of a field must be an object (or absent: null).
absl::Status CheckParent(const nlohmann::json& object, std::string_view where) {
  if (object.is_object() || object.is_null()) return absl::OkStatus();
  std::string name(where);
  if (!name.empty() && name.back() == '.') name.pop_back();
  return absl::InvalidArgumentError(absl::StrCat(name.empty() ? "the document" : name,
                                                 " must be an object, not ",
                                                 object.type_name()));
}

}  // namespace

absl::StatusOr<nlohmann::json> Parse(std::string_view text, int max_depth) {
  struct TooDeep {};
  try {
    return nlohmann::json::parse(
        text.begin(), text.end(),
        [max_depth](int depth, nlohmann::json::parse_event_t, nlohmann::json&) {
          if (depth > max_depth) throw TooDeep{};
          return true;
        });
  } catch (const TooDeep&) {
    return absl::InvalidArgumentError(
        absl::StrCat("JSON nested deeper than ", max_depth, " levels"));
  } catch (const nlohmann::json::out_of_range& e) {
    return absl::OutOfRangeError(Bounded(e.what(), 300));
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(Bounded(e.what(), 300));
  }
}

std::string Describe(const nlohmann::json& value) {
  if (value.is_structured()) return value.type_name();
  return Bounded(DumpJson(value), 40);
}

absl::StatusOr<int64_t> IntValue(const nlohmann::json& value, int64_t min, int64_t max,
                                 std::string_view name) {
  auto refuse = [&] {
    return absl::InvalidArgumentError(
        absl::StrCat(Sv(name), " must be an integer in ", min, "..", max, ", not ", Describe(value)));
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
        absl::StrCat(Sv(name), " must be a number in ", min, "..", max, ", not ", Describe(value)));
  }
  return value.get<double>();
}

absl::StatusOr<int64_t> Int(const nlohmann::json& object, const char* key, int64_t fallback,
                            int64_t min, int64_t max, std::string_view where) {
  if (absl::Status s = CheckParent(object, where); !s.ok()) return s;
  if (!object.is_object() || !object.contains(key)) return fallback;
  return IntValue(object.at(key), min, max, absl::StrCat(Sv(where), key));
}

absl::StatusOr<double> Number(const nlohmann::json& object, const char* key, double fallback,
                              double min, double max, std::string_view where) {
  if (absl::Status s = CheckParent(object, where); !s.ok()) return s;
  if (!object.is_object() || !object.contains(key)) return fallback;
  return NumberValue(object.at(key), min, max, absl::StrCat(Sv(where), key));
}

}  // namespace photosearch::json_fields

namespace photosearch {

std::string DumpJson(const nlohmann::json& j, int indent) {
  return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace photosearch
