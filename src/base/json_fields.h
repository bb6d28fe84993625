// JSON (nlohmann::json) that comes from or goes to outside: typed, bounded
// reads of fields (manifests, run records, catalog rows), and a dump that
// never throws. nlohmann's own conversions are unsafe there: get<int>() on
// 1e30 is a float-to-int cast out of range (undefined behaviour), on
// 4294967297 it wraps to 1, and get<float>() on 1e39 is undefined too; dump()
// throws on a string that is not UTF-8 (a file name, a catalog's URL).
//
// Thread-safety: pure functions.
// Errors: kInvalidArgument "<where><key> must be an integer in 1..65536, not \"x\"".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace photosearch::json_fields {

// Deeper than any JSON photosearch reads.
inline constexpr int kMaxJsonDepth = 64;

// Parses JSON from outside. Nesting deeper than `max_depth` is refused while
// parsing: nlohmann parses and frees deep nesting without recursion, but dumps,
// copies and compares recursively, one stack frame per level, so a 2 MB body of
// brackets would overflow the stack later. Errors: kOutOfRange for a number
// beyond a double ("1e309"), kInvalidArgument otherwise; messages are at most
// ~300 characters (nlohmann quotes the token it was reading).
absl::StatusOr<nlohmann::json> Parse(std::string_view text, int max_depth = kMaxJsonDepth);

// `value` for a message: a scalar as JSON, at most 40 characters; an array or
// an object by its type name (never dumped: see Parse).
std::string Describe(const nlohmann::json& value);

// object[key] as an integer in [min, max]; `fallback` when the key is absent
// (or `object` is null). A number with a fraction is refused; 224.0 is 224.
// `where` prefixes the key in messages ("input."); an `object` that is neither
// an object nor null is refused as "<where> must be an object".
absl::StatusOr<int64_t> Int(const nlohmann::json& object, const char* key, int64_t fallback,
                            int64_t min, int64_t max, std::string_view where = "");

// object[key] as a finite number in [min, max]; `fallback` when absent.
absl::StatusOr<double> Number(const nlohmann::json& object, const char* key, double fallback,
                              double min, double max, std::string_view where = "");

// The same checks on a value that is not a field (an array element); `name`
// is what messages call it ("output.strides[2]").
absl::StatusOr<int64_t> IntValue(const nlohmann::json& value, int64_t min, int64_t max,
                                 std::string_view name);
absl::StatusOr<double> NumberValue(const nlohmann::json& value, double min, double max,
                                   std::string_view name);

}  // namespace photosearch::json_fields

namespace photosearch {

// j.dump(indent) where invalid UTF-8 in strings becomes U+FFFD instead of an
// exception. Use for every JSON that holds text from outside.
std::string DumpJson(const nlohmann::json& j, int indent = -1);

}  // namespace photosearch
