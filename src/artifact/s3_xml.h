// The few S3 XML responses that S3Store reads: ListObjectsV2 pages and error
// bodies. S3's responses are flat enough to read element text by tag name; no
// attributes or nesting of the elements read here are needed. The bytes come
// from a server, so everything returned is bounded and safe to log.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace photosearch {

// `text` with the five predefined XML entities replaced; anything else is kept.
std::string XmlUnescape(std::string_view text);

// The unescaped text of every <tag>...</tag> in `xml`, in order.
std::vector<std::string> XmlValues(std::string_view xml, std::string_view tag);

// One page of a ListObjectsV2 answer.
struct S3ListPage {
  std::vector<std::string> keys;  // <Key>, in the order sent
  bool truncated = false;         // <IsTruncated>true</IsTruncated>: more pages follow
};
S3ListPage ParseListObjectsPage(std::string_view xml);

// The <Code> and <Message> of an S3 error body, each at most 200 bytes with
// control characters replaced by '?', empty when absent.
struct S3ErrorBody {
  std::string code;
  std::string message;
};
S3ErrorBody ParseS3Error(std::string_view xml);

}  // namespace photosearch
