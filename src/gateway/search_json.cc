#include "gateway/search_json.h"

#include <cctype>

#include "base/json_fields.h"
#include "nlohmann/json.hpp"

namespace photosearch {
namespace {

std::string UrlEncodePath(const std::string& path) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : path) {
    if (std::isalnum(c) || c == '/' || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

nlohmann::json ResultsJson(const std::vector<SearchResult>& list, bool image_urls) {
  nlohmann::json results = nlohmann::json::array();
  for (const SearchResult& r : list) {
    nlohmann::json item = {{"item_id", r.item_id}, {"score", r.score}, {"shard", r.shard}};
    if (image_urls) item["image_url"] = "/photos/" + UrlEncodePath(r.item_id);
    results.push_back(std::move(item));
  }
  return results;
}

}  // namespace

nlohmann::json PlanJson(const QueryPlan& plan) {
  nlohmann::json shards = nlohmann::json::array();
  for (const ShardId& id : plan.shards) shards.push_back(id.Name());
  nlohmann::json gaps = nlohmann::json::array();
  for (const TimeRange& gap : plan.gaps) {
    gaps.push_back({{"from", FormatRfc3339(gap.from)}, {"to", FormatRfc3339(gap.to)}});
  }
  return {{"shards", std::move(shards)}, {"gaps", std::move(gaps)}};
}

std::string SearchResponseJson(const SearchResponse& response, bool image_urls, double total_ms) {
  using nlohmann::json;
  json j = {{"model", response.model},
            {"detect", response.detect},
            {"results", ResultsJson(response.results, image_urls)},
            {"shards_searched", response.shards_searched},
            {"partial", response.partial()},
            {"missing_shards", response.missing_shards},
            {"plan", PlanJson(response.plan)},
            {"took_ms",
             {{"decode", response.decode_ms},
              {"detect", response.detect_ms},
              {"embed", response.embed_ms},
              {"search", response.search_ms},
              {"total", total_ms}}}};
  if (response.width > 0) {
    j["image"] = {{"width", response.width}, {"height", response.height}};
    json objects = json::array();
    for (const SearchObject& o : response.objects) {
      json object = {{"box", {o.box.x0, o.box.y0, o.box.x1, o.box.y1}},
                     {"class", o.box.class_name},
                     {"score", o.box.score},
                     {"objectness", o.box.objectness},
                     {"labelled", o.box.labelled},
                     {"primary", o.primary}};
      if (response.detect == "all") object["results"] = ResultsJson(o.results, image_urls);
      objects.push_back(std::move(object));
    }
    j["objects"] = std::move(objects);
  }
  // Invalid UTF-8 in an item id (a file name, say) is replaced, not fatal.
  return DumpJson(j);
}

std::string ErrorJson(const std::string& code, const std::string& message) {
  using nlohmann::json;
  return DumpJson(json{{"error", {{"code", code}, {"message", message}}}});
}

}  // namespace photosearch
