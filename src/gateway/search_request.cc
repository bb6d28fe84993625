#include "gateway/search_request.h"

#include <httplib.h>

#include <charconv>
#include <cmath>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "base/json_fields.h"
#include "nlohmann/json.hpp"

namespace photosearch {
namespace {

using nlohmann::json;

// The path of the value a JSON parse failed on ("vector[3]", "k"): a SAX
// pass that only tracks where it is. Used after a parse error, to say which
// value was wrong.
class JsonPathLocator : public nlohmann::json_sax<json> {
 public:
  // At most ~200 characters: the end of the path, where the value is.
  std::string path() const {
    return path_.size() <= 200 ? path_ : "..." + path_.substr(path_.size() - 200);
  }

  bool null() override { return Value(); }
  bool boolean(bool) override { return Value(); }
  bool number_integer(number_integer_t) override { return Value(); }
  bool number_unsigned(number_unsigned_t) override { return Value(); }
  bool number_float(number_float_t, const string_t&) override { return Value(); }
  bool string(string_t&) override { return Value(); }
  bool binary(binary_t&) override { return Value(); }
  bool start_object(std::size_t) override { return Open(false); }
  bool key(string_t& key) override {
    if (!stack_.empty()) stack_.back().key = key.substr(0, 64);
    return true;
  }
  bool end_object() override { return Close(); }
  bool start_array(std::size_t) override { return Open(true); }
  bool end_array() override { return Close(); }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    // The value being read when the error came is the next one of its container.
    path_ = Path();
    return false;
  }

 private:
  struct Level {
    bool array = false;
    int64_t next = 0;  // arrays: index of the next value
    std::string key;   // objects: the current key
  };

  std::string Path() const {
    std::string path;
    for (const Level& level : stack_) {
      if (level.array) {
        absl::StrAppend(&path, "[", level.next, "]");
      } else {
        absl::StrAppend(&path, path.empty() ? "" : ".", level.key);
      }
    }
    return path;
  }
  bool Value() {
    if (!stack_.empty() && stack_.back().array) ++stack_.back().next;
    return true;
  }
  bool Open(bool array) {
    if (stack_.size() >= 64) return false;  // deeper than any query; the DOM parse said why
    stack_.push_back(Level{array, 0, {}});
    return true;
  }
  bool Close() {
    if (!stack_.empty()) stack_.pop_back();
    return Value();
  }

  std::vector<Level> stack_;
  std::string path_;
};

absl::StatusOr<int> ParseIntParam(const httplib::Request& req, const char* name, int fallback,
                                  int min, int max) {
  if (!req.has_param(name)) return fallback;
  const std::string text = req.get_param_value(name);
  int value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < min || value > max) {
    return absl::InvalidArgumentError(absl::StrCat(name, " must be an integer between ", min,
                                                   " and ", max, ", got '", text.substr(0, 32),
                                                   "'"));
  }
  return value;
}

}  // namespace

SearchBody SearchBodyOf(std::string_view type) {
  if (type == "multipart/form-data") return SearchBody::kMultipart;
  if (type == "application/json") return SearchBody::kJson;
  if (type == "image/jpeg" || type == "image/png" || type == "image/webp" ||
      type == "application/octet-stream") {
    return SearchBody::kImage;
  }
  return SearchBody::kUnsupported;
}

std::string MediaTypeOf(const httplib::Request& req) {
  std::string type = req.get_header_value("Content-Type");
  type = type.substr(0, type.find(';'));
  return absl::AsciiStrToLower(absl::StripAsciiWhitespace(type));
}

