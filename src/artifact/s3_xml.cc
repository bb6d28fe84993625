#include "artifact/s3_xml.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace photosearch {
namespace {

constexpr size_t kMaxErrorField = 200;

// At most kMaxErrorField bytes of `text`, printable: a server's words go into
// error messages and logs.
std::string Printable(std::string text) {
  if (text.size() > kMaxErrorField) text = text.substr(0, kMaxErrorField) + "...";
  for (char& c : text) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) c = '?';
  }
  return text;
}

}  // namespace

std::string XmlUnescape(std::string_view text) {
  static const std::pair<std::string_view, char> kEntities[] = {
      {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '&') {
      out.push_back(text[i]);
      continue;
    }
    bool matched = false;
    for (const auto& [entity, c] : kEntities) {
      if (text.substr(i, entity.size()) == entity) {
        out.push_back(c);
        i += entity.size() - 1;
        matched = true;
        break;
      }
    }
    if (!matched) out.push_back('&');
  }
  return out;
}

std::vector<std::string> XmlValues(std::string_view xml, std::string_view tag) {
  std::vector<std::string> out;
  const absl::string_view name(tag.data(), tag.size());
  const std::string open_tag = absl::StrCat("<", name, ">");
  const std::string close_tag = absl::StrCat("</", name, ">");
  for (size_t at = xml.find(open_tag); at != std::string_view::npos; at = xml.find(open_tag, at)) {
    size_t begin = at + open_tag.size();
    size_t end = xml.find(close_tag, begin);
    if (end == std::string_view::npos) break;
    out.push_back(XmlUnescape(xml.substr(begin, end - begin)));
    at = end + close_tag.size();
  }
  return out;
}

S3ListPage ParseListObjectsPage(std::string_view xml) {
  S3ListPage page;
  page.keys = XmlValues(xml, "Key");
  std::vector<std::string> truncated = XmlValues(xml, "IsTruncated");
  page.truncated = !truncated.empty() && truncated[0] == "true";
  return page;
}

S3ErrorBody ParseS3Error(std::string_view xml) {
  S3ErrorBody error;
  std::vector<std::string> code = XmlValues(xml, "Code");
  std::vector<std::string> message = XmlValues(xml, "Message");
  if (!code.empty()) error.code = Printable(std::move(code[0]));
  if (!message.empty()) error.message = Printable(std::move(message[0]));
  return error;
}

}  // namespace photosearch
