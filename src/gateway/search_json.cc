#include "gateway/search_json.h"

#include <cctype>

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

}  // namespace

std::string SearchResponseJson(const SearchResponse& response, bool image_urls, double total_ms) {
  using nlohmann::json;
  json results = json::array();
  for (const SearchResult& r : response.results) {
    json item = {{"item_id", r.item_id}, {"score", r.score}, {"shard", r.shard}};
    if (image_urls) item["image_url"] = "/photos/" + UrlEncodePath(r.item_id);
    results.push_back(std::move(item));
  }
  json j = {{"model", response.model},
            {"results", std::move(results)},
            {"shards_searched", response.shards_searched},
            {"partial", false},
            {"took_ms",
             {{"decode", response.decode_ms},
              {"embed", response.embed_ms},
              {"search", response.search_ms},
              {"total", total_ms}}}};
  // Invalid UTF-8 in an item id (a file name, say) is replaced, not fatal.
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string ErrorJson(const std::string& code, const std::string& message) {
  using nlohmann::json;
  return json{{"error", {{"code", code}, {"message", message}}}}.dump(
      -1, ' ', false, json::error_handler_t::replace);
}

}  // namespace photosearch
