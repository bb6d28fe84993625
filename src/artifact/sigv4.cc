#include "artifact/sigv4.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/sha256.h"

namespace photosearch {
namespace {

// Header values: leading/trailing spaces trimmed, inner runs of spaces folded.
std::string TrimHeaderValue(std::string_view value) {
  std::string out;
  bool space = false;
  for (char c : value) {
    if (c == ' ' || c == '\t') {
      space = !out.empty();
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(c);
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> SortedHeaders(
    const std::vector<std::pair<std::string, std::string>>& headers) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [name, value] : headers) {
    out.emplace_back(absl::AsciiStrToLower(name), TrimHeaderValue(value));
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

std::string UriEncode(std::string_view text, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' ||
        (c == '/' && keep_slash)) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string CanonicalRequest(const SigV4Request& request) {
  std::vector<std::pair<std::string, std::string>> query;
  for (const auto& [key, value] : request.query) {
    query.emplace_back(UriEncode(key, false), UriEncode(value, false));
  }
  std::sort(query.begin(), query.end());
  std::vector<std::string> query_parts;
  for (const auto& [key, value] : query) query_parts.push_back(absl::StrCat(key, "=", value));

  std::string canonical_headers;
  std::vector<std::string> names;
  for (const auto& [name, value] : SortedHeaders(request.headers)) {
    absl::StrAppend(&canonical_headers, name, ":", value, "\n");
    names.push_back(name);
  }
  return absl::StrCat(request.method, "\n",
                      UriEncode(request.path.empty() ? "/" : request.path, true), "\n",
                      absl::StrJoin(query_parts, "&"), "\n", canonical_headers, "\n",
                      absl::StrJoin(names, ";"), "\n", request.payload_sha256);
}

std::string CredentialScope(const std::string& amz_date, const std::string& region,
                            const std::string& service) {
  return absl::StrCat(amz_date.substr(0, 8), "/", region, "/", service, "/aws4_request");
}

std::string StringToSign(const std::string& canonical_request, const std::string& amz_date,
                         const std::string& scope) {
  return absl::StrCat("AWS4-HMAC-SHA256\n", amz_date, "\n", scope, "\n",
                      Sha256Hex(canonical_request));
}

std::string SigningKey(const std::string& secret, const std::string& date,
                       const std::string& region, const std::string& service) {
  std::string key = HmacSha256(absl::StrCat("AWS4", secret), date);
  key = HmacSha256(key, region);
  key = HmacSha256(key, service);
  return HmacSha256(key, "aws4_request");
}

std::string SignRequest(SigV4Request* request, const AwsCredentials& credentials,
                        const std::string& region, const std::string& service,
                        const std::string& amz_date) {
  request->headers.emplace_back("x-amz-date", amz_date);
  request->headers.emplace_back("x-amz-content-sha256", request->payload_sha256);
  if (!credentials.session_token.empty()) {
    request->headers.emplace_back("x-amz-security-token", credentials.session_token);
  }
  const std::string scope = CredentialScope(amz_date, region, service);
  const std::string to_sign = StringToSign(CanonicalRequest(*request), amz_date, scope);
  const std::string signature = HexOf(HmacSha256(
      SigningKey(credentials.secret_access_key, amz_date.substr(0, 8), region, service), to_sign));
  std::vector<std::string> names;
  for (const auto& [name, value] : SortedHeaders(request->headers)) names.push_back(name);
  return absl::StrCat("AWS4-HMAC-SHA256 Credential=", credentials.access_key_id, "/", scope,
                      ",SignedHeaders=", absl::StrJoin(names, ";"), ",Signature=", signature);
}

}  // namespace photosearch