absl::Status ParseSearchJson(std::string_view body, int max_k, SearchRequest* request) {
  absl::StatusOr<json> parsed = json_fields::Parse(body);
  if (!parsed.ok() && parsed.status().code() == absl::StatusCode::kOutOfRange) {
    // A number beyond double's range ("1e309"): name the value.
    JsonPathLocator locator;
    json::sax_parse(body, &locator);
    const std::string what(parsed.status().message());  // ... overflow parsing '1e309'
    size_t first = what.find('\''), last = what.rfind('\'');
    std::string literal =
        first < last ? what.substr(first + 1, std::min<size_t>(last - first - 1, 64)) : "a number";
    const std::string path = locator.path().empty() ? "a value" : locator.path();
    return absl::InvalidArgumentError(absl::StrCat(
        path, " is ", literal,
        path.rfind("vector[", 0) == 0 ? ", out of range of a 32-bit float" : ", out of range"));
  }
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("body is not valid JSON (NaN and Infinity are not JSON numbers): ",
                     parsed.status().message()));
  }
  json j = std::move(*parsed);
  if (!j.is_object()) return absl::InvalidArgumentError("body is not a JSON object");
  if (!j.contains("vector")) {
    return absl::InvalidArgumentError("JSON query needs \"vector\": [numbers...]");
  }
  const json& vector = j["vector"];
  if (!vector.is_array() || vector.empty()) {
    return absl::InvalidArgumentError("\"vector\" must be a non-empty array of numbers");
  }
  if (vector.size() > kMaxVectorValues) {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"vector\" has ", vector.size(), " values, over the limit of ", kMaxVectorValues));
  }
  request->vector.clear();
  request->vector.reserve(vector.size());
  constexpr double kFloatMax = std::numeric_limits<float>::max();
  for (size_t i = 0; i < vector.size(); ++i) {
    const json& v = vector[i];
    if (!v.is_number()) {
      return absl::InvalidArgumentError(
          absl::StrCat("vector[", i, "] is ", v.type_name(), ", not a number"));
    }
    const double value = v.get<double>();
    if (!(std::fabs(value) <= kFloatMax)) {
      return absl::InvalidArgumentError(
          absl::StrCat("vector[", i, "] is ", json_fields::Describe(v),
                       ", out of range of a 32-bit float"));
    }
    request->vector.push_back(static_cast<float>(value));
  }
  if (j.contains("model")) {
    const json& model = j["model"];
    if (!model.is_string()) return absl::InvalidArgumentError("\"model\" must be a string");
    if (model.get_ref<const std::string&>().size() > kMaxModelIdBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"model\" is over ", kMaxModelIdBytes, " bytes: not a model id"));
    }
    request->model = model.get<std::string>();
  }
  if (j.contains("k")) {
    auto k = json_fields::IntValue(j["k"], 1, max_k, "\"k\"");
    if (!k.ok() || !j["k"].is_number_integer()) {
      return absl::InvalidArgumentError(absl::StrCat("\"k\" must be an integer between 1 and ",
                                                     max_k, ", got ",
                                                     json_fields::Describe(j["k"])));
    }
    request->k = static_cast<int>(*k);
  }
  return absl::OkStatus();
}

absl::StatusOr<SearchRequest> ParseSearchHttpRequest(const httplib::Request& req, int default_k,
                                                     const SearchLimits& limits) {
  SearchRequest request;
  auto k = ParseIntParam(req, "k", default_k, 1, limits.max_k);
  if (!k.ok()) return k.status();
  request.k = *k;
  auto ef = ParseIntParam(req, "ef", 0, 1, limits.max_ef_search);
  if (!ef.ok()) return ef.status();
  request.params.ef_search = *ef;
  if (req.has_param("detect")) {
    auto policy = ParseDetectPolicy(req.get_param_value("detect"));
    if (!policy.ok()) return policy.status();
    request.detect = *policy;
  }
  auto range = ParseTimeRange(req.has_param("from") ? req.get_param_value("from") : "",
                              req.has_param("to") ? req.get_param_value("to") : "");
  if (!range.ok()) return range.status();
  request.range = *range;
  switch (SearchBodyOf(MediaTypeOf(req))) {
    case SearchBody::kMultipart:
      if (!req.has_file("image")) {
        return absl::InvalidArgumentError("multipart body needs a file field named \"image\"");
      }
      request.image = req.get_file_value("image").content;
      if (request.image.empty()) {
        return absl::InvalidArgumentError("empty image: the \"image\" field has no bytes");
      }
      break;
    case SearchBody::kJson:
      if (absl::Status s = ParseSearchJson(req.body, limits.max_k, &request); !s.ok()) return s;
      break;
    case SearchBody::kImage:
      if (req.body.empty()) return absl::InvalidArgumentError("empty image: the body has no bytes");
      request.image = req.body;
      break;
    case SearchBody::kUnsupported:
      return absl::InvalidArgumentError("unsupported Content-Type");
  }
  return request;
}

}  // namespace photosearch
